"""The command-center console (web/console.html) in headless Chromium at 1366×768.

The chair signs in with a pasted token, starts a meeting and publishes Chromium's fake
camera; a commune (aiortc, over the room socket) joins and its video decodes in the grid;
the chair mutes it and the commune hears {"type": "muted"}; an incident posted through the
API appears in the list within a second; a briefing sent from the console shows the
commune's acknowledgement live. A commune signs in to its own view and acknowledges.
Screenshots go to artifacts/interop/console-*.png.
"""

from __future__ import annotations

import base64
import fractions
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pytest
import requests

from conftest import server_command, unique_stream
from test_incident_durability import start
from test_meeting_room_chromium import RoomPublisher
from test_whip_whep_chromium import chromium, console, screenshot  # noqa: F401 - the fixture

pytestmark = [pytest.mark.chromium, pytest.mark.media]

WIDTH, HEIGHT = 1366, 768
MIN_FRAMES = 30
# conf/province.json: xa-phuoc-thai covers 106.80–106.86 E, 10.80–10.86 N.
INSIDE_PHUOC_THAI = {"lat": 10.83, "lon": 106.83}
# Issue #9: a new incident shows in the list within a second of its POST. The margin covers
# the 50 ms polling of this test and a debug build on a shared machine.
LIVE_BUDGET_S = 1.0
LIVE_MARGIN_S = 0.5


# ---------------------------------------------------------------------------- helpers


def wait_js(page, script: str, timeout: float, what: str, interval: float = 0.05):
    """Polls a script's value until it is truthy; fails with the page's console after timeout."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = page.execute_script(script)
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what}: not reached within {timeout:.0f} s (last value {value!r})\n{describe(page)}")


def describe(page) -> str:
    texts = page.execute_script("""return [...document.querySelectorAll('[role=status],[role=alert]')]
        .map(e => `${e.id}: ${e.textContent}`).join('\\n')""")
    return f"page {page.current_url}\nstatus lines:\n{texts}\nconsole:\n{console(page)}"


def open_console(page, giaoban, lang: str | None = None) -> None:
    """Loads the console in a 1366×768 viewport (the window is larger by its own frame)."""
    page.set_window_size(WIDTH, HEIGHT)
    page.get(giaoban.url("/console.html" + (f"?lang={lang}" if lang else "")))
    inner = page.execute_script("return [window.innerWidth, window.innerHeight]")
    page.set_window_size(2 * WIDTH - inner[0], 2 * HEIGHT - inner[1])
    assert page.execute_script("return [window.innerWidth, window.innerHeight]") == [WIDTH, HEIGHT]


def sign_in(page, giaoban, token: str, lang: str | None = None) -> None:
    open_console(page, giaoban, lang)
    wait_js(page, "return !document.getElementById('signin').hidden", 10, "the sign-in form")
    page.find_element("id", "token").send_keys(token)
    page.find_element("css selector", "#signin-form button[type=submit]").click()
    wait_js(page, "return document.body.dataset.view", 10, "the console after sign-in")
    wait_js(page, "return document.getElementById('events-state').dataset.state === 'online'", 10, "the event socket")


def click(page, selector: str, attempts: int = 5) -> None:
    """Clicks the element; the views re-render on live messages, so a stale element is found again."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(attempts):
        try:
            page.find_element("css selector", selector).click()
            return
        except StaleElementReferenceException:
            if attempt == attempts - 1:
                raise


def post(giaoban, path: str, token: str, body: dict) -> requests.Response:
    return requests.post(giaoban.url(path), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def room_url(giaoban, meeting: int, token: str) -> str:
    return giaoban.url(f"/api/meetings/{meeting}/room").replace("http://", "ws://") + f"?access_token={token}"


def jpeg(width: int = 64, height: int = 48) -> bytes:
    """A small JPEG (FFmpeg's MJPEG encoder through PyAV)."""
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = width, height, "yuvj420p", fractions.Fraction(1, 25)
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, :, 0] = 200
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuvj420p")
    return b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None))


