"""The one HTTP layer every online source uses (httpx).

- a timeout on every request, and a minimum interval between two requests to one host (arXiv asks for
  3 seconds);
- 429 and 503 are retried after the server's `Retry-After` (capped), other 5xx and network errors after a
  capped exponential backoff, MAX_TRIES tries in all;
- a host that cannot be connected to (refused, no route, name not found, connect timeout) is not asked
  again for the rest of the run: the requests it would have got are counted, and `notes()` says so in one
  line per host;
- a time limit for the whole run (`time_limit` seconds, 0: none): no request starts, and no wait runs,
  past it; the requests not made are counted and `notes()` says so;
- a User-Agent naming litkb and its version (and the mailto from config.yaml, for Crossref's polite pool);
- responses capped at MAX_BYTES; redirects followed only within the same service (scheme, host, port);
- an on-disk cache in the knowledge base (`.cache/http/`, derived, out of git): a response younger than
  the lifetime the caller gives is served from there, with no request; `refresh` skips it.

Every failure is a `FetchError` naming the service and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LitkbError, first_line
from ..fsutil import atomic_write_text
from ..models import Paper
from ..wording import plural

TIMEOUT = 30.0
MAX_TRIES = 4
BACKOFF = 1.0  # seconds before the second try; doubled each time, at most MAX_WAIT
MAX_WAIT = 60.0  # the longest wait litkb accepts (Retry-After included) before giving up
MAX_BYTES = 20 * 2**20
MAX_REDIRECTS = 5
TIME_LIMIT = 600.0  # seconds a whole fetch or enrich may take (`--time-limit`), unless told otherwise


@dataclass
class Fetched:
    """What a source gave: papers, warnings, the parts that failed, requests made."""

    papers: list[Paper] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    requests: int = 0  # made over the network (0: all from the cache)


class FetchError(LitkbError):
    """A service could not be reached or gave an unusable answer. `service` names it, `url` the request."""

    def __init__(self, message: str, service: str = "", url: str = "") -> None:
        super().__init__(message)
        self.service = service
        self.url = url


class NotAsked(FetchError):
    """A request not made: its host could not be reached earlier in the run, or the run's time limit
    passed. The sources do not list these one by one; `HttpClient.notes()` sums them up."""


@dataclass
class _Down:
    service: str
    problem: str
    skipped: int = 0


@dataclass
class HttpClient:
    """Requests for the online sources, with the cache in `cache_dir` (None: no cache)."""

    user_agent: str
    cache_dir: Path | None = None
    refresh: bool = False
    intervals: dict[str, float] = field(default_factory=dict)  # host -> minimum seconds between requests
    sleep: Callable[[float], None] | None = None  # time.sleep unless given
    requests: int = 0  # made over the network (not served from the cache)
    time_limit: float = 0.0  # seconds for the whole run, counted from the client's creation (0: none)
    _down: dict[str, _Down] = field(default_factory=dict)  # host -> why it is not asked again
    _late: int = 0  # requests not made because the time limit had passed
    _start: float = field(default_factory=time.monotonic)
    _last: dict[str, float] = field(default_factory=dict)
    _client: Any = None

    def get_text(self, service: str, url: str, lifetime: float, params: dict[str, Any] | None = None) -> str:
        """The body of GET `url` (with `params`), from the cache when it is younger than `lifetime`
        seconds (0: never cached)."""
        full = _with_params(url, params)
        cached = self._cached(full, lifetime)
        if cached is not None:
            return cached
        text = self._fetch(service, full)
        if lifetime > 0 and self.cache_dir is not None:
            self._store(full, text)
        return text

    def get_json(self, service: str, url: str, lifetime: float, params: dict[str, Any] | None = None) -> Any:
        full = _with_params(url, params)
        text = self.get_text(service, full, lifetime)
        try:
            return json.loads(text)
        except ValueError:
            self.forget(full)
            what = "an HTML page" if text.lstrip()[:1] == "<" else "malformed JSON"
            raise FetchError(
                f"{service}: {full} answered {what}, not JSON; try again later (or check the service's URL)",
                service,
                full,
            ) from None

    def get_file(
        self, service: str, url: str, lifetime: float, content_type: str, max_bytes: int | None = None
    ) -> Path:
        """GET `url` into the cache (`<key>.<type>`, the bytes as sent) and return the cached file's path;
        served from there when younger than `lifetime`. The answer must be of `content_type` (say,
        application/pdf: an HTML error page is refused) and at most `max_bytes`."""
        if self.cache_dir is None:
            raise FetchError(f"{service}: no cache folder to download {url} into", service, url)
        target = self.cache_dir / f"{_key(url)}.{content_type.rpartition('/')[2]}"
        if not self.refresh and target.is_file() and time.time() - target.stat().st_mtime <= lifetime:
            return target
        headers, body, current = self._fetch_body(service, url, max_bytes)
        sent = headers.get("content-type", "").split(";")[0].strip().lower()
        if sent != content_type:
            raise FetchError(
                f"{service}: {current} answered {sent or 'no content type'}, not {content_type}", service, url
            )
        temp = target.with_name(f".{target.name}.tmp")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(body)
            os.replace(temp, target)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise FetchError(f"{service}: cannot save {url}: {exc.strerror or exc}", service, url) from exc
        return target

    def forget(self, url: str) -> None:
        """Drop a cached response (one that turned out unusable)."""
        if self.cache_dir is not None:
            (self.cache_dir / f"{_key(url)}.json").unlink(missing_ok=True)

    def notes(self) -> list[str]:
        """One line for each host not asked again after a failed connection, and one for the time limit
        when it stopped the run: what went wrong and how many requests were not made."""
        out = [
            f"{down.service}: cannot connect to {host} ({down.problem}); not asked again in this run "
            f"({plural(down.skipped, 'more request')} not made); check the network and run the command again"
            for host, down in self._down.items()
        ]
        if self._late:
            out.append(
                f"stopped at the time limit ({self.time_limit:g} s, --time-limit): "
                f"{plural(self._late, 'request')} not made; run the command again to go on (the cache keeps "
                "what was fetched)"
            )
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- the network -----------------------------------------------------------------------------

    def _fetch(self, service: str, url: str) -> str:
        headers, body, current = self._fetch_body(service, url)
        try:
            return body.decode(_charset(headers))
        except (UnicodeDecodeError, LookupError) as exc:
            raise FetchError(f"{service}: {current} sent text that cannot be decoded ({exc})") from exc

    def _fetch_body(
        self, service: str, url: str, max_bytes: int | None = None
    ) -> tuple[dict[str, str], bytes, str]:
        """The headers and body of a 200 answer to GET `url` (redirects followed within the service,
        retries as the module says), and the address that answered."""
        import httpx

        if self._client is None:
            self._client = httpx.Client(
                timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": self.user_agent}
            )
        origin = _origin(url)
        current = url
        problem = ""
        for attempt in range(MAX_TRIES):
            redirects = 0
            while True:
                self._may_ask(service, current)
                self._wait_turn(service, current)
                self.requests += 1
                try:
                    status, headers, body = self._get(current, max_bytes)
                except FetchError as exc:
                    raise FetchError(f"{service}: {exc}", service, url) from None
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    host = urllib.parse.urlsplit(current).netloc
                    reason = "connect timeout" if isinstance(exc, httpx.ConnectTimeout) else first_line(exc)
                    self._down[host] = _Down(service, reason or type(exc).__name__)
                    raise NotAsked(f"{service}: cannot connect to {host} ({reason})", service, url) from None
                except httpx.TimeoutException:
                    problem, status, headers, body = "timed out", 0, {}, b""
                except httpx.HTTPError as exc:
                    problem, status, headers, body = f"cannot connect ({first_line(exc)})", 0, {}, b""
                if status in (301, 302, 303, 307, 308) and "location" in headers:
                    target = urllib.parse.urljoin(current, headers["location"])
                    redirects += 1
                    if _origin(target) != origin:
                        raise FetchError(
                            f"{service}: {current} redirected to another host ({_origin(target)}); not "
                            "followed (check the service's URL)",
                            service,
                            url,
                        )
                    if redirects > MAX_REDIRECTS:
                        raise FetchError(f"{service}: {url} redirects too many times", service, url)
                    current = target
                    continue
                break
            if status == 200:
                return headers, body, current
            if status and 400 <= status < 500 and status != 429:
                raise FetchError(f"{service}: {current} answered HTTP {status}{_what(status)}", service, url)
            if status:
                problem = f"answered HTTP {status}"
            if attempt + 1 < MAX_TRIES:
                wait = _retry_after(headers) if status in (429, 503) else None
                self._pause(service, url, min(MAX_WAIT, wait if wait is not None else BACKOFF * 2**attempt))
        raise FetchError(
            f"{service}: {url} {problem} ({MAX_TRIES} tries); check the network and try again later "
            "(what was fetched is kept; the cache serves it on a re-run)",
            service,
            url,
        )

    def _get(self, url: str, max_bytes: int | None = None) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body of one GET, the body read up to `max_bytes`
        (default: MAX_BYTES)."""
        max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        with self._client.stream("GET", url, timeout=self._timeout()) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            if int(headers.get("content-length") or 0) > max_bytes:
                raise FetchError(f"{url}: the response is over {max_bytes:,} bytes; not read", url=url)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: the response is over {max_bytes:,} bytes; not read", url=url)
                chunks.append(chunk)
            return response.status_code, headers, b"".join(chunks)

    def _left(self) -> float | None:
        """Seconds left before the time limit (None: no limit)."""
        return self.time_limit - (time.monotonic() - self._start) if self.time_limit > 0 else None

    def _timeout(self) -> float:
        left = self._left()
        return TIMEOUT if left is None else max(0.001, min(TIMEOUT, left))

    def _may_ask(self, service: str, url: str) -> None:
        """Raise NotAsked (and count it) when `url`'s host failed to connect before, or time is up."""
        down = self._down.get(urllib.parse.urlsplit(url).netloc)
        if down is not None:
            down.skipped += 1
            raise NotAsked(f"{service}: not asked ({down.problem} before)", service, url)
        left = self._left()
        if left is not None and left <= 0:
            self._late += 1
            raise NotAsked(f"{service}: not asked (the time limit passed)", service, url)

    def _pause(self, service: str, url: str, seconds: float) -> None:
        left = self._left()
        if left is not None and seconds >= left:
            self._late += 1
            raise NotAsked(f"{service}: not asked (the time limit would pass while waiting)", service, url)
        (self.sleep or time.sleep)(seconds)

    def _wait_turn(self, service: str, url: str) -> None:
        host = urllib.parse.urlsplit(url).netloc
        interval = self.intervals.get(host, 0.0)
        last = self._last.get(host)
        if interval and last is not None:
            left = interval - (time.monotonic() - last)
            if left > 0:
                self._pause(service, url, left)
        self._last[host] = time.monotonic()

    # -- the cache -------------------------------------------------------------------------------

    def _cached(self, url: str, lifetime: float) -> str | None:
        if self.cache_dir is None or self.refresh or lifetime <= 0:
            return None
        try:
            entry = json.loads((self.cache_dir / f"{_key(url)}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("url") != url:
            return None
        if time.time() - float(entry.get("fetched", 0)) > lifetime:
            return None
        return str(entry.get("body", ""))

    def _store(self, url: str, text: str) -> None:
        assert self.cache_dir is not None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            entry = {"url": url, "fetched": time.time(), "body": text}
            atomic_write_text(self.cache_dir / f"{_key(url)}.json", json.dumps(entry))
        except (OSError, LitkbError):
            pass  # a cache that cannot be written only costs a request next time


def _key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _with_params(url: str, params: dict[str, Any] | None) -> str:
    if not params:
        return url
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _charset(headers: dict[str, str]) -> str:
    for part in headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def _retry_after(headers: dict[str, str]) -> float | None:
    """Seconds the server asks us to wait (a number of seconds, or an HTTP date)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _what(status: int) -> str:
    return {
        400: " (the request was refused: check the date or query)",
        404: " (not found)",
        403: " (refused)",
    }.get(status, "")
