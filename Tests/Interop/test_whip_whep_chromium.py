"""Headless Chromium (Debian's chromium + chromium-driver) publishing and watching through the relay.

The pages are the relay's own web/whip.html and web/whep.html; the tests read
window.giaobanStats() (getStats of the page's peer connection) and save screenshots to
artifacts/interop/.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse

import pytest

from conftest import run_async, unique_stream
from webrtc_client import BackgroundPublisher, WhepWatcher

pytestmark = [pytest.mark.chromium, pytest.mark.media]

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=760,720",
]
CONNECT_TIMEOUT = 20.0
MEDIA_TIMEOUT = 20.0
MIN_FRAMES = 30

STATS_SCRIPT = """
const done = arguments[arguments.length - 1];
if (!window.giaobanStats) { done(null); return; }
window.giaobanStats().then(done, (e) => done({ error: String(e) }));
"""


@pytest.fixture
def chromium():
    """Factory of Chromium sessions; every one is quit at teardown."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} is missing: scripts/test-interop.sh installs chromium and chromium-driver")
    drivers = []

    def make(extra_flags: tuple[str, ...] = ()):
        options = Options()
        options.binary_location = CHROMIUM
        for flag in FLAGS + list(extra_flags):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(10)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        try:
            driver.quit()
        except Exception:  # noqa: BLE001 - a browser that already died
            pass


def page_url(giaoban, page: str, stream: str, token: str) -> str:
    return giaoban.url(f"/{page}?" + urllib.parse.urlencode({"stream": stream, "token": token}))


def stats(driver) -> dict:
    return driver.execute_async_script(STATS_SCRIPT) or {}


def console(driver) -> str:
    try:
        return "\n".join(entry["message"] for entry in driver.get_log("browser"))
    except Exception:  # noqa: BLE001
        return "(console log unavailable)"


def describe(driver) -> str:
    try:
        status = driver.find_element("id", "status").text
    except Exception:  # noqa: BLE001
        status = "(no status element)"
    return f"page {driver.current_url}\nstatus: {status}\nconsole:\n{console(driver)}"


def wait_page(driver, predicate, timeout: float, what: str) -> dict:
    """Polls giaobanStats() until predicate holds; fails at once on a page error."""
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        last = stats(driver)
        if last.get("error"):
            pytest.fail(f"{what}: the page reports {last['error']!r}\n{describe(driver)}")
        if predicate(last):
            return last
        time.sleep(0.5)
    pytest.fail(f"{what}: not reached within {timeout:.0f} s, last stats {last}\n{describe(driver)}")


def connected(s: dict) -> bool:
    return s.get("state") == "connected"


def receiving(s: dict) -> bool:
    return s.get("framesDecoded", 0) > MIN_FRAMES and s.get("totalAudioEnergy", 0) > 0


def screenshot(driver, artifacts, name: str) -> None:
    driver.save_screenshot(str(artifacts / f"{name}.png"))


def test_chromium_publishes_chromium_watches(giaoban, chromium, artifacts):
    stream = unique_stream("chr")
    publisher, watcher = chromium(), chromium()
    try:
        publisher.get(page_url(giaoban, "whip.html", stream, giaoban.token("chair-c", "chair")))
        sent = wait_page(publisher, connected, CONNECT_TIMEOUT, "publisher page connected")
        watcher.get(page_url(giaoban, "whep.html", stream, giaoban.token("observer-c", "observer")))
        got = wait_page(watcher, receiving, MEDIA_TIMEOUT, "watcher page decoding video and audio")
        print(json.dumps({"publisher": sent, "watcher": got}, sort_keys=True))
        assert got["frameWidth"] > 0 and got["frameHeight"] > 0
    finally:
        screenshot(publisher, artifacts, "chromium-to-chromium-publisher")
        screenshot(watcher, artifacts, "chromium-to-chromium-watcher")


def test_aiortc_publishes_chromium_watches(giaoban, chromium, artifacts):
    stream = unique_stream("a2c")
    with BackgroundPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token("commune-c", "commune")):
        watcher = chromium()
        try:
            watcher.get(page_url(giaoban, "whep.html", stream, giaoban.token("observer-d", "observer")))
            got = wait_page(watcher, receiving, MEDIA_TIMEOUT, "watcher page decoding aiortc's media")
            print(json.dumps(got, sort_keys=True))
            assert (got["frameWidth"], got["frameHeight"]) == (320, 240), got
        finally:
            screenshot(watcher, artifacts, "aiortc-to-chromium-watcher")


def test_chromium_publishes_aiortc_watches(giaoban, chromium, artifacts):
    stream = unique_stream("c2a")
    publisher = chromium()
    try:
        publisher.get(page_url(giaoban, "whip.html", stream, giaoban.token("chair-e", "chair")))
        wait_page(publisher, connected, CONNECT_TIMEOUT, "publisher page connected")

        async def watch() -> dict:
            watcher = WhepWatcher(giaoban.url(f"/whep/{stream}"), giaoban.token("observer-e", "observer"))
            try:
                await watcher.start(connect_timeout=15)
                return await watcher.collect(6.0)
            finally:
                await watcher.close()

        summary = run_async(watch(), 40)
        print(json.dumps(summary, sort_keys=True))
        frames = summary["video_frames"]
        assert frames >= MIN_FRAMES, f"aiortc decoded {frames} frames of Chromium's camera: {summary}"
        # Chromium adapts its resolution to CPU and bandwidth; the fake camera is 640x480 at most.
        for size in summary["video_sizes"]:
            width, height = map(int, size.split("x"))
            assert 0 < width <= 640 and 0 < height <= 480, summary
        # The fake microphone beeps rather than plays a steady tone: ask only for sound.
        assert summary["audio_frames"] > 0 and summary["audio_rms"] > 0.001, summary
    finally:
        screenshot(publisher, artifacts, "chromium-to-aiortc-publisher")