def incident(identifier: str, severity: str = "Severe", snapshot: bool = False) -> dict:
    body = {"identifier": identifier, "type": "Tai nạn giao thông", "severity": severity, "urgency": "Immediate",
            "certainty": "Observed", "location": INSIDE_PHUOC_THAI, "time": "2026-11-29T08:14:10+07:00",
            "text": f"Va chạm xe tải và xe khách ({identifier})"}
    if snapshot:
        body["snapshot"] = base64.b64encode(jpeg()).decode()
    return body


VIDEO_SCRIPT = """
const video = document.querySelector(`figure.tile[data-subject="${arguments[0]}"] video`);
if (!video) return null;
const quality = video.getVideoPlaybackQuality();
return {width: video.videoWidth, height: video.videoHeight, frames: quality.totalVideoFrames,
        dropped: quality.droppedVideoFrames, paused: video.paused};
"""


def wait_message(publisher: RoomPublisher, predicate, timeout: float, what: str) -> dict:
    """Waits for a room message the aiortc participant received that satisfies predicate."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((m for m in list(publisher.messages) if predicate(m)), None)
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"{what}: not received within {timeout:.0f} s; last messages {publisher.messages[-3:]}")


def entry(message: dict, subject: str) -> dict:
    """A participant's roster entry in a room message ({} if absent or not a roster)."""
    if message["type"] != "roster":
        return {}
    return next((p for p in message["participants"] if p["subject"] == subject), {})


def roster_row(page, subject: str) -> str | None:
    return page.execute_script(
        "const r = document.querySelector(`#roster-table tr[data-subject=\"${arguments[0]}\"]`); return r && r.textContent;",
        subject)


# ---------------------------------------------------------------------------- tests


