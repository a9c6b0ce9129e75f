"""`litkb serve` in a real browser: Debian's Chromium driven through chromium-driver (Selenium) on the
shipped listing. Skips, saying why, where Chromium or its driver is absent. With LITKB_SCREENSHOTS=DIR it
also saves the screenshots the README and the docs show (docs/inbox.png, docs/search.png)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import ROOT, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
)
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(runner: CliRunner, loaded: Path) -> Iterator[tuple[str, Path]]:
    assert run(runner, loaded, "themes").exit_code == 0
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "litkb", "--kb", str(loaded), "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", loaded
    process.terminate()
    process.wait(10)


@pytest.fixture
def browser() -> Iterator:  # type: ignore[type-arg]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def record_of(kb: Path, title_start: str) -> dict:
    for path in (kb / "records").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if data["title"].startswith(title_start):
            return data
    raise AssertionError(title_start)


def test_search_open_like_read_tag_in_chromium(server: tuple[str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    import json

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, kb = server
    wait = WebDriverWait(browser, 15)
    shots = os.environ.get("LITKB_SCREENSHOTS")
    browser.get(base + "/")
    assert "Inbox" in browser.title
    if shots:
        browser.save_screenshot(str(Path(shots) / "inbox.png"))
    box = browser.find_element(By.ID, "quick-q")
    box.send_keys("speculative decoding")
    box.submit()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".paper")))
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".paper h3")][:3]
    assert any(t.startswith("Hydra") for t in titles) and any(
        t.startswith("Mirror Speculative") for t in titles
    )
    if shots:
        browser.save_screenshot(str(Path(shots) / "search.png"))
    # Mark another paper read from the results, in place (JavaScript on).
    rows = browser.find_elements(By.CSS_SELECTOR, ".paper")
    mirror = next(
        r for r in rows if r.find_element(By.CSS_SELECTOR, "h3").text.startswith("Mirror Speculative")
    )
    mirror.find_element(By.CSS_SELECTOR, "button.read").click()
    wait.until(lambda d: "done" in mirror.get_attribute("class"))
    # Open Hydra, like it, tag it.
    browser.find_element(By.PARTIAL_LINK_TEXT, "Hydra").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".record")))
    browser.find_element(By.CSS_SELECTOR, ".record button.like").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".record .rating").text == "like")
    field = browser.find_element(By.ID, "add-tag")
    field.send_keys("drafting")
    browser.find_element(By.CSS_SELECTOR, ".record .tagform button").click()
    wait.until(lambda d: record_of(kb, "Hydra")["tags"] == ["drafting"])
    hydra, mirror_record = record_of(kb, "Hydra"), record_of(kb, "Mirror Speculative")
    assert hydra["rating"] == "like" and hydra["tags"] == ["drafting"]
    assert mirror_record["status"] == "read"
    # Keyboard triage on the inbox: j selects the first paper, l likes it.
    browser.get(base + "/")
    first = browser.find_element(By.CSS_SELECTOR, ".paper")
    title = first.find_element(By.CSS_SELECTOR, "h3").text
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    body.send_keys("l")
    wait.until(lambda d: record_of(kb, title)["rating"] == "like")
    # No console errors, and no request to any origin but the server's.
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert urls and all(u.startswith(base) or u.startswith("data:") for u in urls), [
        u for u in urls if not u.startswith(base)
    ]


def test_keyboard_triage_moves_on_after_like_and_read(server: tuple[str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    """`l` and `r` mark the selected paper and select the next one, so triage is one key a paper."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, kb = server
    wait = WebDriverWait(browser, 15)
    browser.get(base + "/")
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-triage] .paper")
    titles = [r.find_element(By.CSS_SELECTOR, "h3").text for r in rows[:4]]

    def current() -> list[int]:
        return [i for i, r in enumerate(rows) if "current" in (r.get_attribute("class") or "").split()]

    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    assert current() == [0]
    body.send_keys("l")
    assert current() == [1]
    assert browser.switch_to.active_element == rows[1]  # focus follows, so the next key acts there
    browser.switch_to.active_element.send_keys("r")
    assert current() == [2]
    browser.switch_to.active_element.send_keys("d")
    assert current() == [3]
    wait.until(lambda d: record_of(kb, titles[0])["rating"] == "like")
    wait.until(lambda d: record_of(kb, titles[1])["status"] == "read")
    wait.until(lambda d: record_of(kb, titles[2])["rating"] == "dislike")
    wait.until(lambda d: all("done" in (r.get_attribute("class") or "") for r in rows[:3]))
    assert record_of(kb, titles[3])["rating"] is None and record_of(kb, titles[3])["status"] is None
    # On the last paper a mark keeps the selection there.
    browser.switch_to.active_element.send_keys("k")
    for _ in range(len(rows)):
        browser.switch_to.active_element.send_keys("j")
    assert current() == [len(rows) - 1]
    browser.switch_to.active_element.send_keys("l")
    assert current() == [len(rows) - 1]
    last = rows[-1].find_element(By.CSS_SELECTOR, "h3").text
    wait.until(lambda d: record_of(kb, last)["rating"] == "like")


def test_nothing_overflows_a_400_pixel_screen(server: tuple[str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    """At 400 CSS pixels wide (a phone) no page scrolls sideways: the theme menu, whose options are
    the themes' labels, shrinks to the screen. With LITKB_SCREENSHOTS=DIR the inbox is saved as
    inbox-400.png."""
    from selenium.webdriver.common.by import By

    base, kb = server
    themes_file = kb / "themes.yaml"
    saved = yaml.safe_load(themes_file.read_text(encoding="utf-8"))
    saved["themes"][0]["label"] = (
        "reinforcement learning from human feedback, reward models, preference optimisation"
    )
    themes_file.write_text(yaml.safe_dump(saved, sort_keys=False), encoding="utf-8")
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    hydra = record_of(kb, "Hydra")["id"]
    pages = ["/", "/search?q=speculative+decoding", f"/paper/{hydra}", "/themes", "/reading", "/papers"]
    for path in pages:
        browser.get(base + path)
        width = browser.execute_script("return document.documentElement.clientWidth")
        assert browser.execute_script("return window.innerWidth") == 400
        if path == "/":
            menu = browser.find_element(By.CSS_SELECTOR, "select[name=theme]")
            assert "preference optimisation" in menu.text  # the long label is there to overflow
            assert menu.rect["x"] + menu.rect["width"] <= width
            shots = os.environ.get("LITKB_SCREENSHOTS")
            if shots:
                browser.save_screenshot(str(Path(shots) / "inbox-400.png"))
        wide = browser.execute_script(
            "var w = document.documentElement.clientWidth;"
            "return Array.from(document.querySelectorAll('body *'))"
            ".filter(function (e) { return e.getBoundingClientRect().right > w + 0.5; })"
            ".map(function (e) { return e.tagName + '.' + e.className; });"
        )
        assert not wide, (path, wide)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width, path
