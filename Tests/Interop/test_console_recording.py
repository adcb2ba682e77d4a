"""The meeting's recording from the console (docs/console.md, docs/recording.md) in headless Chromium.

With `meetings.record = "on_request"`: the chair's console starts a meeting and presses *Ghi
hình*; the red indicator (*● Đang ghi hình*, a live region) appears for the chair, for a
commune's console in a second Chromium and on the participant page (room.html) of an observer
in a third; a `.webm` file grows under the recordings directory; *Dừng ghi* hides the indicator
everywhere, the server stops recording and signs the finished files into the manifest. A
commune has no start button. With `meetings.record = "off"` the chair's start shows the
server's refusal in the status line and no indicator.
Screenshots go to artifacts/interop/console-recording-*.png.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pytest
import requests

from conftest import Giaoban, running, wait_for
from test_console_chromium import click, describe, sign_in, wait_js
from test_whip_whep_chromium import chromium, screenshot  # noqa: F401 - the fixture

pytestmark = [pytest.mark.chromium, pytest.mark.media]

WAIT_S = 15
# A file exists once its stream's first keyframe arrived (asked for when recording starts).
FILE_WAIT_S = 30
INDICATOR_VI = "● Đang ghi hình"

# The console's indicator: its state, its visible text and whether it takes room on screen.
INDICATOR = """const el = document.getElementById('recording-indicator');
return {recording: el.dataset.recording, text: el.textContent, shown: el.offsetWidth > 10 && el.offsetHeight > 10,
        live: el.getAttribute('role') === 'status' && el.getAttribute('aria-live') === 'polite'};"""


@contextlib.contextmanager
def recording_server(request, mode: str):
    """A server with `meetings.record = mode` writing into its working directory's `recordings`."""
    workdir = Path(tempfile.mkdtemp(prefix="giaoban-console-recording-"))
    server = Giaoban(f"test_console_recording_{mode}", workdir)
    server.extra_env.update(GIAOBAN_MEETINGS_RECORD=mode, GIAOBAN_STORAGE_RECORDINGS_DIR=str(workdir / "recordings"))
    with running(request, server):
        wait_for(server.secret_file.exists, 5, what="the token secret")
        yield server


def start_meeting(page, server, title: str) -> int:
    """The chair's console starts a meeting now and is seated in it; returns its id."""
    page.find_element("id", "meeting-title").send_keys(title)
    click(page, "#meeting-start")
    meeting = int(wait_js(page, "return document.getElementById('meeting-select').value", WAIT_S, "the new meeting"))
    wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"chi-huy-ghi\"]')", WAIT_S,
            "the chair in the roster")
    wait_js(page, "return !document.getElementById('room-record').disabled", WAIT_S, "the recording button enabled")
    return meeting


def indicator(page) -> dict:
    return page.execute_script(INDICATOR)


def room_page_recording(page) -> str:
    return page.execute_script("const el = document.getElementById('recording');"
                               " return el ? `${el.dataset.recording}|${el.textContent}` : 'missing';")


def webm_files(server, meeting: int) -> list[Path]:
    directory = server.workdir / "recordings" / str(meeting)
    return sorted(p for p in directory.glob("*.webm") if p.stat().st_size > 0) if directory.is_dir() else []