def test_chair_meeting_with_a_commune_grid_roster_mute_and_roll_call(giaoban, chromium, artifacts):  # noqa: F811
    chair = giaoban.token("chi-huy-tinh", "chair")
    commune = giaoban.token("xa-phuoc-thai", "commune")
    page = chromium()
    try:
        sign_in(page, giaoban, chair)
        assert page.execute_script("return document.body.dataset.view") == "chair"
        assert "chi-huy-tinh" in page.find_element("id", "who").text
        page.find_element("id", "meeting-title").send_keys("Giao ban sáng thứ Hai")
        click(page, "#meeting-start")
        meeting = int(wait_js(page, "return document.getElementById('meeting-select').value", 10, "the new meeting"))
        assert "Giao ban sáng thứ Hai" in page.find_element("id", "meeting-select").text
        wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"chi-huy-tinh\"]')", 10,
                "the chair in the roster")

        with RoomPublisher(room_url(giaoban, meeting, commune)) as publisher:
            assert publisher.answered.wait(20), f"no answer to the commune's publish: {publisher.error} {publisher.messages}"
            wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"]')", 10,
                    "the commune in the roster")
            state = wait_js(page, f"""const s = (function() {{ {VIDEO_SCRIPT} }})(...arguments);
                                      return s && s.width > 0 && s.frames > {MIN_FRAMES} && s;""".replace("arguments[0]", "'xa-phuoc-thai'"),
                            30, "the commune's video decoding in the grid", interval=0.25)
            assert (state["width"], state["height"]) == (320, 240), state
            later = wait_js(page, f"const s = (function() {{ {VIDEO_SCRIPT} }})(); return s && s.frames > {state['frames']} && s;"
                            .replace("arguments[0]", "'xa-phuoc-thai'"), 5, "frames still decoding")
            assert later["frames"] > state["frames"]
            # The commune is the only other participant: it is shown large.
            assert page.execute_script("return document.querySelector('#stage-main figure').dataset.subject") == "xa-phuoc-thai"
            # Link quality: the relay's view of the commune's upstream (loss, jitter), every 2 s.
            row = wait_js(page, "const r = document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"]');"
                                " return r && r.textContent.includes('%') && r.textContent;", 8, "the commune's link quality")
            assert "0.0 %" in row, row

            # The chair's own camera went out through the room protocol.
            rosters = [m for m in publisher.messages if m["type"] == "roster"]
            assert any(p["subject"] == "chi-huy-tinh" and p["publishing"] for r in rosters for p in r["participants"]), rosters[-1:]

            click(page, 'button[data-action="mute"][data-subject="xa-phuoc-thai"]')
            muted = wait_message(publisher, lambda m: m["type"] == "muted", 10, "the commune told it is muted")
            assert muted == {"type": "muted", "muted": True, "by": "chi-huy-tinh"}, muted
            wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"] .badge.warn')", 5,
                    "the muted-by-chair state in the roster")
            assert page.find_element("css selector", 'button[data-action="mute"][data-subject="xa-phuoc-thai"]').text \
                == "Bật mic"

            # The commune mutes itself and raises its hand: the chair sees both and can ask it to
            # unmute (the relay cannot turn a microphone on) or lower the hand.
            publisher.send({"type": "mute", "audio": True})
            publisher.send({"type": "hand", "raised": True})
            wait_js(page, "return document.querySelector('button[data-action=\"ask-unmute\"][data-subject=\"xa-phuoc-thai\"]')"
                          " && document.querySelector('button[data-action=\"lower-hand\"][data-subject=\"xa-phuoc-thai\"]')",
                    5, "ask-to-unmute and lower-hand buttons for the commune")
            assert page.execute_script("return !!document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"] .badge.hand')")

            # Giving the floor releases the relay's mute, puts the commune in the spotlight, lowers
            # its hand and asks it to unmute.
            click(page, 'button[data-action="floor"][data-subject="xa-phuoc-thai"]')
            asked = wait_message(publisher, lambda m: m["type"] == "unmute_requested", 10, "the commune asked to unmute")
            assert asked == {"type": "unmute_requested", "by": "chi-huy-tinh"}, asked
            wait_js(page, "return !document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"] .badge.hand')", 5,
                    "the commune's hand lowered in the roster")
            wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"] .badge.spot')", 5,
                    "the commune in the spotlight")
            assert not page.execute_script(
                "return document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"] .badge.warn')")
            assert [m["muted"] for m in publisher.messages if m["type"] == "muted"] == [True, False], publisher.messages[-3:]
            rosters = [m for m in publisher.messages if m["type"] == "roster"]
            assert rosters[-1]["spotlight"] == "xa-phuoc-thai", rosters[-1]
            assert page.execute_script("return document.querySelector('#stage-main figure').dataset.subject") == "xa-phuoc-thai"

            click(page, "#rollcall")
            href = wait_js(page, "const a = document.getElementById('rollcall-link'); return !a.hidden && a.href", 10,
                           "the roll call download")
            assert href.startswith("blob:")
            text = page.execute_async_script(
                "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done, e => done(String(e)));",
                href)
            assert text.startswith("participant,role,joined_at,left_at,minutes"), text
            assert "chi-huy-tinh,chair" in text and "xa-phuoc-thai,commune" in text, text
            screenshot(page, artifacts, "console-chair-meeting")
            assert publisher.error is None, publisher.error

        wait_js(page, "return !document.querySelector('#roster-table tr[data-subject=\"xa-phuoc-thai\"]')", 10,
                "the commune leaving the roster")
        wait_js(page, "return !document.querySelector('figure.tile[data-subject=\"xa-phuoc-thai\"]')", 10,
                "the commune's tile removed")
    finally:
        screenshot(page, artifacts, "console-chair-meeting-end")


