"""The guard every test runs under: connections beyond loopback fail, loopback works."""

from __future__ import annotations

import socket
import threading

import pytest

from tests import netguard


def test_non_loopback_connection_is_blocked_and_recorded() -> None:
    before = len(netguard.attempts)
    with pytest.raises(netguard.NetworkBlocked), socket.create_connection(("192.0.2.1", 80), timeout=1):
        pass
    with pytest.raises(OSError):
        socket.getaddrinfo("huggingface.co", 443)
    assert len(netguard.attempts) == before + 2
    del netguard.attempts[before:]  # this test made them on purpose


def test_loopback_still_works() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    thread = threading.Thread(target=lambda: server.accept()[0].sendall(b"ok"))
    thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        assert conn.recv(2) == b"ok"
    thread.join()
    server.close()