def test_chair_starts_and_stops_recording_and_every_view_shows_it(chromium, artifacts, request):  # noqa: F811
    with recording_server(request, "on_request") as server:
        chair_token = server.token("chi-huy-ghi", "chair")
        chair, commune, observer = chromium(), chromium(), chromium()
        try:
            sign_in(chair, server, chair_token)
            meeting = start_meeting(chair, server, "Giao ban có ghi hình")
            assert chair.find_element("id", "room-record").is_displayed()
            assert chair.find_element("id", "room-record").text == "Ghi hình"
            assert indicator(chair)["recording"] == "false" and not indicator(chair)["shown"], indicator(chair)

            # A commune's console joins the same meeting: no start button for it.
            sign_in(commune, server, server.token("xa-ghi-hinh", "commune"))
            wait_js(commune, f"return [...document.getElementById('meeting-select').options].some(o => o.value === '{meeting}')",
                    WAIT_S, "the meeting in the commune's list")
            commune.execute_script(f"document.getElementById('meeting-select').value = '{meeting}'")
            click(commune, "#meeting-join")
            wait_js(commune, "return document.querySelector('#roster-table tr[data-subject=\"xa-ghi-hinh\"]')", WAIT_S,
                    "the commune seated")
            assert not commune.find_element("id", "room-record").is_displayed()

            # An observer on the participant page (room.html), watching only.
            observer.get(server.url(f"/room.html?meeting={meeting}&token={server.token('quan-sat-ghi', 'observer')}"))
            wait_js(observer, "return document.getElementById('roster').textContent.includes('xa-ghi-hinh')", WAIT_S,
                    "the room page's roster")
            assert room_page_recording(observer) == "false|", room_page_recording(observer)

            click(chair, "#room-record")
            for page, who in ((chair, "the chair"), (commune, "the commune")):
                state = wait_js(page, f"const s = (function() {{ {INDICATOR} }})(); return s.recording === 'true' && s.shown && s;",
                                WAIT_S, f"the recording indicator for {who}")
                assert state["text"] == INDICATOR_VI and state["live"], state
            wait_js(observer, f"return document.getElementById('recording').textContent === '{INDICATOR_VI}'", WAIT_S,
                    "the recording indicator on the room page")
            assert chair.find_element("id", "room-record").text == "Dừng ghi"
            assert chair.find_element("id", "room-record").get_attribute("aria-pressed") == "true"

            wait_for(lambda: webm_files(server, meeting), FILE_WAIT_S, interval=0.5, what="a .webm file in the recordings dir")
            chair_token_header = {"Authorization": f"Bearer {chair_token}"}
            listed = requests.get(server.url(f"/api/meetings/{meeting}/recordings"), headers=chair_token_header, timeout=10)
            assert listed.status_code == 200 and listed.json()["recording"] is True, listed.text
            screenshot(chair, artifacts, "console-recording-chair")
            screenshot(commune, artifacts, "console-recording-commune")
            screenshot(observer, artifacts, "console-recording-room-page")

            click(chair, "#room-record")
            for page, who in ((chair, "the chair"), (commune, "the commune")):
                state = wait_js(page, f"const s = (function() {{ {INDICATOR} }})(); return s.recording === 'false' && !s.shown && s;",
                                WAIT_S, f"the indicator gone for {who}")
                # What a screen reader hears: the stop, in a sentence hidden from sight.
                assert state["text"] == "Đã dừng ghi hình cuộc họp.", state
            wait_js(observer, "return document.getElementById('recording').dataset.recording === 'false'"
                              " && document.getElementById('recording').textContent === ''", WAIT_S,
                    "the indicator gone on the room page")
            assert chair.find_element("id", "room-record").text == "Ghi hình"

            # The server stopped: the files are finished and signed into the manifest.
            manifest = server.workdir / "recordings" / str(meeting) / "manifest.json"
            wait_for(manifest.exists, WAIT_S, what="the manifest of the finished recording")
            files = json.loads(manifest.read_text())["manifest"]["files"]
            assert {f["participant"] for f in files} >= {"chi-huy-ghi", "xa-ghi-hinh"}, files
            listed = requests.get(server.url(f"/api/meetings/{meeting}/recordings"), headers=chair_token_header, timeout=10)
            assert listed.json()["recording"] is False, listed.text
            screenshot(chair, artifacts, "console-recording-stopped")
        except BaseException:
            print(describe(chair))
            raise


def test_recording_off_shows_the_servers_refusal(chromium, artifacts, request):  # noqa: F811
    with recording_server(request, "off") as server:
        page = chromium()
        sign_in(page, server, server.token("chi-huy-ghi", "chair"), "en")
        start_meeting(page, server, "Briefing without recording")
        assert page.find_element("id", "room-record").text == "Start recording"
        click(page, "#room-record")
        text = wait_js(page, "const s = document.getElementById('meeting-status');"
                             " return s.dataset.kind === 'error' && s.textContent", WAIT_S, "the server's refusal")
        assert "recording is off on this server" in text, text
        assert indicator(page)["recording"] == "false" and not indicator(page)["shown"], indicator(page)
        assert not (server.workdir / "recordings").exists() or not any((server.workdir / "recordings").rglob("*.webm"))
        screenshot(page, artifacts, "console-recording-off")