def test_incident_appears_live_with_recipients_acknowledgement_and_state(giaoban, chromium, artifacts):  # noqa: F811
    chair = giaoban.token("truc-ban", "chair")
    camera = giaoban.token("cam-ql51-km24", "camera")
    commune = giaoban.token("xa-phuoc-thai", "commune")
    page = chromium()
    try:
        sign_in(page, giaoban, chair)
        click(page, "#tab-incidents")
        identifier = unique_stream("live")
        started = time.monotonic()
        resp = post(giaoban, "/api/incidents", camera, incident(identifier, snapshot=True))
        assert resp.status_code == 201, resp.text
        incident_id = resp.json()["id"]
        selector = f'#incident-list li[data-incident-id="{incident_id}"]'
        wait_js(page, f"return document.querySelector('{selector}')", LIVE_BUDGET_S + 4, "the incident in the list",
                interval=0.02)
        elapsed = time.monotonic() - started
        print(json.dumps({"post_to_dom_s": round(elapsed, 3)}))
        assert elapsed <= LIVE_BUDGET_S + LIVE_MARGIN_S, f"the incident took {elapsed:.2f} s to appear"
        item = page.find_element("css selector", selector)
        assert "sev-Severe" in item.get_attribute("class")
        assert page.execute_script("return document.querySelector('#incident-list li').dataset.incidentId") == str(incident_id)
        wait_js(page, "return document.getElementById('announcer').textContent.includes(arguments[0])".replace(
            "arguments[0]", json.dumps(identifier)), 5, "the aria-live announcement")

        click(page, f"{selector} button")
        wait_js(page, "return document.querySelector('#incident-detail tr[data-recipient=\"xa-phuoc-thai\"]')", 10,
                "the communes notified")
        wait_js(page, "const i = document.querySelector('#incident-detail .snapshot img'); return i && i.complete && i.naturalWidth === 64",
                10, "the snapshot image")

        # The commune acknowledges through the API; the chair's table and state follow live.
        resp = requests.post(giaoban.url(f"/api/incidents/{incident_id}/ack"), headers={"Authorization": f"Bearer {commune}"},
                             timeout=10)
        assert resp.status_code == 200, resp.text
        row = wait_js(page, """const r = document.querySelector('#incident-detail tr[data-recipient="xa-phuoc-thai"]');
                               return r && r.cells[4].textContent === 'xa-phuoc-thai' && r.textContent;""", 5,
                      "the acknowledgement in the table")
        assert "xa-phuoc-thai" in row
        wait_js(page, f"return document.querySelector('{selector} .state-label').textContent === 'đã xác nhận'", 5,
                "the state acknowledged in the list")

        click(page, '#incident-detail button[data-action="state"][data-state="dispatched"]')
        wait_js(page, f"return document.querySelector('{selector} .state-label').textContent === 'đã điều lực lượng'", 5,
                "the state dispatched")
        events = requests.get(giaoban.url(f"/api/incidents/{incident_id}/events"), headers={"Authorization": f"Bearer {chair}"},
                              timeout=10).json()["events"]
        assert {"action": "state:dispatched", "actor": "truc-ban"}.items() <= events[-1].items(), events
        screenshot(page, artifacts, "console-incidents")
    finally:
        screenshot(page, artifacts, "console-incidents-end")


def test_briefing_sent_from_the_console_shows_the_communes_acknowledgement(giaoban, chromium, artifacts):  # noqa: F811
    chair = giaoban.token("chi-huy-tinh", "chair")
    commune = giaoban.token("xa-long-phuoc", "commune")
    page = chromium()
    try:
        sign_in(page, giaoban, chair)
        click(page, "#tab-briefings")
        title = f"Tăng cường tuần tra {unique_stream('b')}"
        page.find_element("id", "briefing-title").send_keys(title)
        page.find_element("id", "briefing-body").send_keys("Các xã bố trí lực lượng trực 24/24 dịp cuối tuần.")
        click(page, 'input[name="audience"][value="communes"]')
        click(page, '#audience-communes input[value="xa-long-phuoc"]')
        click(page, '#audience-communes input[value="xa-phuoc-thai"]')
        click(page, "#briefing-form button[type=submit]")
        rows = wait_js(page, "const t = document.getElementById('receipts-table'); return t && t.tBodies[0].rows.length", 10,
                       "the receipts table")
        assert rows == 2
        briefing_id = int(page.execute_script("return document.querySelector('#briefing-list li button[aria-current]')"
                                              ".parentElement.dataset.briefingId"))
        listed = requests.get(giaoban.url("/api/briefings"), headers={"Authorization": f"Bearer {chair}"}, timeout=10).json()
        sent = next(b for b in listed["briefings"] if b["id"] == briefing_id)
        assert sent["title"] == title, sent
        assert json.loads(sent["audience"]) == {"communes": ["xa-long-phuoc", "xa-phuoc-thai"]}, sent

        for step in ("read", "ack"):
            resp = requests.post(giaoban.url(f"/api/briefings/{briefing_id}/{step}"),
                                 headers={"Authorization": f"Bearer {commune}"}, timeout=10)
            assert resp.status_code == 200, resp.text
        row = wait_js(page, """const r = document.querySelector('#receipts-table tr[data-recipient="xa-long-phuoc"]');
                               return r && r.classList.contains('done') && [...r.cells].map(c => c.textContent);""", 5,
                      "the commune's acknowledgement in the receipts table")
        assert row[2] != "—" and row[3] != "—" and row[4] == "xa-long-phuoc", row
        other = page.execute_script("""return [...document.querySelector('#receipts-table tr[data-recipient="xa-phuoc-thai"]').cells]
                                       .map(c => c.textContent)""")
        assert other[3] == "—", other
        screenshot(page, artifacts, "console-briefings")
    finally:
        screenshot(page, artifacts, "console-briefings-end")


def test_commune_view_in_english_acknowledges_a_briefing_and_an_incident(giaoban, chromium, artifacts):  # noqa: F811
    chair = giaoban.token("chi-huy-tinh", "chair")
    camera = giaoban.token("cam-ql51-km24", "camera")
    commune = giaoban.token("xa-phuoc-thai", "commune")
    resp = post(giaoban, "/api/briefings", chair, {"title": "Phòng chống cháy rừng", "body": "Kiểm tra các điểm nóng.",
                                                   "priority": "flash", "audience": {"communes": ["xa-phuoc-thai"]}})
    assert resp.status_code == 201, resp.text
    briefing_id = resp.json()["id"]
    page = chromium()
    try:
        sign_in(page, giaoban, commune, lang="en")
        assert page.execute_script("return document.documentElement.lang") == "en"
        assert page.find_element("id", "tab-incidents").text.startswith("Incidents")
        # The chair's controls are not shown to a commune.
        assert not page.find_element("id", "mute-all").is_displayed()
        assert not page.find_element("id", "meeting-start").is_displayed()

        # Keyboard: the arrow keys move between the tabs.
        page.find_element("id", "tab-meeting").send_keys("\ue014")  # ArrowRight
        wait_js(page, "return document.activeElement.id === 'tab-incidents' && !document.getElementById('panel-incidents').hidden",
                5, "the incidents tab by keyboard")

        resp = post(giaoban, "/api/incidents", camera, incident(unique_stream("commune"), severity="Extreme"))
        assert resp.status_code == 201, resp.text
        incident_id = resp.json()["id"]
        selector = f'#incident-list li[data-incident-id="{incident_id}"]'
        wait_js(page, f"return document.querySelector('{selector}')", 5, "the incident routed to the commune")
        assert "sev-Extreme" in page.find_element("css selector", selector).get_attribute("class")
        click(page, f"{selector} button")
        click(page, '#incident-detail button[data-action="ack"]')
        wait_js(page, "return document.querySelector('#incident-detail button[data-action=\"ack\"]').disabled", 5,
                "the incident acknowledged")
        rows = requests.get(giaoban.url(f"/api/incidents/{incident_id}/deliveries"), headers={"Authorization": f"Bearer {chair}"},
                            timeout=10).json()["rows"]
        mine = next(r for r in rows if r["recipient"] == "xa-phuoc-thai")
        assert mine["acknowledged_by"] == "xa-phuoc-thai" and mine["delivered_at"] is not None, mine

        click(page, "#tab-briefings")
        item = f'#briefing-list li[data-briefing-id="{briefing_id}"] button'
        wait_js(page, f"return document.querySelector('{item}')", 5, "the briefing addressed to the commune")
        click(page, item)
        click(page, '#briefing-detail button[data-action="ack"]')
        wait_js(page, "return document.querySelector('#briefing-detail button[data-action=\"ack\"]').disabled", 5,
                "the briefing acknowledged")
        receipts = requests.get(giaoban.url(f"/api/briefings/{briefing_id}/receipts"),
                                headers={"Authorization": f"Bearer {chair}"}, timeout=10).json()["rows"]
        assert receipts[0]["acknowledged_by"] == "xa-phuoc-thai", receipts
        screenshot(page, artifacts, "console-commune")
    finally:
        screenshot(page, artifacts, "console-commune-end")


def test_a_forged_token_is_refused_by_the_server(giaoban, chromium, artifacts):  # noqa: F811
    header, payload, signature = giaoban.token("chi-huy-tinh", "chair").split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    page = chromium()
    open_console(page, giaoban, "en")
    wait_js(page, "return !document.getElementById('signin').hidden", 10, "the sign-in form")
    page.find_element("id", "token").send_keys(forged)
    click(page, "#signin-form button[type=submit]")
    message = wait_js(page, "return document.getElementById('signin-error').textContent", 10, "the refusal")
    assert message.startswith("The server refused the token: "), message
    assert page.execute_script("return document.body.dataset.view") is None
    assert page.execute_script("return sessionStorage.length") == 0
    screenshot(page, artifacts, "console-signin-refused")


def test_commune_joins_the_meeting_from_the_console_and_raises_a_hand(giaoban, chromium, artifacts):  # noqa: F811
    chair = giaoban.token("chi-huy-phong", "chair")
    resp = post(giaoban, "/api/meetings", chair, {"title": "Họp trực tuyến", "scheduled_at": "2026-11-30T07:30:00+07:00"})
    assert resp.status_code == 201, resp.text
    meeting = resp.json()["id"]
    with RoomPublisher(room_url(giaoban, meeting, chair)) as publisher:
        assert publisher.answered.wait(20), f"no answer to the chair's publish: {publisher.error} {publisher.messages}"
        page = chromium()
        try:
            sign_in(page, giaoban, giaoban.token("xa-tam-an", "commune"))
            assert page.execute_script("return document.body.dataset.view") == "commune"
            wait_js(page, f"return [...document.getElementById('meeting-select').options].some(o => o.value === '{meeting}')", 5,
                    "the meeting in the list")
            page.execute_script(f"document.getElementById('meeting-select').value = '{meeting}'")
            click(page, "#meeting-join")
            state = wait_js(page, f"""const s = (function() {{ {VIDEO_SCRIPT} }})();
                                      return s && s.width > 0 && s.frames > {MIN_FRAMES} && s;""".replace("arguments[0]", "'chi-huy-phong'"),
                            30, "the chair's video decoding on the commune's page", interval=0.25)
            assert (state["width"], state["height"]) == (320, 240), state
            # The chair sees the commune publish its camera, then raise its hand.
            wait_message(publisher, lambda m: entry(m, "xa-tam-an").get("publishing"), 20, "the commune publishing")
            assert not page.find_element("id", "mute-all").is_displayed()
            click(page, "#raise-hand")
            wait_message(publisher, lambda m: entry(m, "xa-tam-an").get("hand"), 5, "the commune's raised hand")
            assert page.find_element("id", "raise-hand").get_attribute("aria-pressed") == "true"
            wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"xa-tam-an\"] .badge.hand')", 5,
                    "the raised hand in the commune's roster")
            screenshot(page, artifacts, "console-commune-meeting")
            assert publisher.error is None, publisher.error
        finally:
            screenshot(page, artifacts, "console-commune-meeting-end")


def test_an_escalation_is_highlighted_live_and_after_a_reload(chromium, artifacts, request):  # noqa: F811
    workdir = Path(tempfile.mkdtemp(prefix="giaoban-console-"))
    server = start("test_console_escalation", workdir, request,
                   {"GIAOBAN_HUB_ACK_TIMEOUT_S": "1", "GIAOBAN_HUB_ESCALATION_CHECK_S": "1"})
    try:
        chair = server.token("truc-ban", "chair")
        page = chromium()
        sign_in(page, server, chair)
        click(page, "#tab-incidents")
        resp = post(server, "/api/incidents", server.token("cam-ql51-km24", "camera"), incident(unique_stream("esc")))
        assert resp.status_code == 201, resp.text
        incident_id = resp.json()["id"]
        selector = f'#incident-list li[data-incident-id="{incident_id}"]'
        wait_js(page, f"return document.querySelector('{selector}.escalated')", 10, "the escalation highlighted live")
        wait_js(page, "return document.getElementById('announcer').textContent.includes('#' + arguments[0])".replace(
            "arguments[0]", str(incident_id)), 5, "the escalation announced")
        screenshot(page, artifacts, "console-escalation")

        page.refresh()  # the token stays in sessionStorage: no new sign-in
        wait_js(page, "return document.body.dataset.view === 'chair'", 10, "the console after a reload")
        click(page, "#tab-incidents")
        wait_js(page, f"return document.querySelector('{selector}.escalated')", 10, "the escalation after a reload")
        click(page, f"{selector} button")
        wait_js(page, "return document.querySelector('#incident-detail tr.escalated[data-recipient=\"xa-phuoc-thai\"]')", 10,
                "the overdue commune highlighted in the table")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_chair_sees_an_endpoint_client_join_decode_and_hear_its_mute(giaoban, chromium, artifacts):  # noqa: F811
    """The commune is our own endpoint (`giaoban endpoint join`) over the documented room protocol."""
    chair = giaoban.token("chi-huy-ep", "chair")
    commune = giaoban.token("xa-ep-join", "commune")
    page = chromium()
    proc = None
    try:
        sign_in(page, giaoban, chair)
        page.find_element("id", "meeting-title").send_keys("Giao ban với trạm xã")
        click(page, "#meeting-start")
        # The server is shared with earlier tests: find the new meeting by its title, and wait
        # until the console has joined that one.
        meeting = int(wait_js(page, "const o = [...document.getElementById('meeting-select').options]"
                                    ".find((o) => o.textContent.includes('Giao ban với trạm xã')); return o && o.value",
                              10, "the new meeting"))
        wait_js(page, f"return document.getElementById('meeting-status').textContent.includes('#{meeting}')", 10,
                "the console in the new meeting")
        proc = subprocess.Popen(
            server_command() + ["endpoint", "join", "--server", giaoban.base_url, "--meeting", str(meeting), "--token", commune,
                                "--watch", "chair", "--duration", "30", "--width", "320", "--height", "240", "--fps", "15",
                                "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"xa-ep-join\"]')", 15,
                "the endpoint in the roster")
        state = wait_js(page, f"""const s = (function() {{ {VIDEO_SCRIPT} }})(...arguments);
                                  return s && s.width > 0 && s.frames > {MIN_FRAMES} && s;""".replace("arguments[0]", "'xa-ep-join'"),
                        30, "the endpoint's video decoding in the grid", interval=0.25)
        assert (state["width"], state["height"]) == (320, 240), state
        click(page, 'button[data-action="mute"][data-subject="xa-ep-join"]')
        wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"xa-ep-join\"] .badge.warn')", 5,
                "the muted-by-chair state in the roster")
        screenshot(page, artifacts, "console-endpoint-join")
        out, err = proc.communicate(timeout=70)
        assert proc.returncode == 0, err[-800:]
        summary = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(summary, sort_keys=True))
        assert summary["mutedByChair"] is True and summary["mutedEvents"] >= 1, summary
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        screenshot(page, artifacts, "console-endpoint-join-end")
