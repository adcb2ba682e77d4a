"""The console's province map (docs/console.md, web/js/console/map.js) in headless Chromium.

The map draws every commune and camera of the directory in SVG. A camera's incident shades the
communes it was routed to "unacknowledged" and drops a pin with the routing radius; the
communes' acknowledgements (REST, their own tokens) clear the shading one by one. A commune
holding an event socket (the `websockets` library) is shaded connected, and not once it
closes. Tab reaches a commune and Enter opens its details; arrow keys and + pan and zoom; a
camera opens its details. Screenshots go to artifacts/interop/console-map-*.png.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import requests

from conftest import unique_stream
from test_console_chromium import click, incident, post, sign_in, wait_js
from test_whip_whep_chromium import chromium, screenshot  # noqa: F401 - the fixture

pytestmark = [pytest.mark.chromium]

# conf/province.json: xa-an-phuoc covers 106.92–106.98 E, 10.80–10.86 N; this point lies 110 m
# from xa-long-phuoc (106.86–106.92 E), well inside the 1000 m routing radius, and 1 km from
# camera cam-ql51-km12 (10.835 N, 106.925 E).
NEAR_TWO_COMMUNES = {"lat": 10.84, "lon": 106.921}
WAIT_S = 10


def commune_state(page, commune: str) -> dict | None:
    return page.execute_script("""const el = document.querySelector(`#map-svg [data-commune-id="${arguments[0]}"]`);
        return el && {unacked: el.dataset.unacked, connected: el.dataset.connected, inMeeting: el.dataset.inMeeting,
                      state: el.dataset.state, classes: el.getAttribute('class'), label: el.getAttribute('aria-label')};""",
                               commune)


def shading(page) -> dict:
    """Every commune's `data-unacked` on the map, by id."""
    return page.execute_script("""return Object.fromEntries([...document.querySelectorAll('#map-svg [data-commune-id]')]
        .map(el => [el.dataset.communeId, el.dataset.unacked === 'true']));""")


def open_map(page, giaoban, token: str, lang: str | None = None) -> None:
    sign_in(page, giaoban, token, lang)
    click(page, "#tab-map")
    wait_js(page, "return document.getElementById('map-svg').dataset.loaded === 'true'", WAIT_S, "the map loaded")


class EventSocket:
    """A commune's event socket (GET /api/events) held open in a thread until the block ends."""

    def __init__(self, url: str):
        self.url, self.hello, self.error = url, threading.Event(), None
        self._stop = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),), daemon=True)

    async def _run(self):
        import websockets

        self._stop = asyncio.Event()
        try:
            async with websockets.connect(self.url, open_timeout=WAIT_S) as socket:
                await asyncio.wait_for(socket.recv(), WAIT_S)
                self.hello.set()
                await self._stop.wait()
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def __enter__(self):
        self._thread.start()
        assert self.hello.wait(WAIT_S), f"no hello on the event socket: {self.error}"
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the event socket did not close"


def test_map_draws_the_directory_and_follows_an_incident_and_its_acknowledgements(giaoban, chromium, artifacts):  # noqa: F811
    chair = giaoban.token("truc-ban-ban-do", "chair")
    camera = giaoban.token("cam-ql51-km12", "camera")
    page = chromium()
    try:
        open_map(page, giaoban, chair)
        headers = {"Authorization": f"Bearer {chair}"}
        communes = requests.get(giaoban.url("/api/communes"), headers=headers, timeout=10).json()["communes"]
        cameras = requests.get(giaoban.url("/api/cameras"), headers=headers, timeout=10).json()["cameras"]
        drawn = page.execute_script("""return [...document.querySelectorAll('#map-svg path.map-commune')].map(el => {
            const box = el.getBBox(); return {id: el.dataset.communeId, w: box.width, h: box.height, d: el.getAttribute('d').length}; });""")
        assert sorted(d["id"] for d in drawn) == sorted(c["id"] for c in communes)
        assert all(d["w"] > 10 and d["h"] > 10 and d["d"] > 0 for d in drawn), drawn
        icons = page.execute_script("return [...document.querySelectorAll('#map-svg .map-camera')].map(el => el.dataset.cameraId)")
        assert sorted(icons) == sorted(c["id"] for c in cameras)
        assert not any(shading(page).values()), shading(page)
        # Nothing from another site: the map is the directory drawn in the page.
        assert page.execute_script("""return performance.getEntriesByType('resource')
            .filter(r => !r.name.startsWith(location.origin)).map(r => r.name)""") == []

        body = incident(unique_stream("map"), severity="Extreme")
        body["location"] = NEAR_TWO_COMMUNES
        answer = post(giaoban, "/api/incidents", camera, body)
        assert answer.status_code == 201, answer.text
        number = answer.json()["id"]
        routed = sorted(r for r in answer.json()["recipients"] if r != "command")
        assert routed == ["xa-an-phuoc", "xa-long-phuoc"], routed
        expected = {c["id"]: c["id"] in routed for c in communes}
        wait_js(page, f"return document.querySelector('#map-svg .map-pin[data-incident-id=\"{number}\"]')", WAIT_S, "the pin")
        wait_js(page, """const s = arguments[0]; return Object.entries(s).every(([id, on]) =>
            document.querySelector(`#map-svg [data-commune-id="${id}"]`).dataset.unacked === String(on));""".replace(
            "arguments[0]", repr(expected).replace("True", "true").replace("False", "false")), WAIT_S,
            "the routed communes shaded unacknowledged")
        assert shading(page) == expected
        pin = page.execute_script(f"""const p = document.querySelector('#map-svg .map-pin[data-incident-id="{number}"]');
            const r = document.querySelector('#map-svg .map-radius[data-incident-id="{number}"]');
            return {{severity: p.dataset.severity, label: p.getAttribute('aria-label'), tab: p.getAttribute('tabindex'),
                     radius: Number(r.getAttribute('r'))}};""")
        assert pin["severity"] == "Extreme" and pin["tab"] == "0" and f"#{number}" in pin["label"], pin
        assert pin["radius"] > 0, pin
        state = commune_state(page, routed[0])
        assert "unacked" in state["classes"].split() and state["state"] == "unacked", state
        assert "chưa xác nhận" in state["label"], state
        screenshot(page, artifacts, "console-map-incident")

        for done, commune in enumerate(routed, start=1):
            ack = post(giaoban, f"/api/incidents/{number}/ack", giaoban.token(commune, "commune"), {})
            assert ack.status_code == 200, ack.text
            wait_js(page, f"return document.querySelector('#map-svg [data-commune-id=\"{commune}\"]').dataset.unacked === 'false'",
                    WAIT_S, f"{commune}'s shading cleared after its acknowledgement")
            assert [c for c, on in shading(page).items() if on] == routed[done:]
        # The incident is open still (acknowledged): its pin stays.
        assert page.execute_script(f"return !!document.querySelector('#map-svg .map-pin[data-incident-id=\"{number}\"]')")
        screenshot(page, artifacts, "console-map-acknowledged")
    finally:
        screenshot(page, artifacts, "console-map-end")


def test_connected_commune_keyboard_pan_zoom_and_camera_details(giaoban, chromium, artifacts):  # noqa: F811
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    observer = giaoban.token("quan-sat-ban-do", "observer")
    page = chromium()
    try:
        open_map(page, giaoban, observer, "en")
        assert commune_state(page, "xa-bac-son")["connected"] == "false"
        url = giaoban.url("/api/events").replace("http://", "ws://") + "?access_token=" + giaoban.token("xa-bac-son", "commune")
        with EventSocket(url):
            wait_js(page, "return document.querySelector('#map-svg [data-commune-id=\"xa-bac-son\"]').dataset.connected === 'true'",
                    WAIT_S, "xa-bac-son shaded connected")
            state = commune_state(page, "xa-bac-son")
            assert "connected" in state["classes"].split() and "connected to the hub" in state["label"], state
            assert [c for c, s in [(c, commune_state(page, c)) for c in ("xa-long-hung", "xa-trang-bom")] if s["connected"] == "true"] == []
            screenshot(page, artifacts, "console-map-connected")
        wait_js(page, "return document.querySelector('#map-svg [data-commune-id=\"xa-bac-son\"]').dataset.connected === 'false'",
                WAIT_S, "xa-bac-son no longer connected after its socket closed")

        # Keyboard: from the zoom buttons, Tab reaches the map and then a commune; Enter opens it.
        page.find_element("id", "map-reset").click()
        focused = None
        for _ in range(6):
            ActionChains(page).send_keys(Keys.TAB).perform()
            focused = page.execute_script("const d = document.activeElement.dataset; return d.kind ? `${d.kind}:${d.id}` : null")
            if focused and focused.startswith("commune:"):
                break
        assert focused and focused.startswith("commune:"), f"Tab did not reach a commune (last focus {focused})"
        commune = focused.split(":", 1)[1]
        ActionChains(page).send_keys(Keys.ENTER).perform()
        wait_js(page, f"return document.getElementById('map-detail').dataset.showing === 'commune:{commune}'", WAIT_S,
                "the commune's details after Enter")
        name = page.execute_script(f"return document.querySelector('#map-svg [data-commune-id=\"{commune}\"]').getAttribute('aria-label')")
        detail = page.find_element("id", "map-detail").text
        assert commune in detail and name.split(":")[0] in detail and "not connected" in detail, detail

        # Arrow keys pan, + zooms, 0 shows the whole province again (the focus stays on the commune).
        box = page.execute_script("return document.getElementById('map-svg').getAttribute('viewBox')")
        ActionChains(page).send_keys(Keys.ARROW_RIGHT).perform()
        moved = page.execute_script("return document.getElementById('map-svg').getAttribute('viewBox')")
        assert moved != box and float(moved.split()[0]) > float(box.split()[0]), (box, moved)
        ActionChains(page).send_keys("+").perform()
        assert float(page.execute_script("return document.getElementById('map-svg').dataset.zoom")) > 1.2
        click(page, "#map-zoom-in")
        assert float(page.execute_script("return document.getElementById('map-svg').dataset.zoom")) > 1.8
        page.execute_script(f"document.querySelector('#map-svg [data-commune-id=\"{commune}\"]').focus()")
        ActionChains(page).send_keys("0").perform()
        assert page.execute_script("return document.getElementById('map-svg').dataset.zoom") == "1.00"

        # A camera icon opens the camera's details (openCamera in camera.js), by keyboard and by mouse.
        page.execute_script("document.querySelector('#map-svg .map-camera[data-camera-id=\"cam-ql1a-km1836\"]').focus()")
        ActionChains(page).send_keys(Keys.ENTER).perform()
        wait_js(page, "return document.getElementById('map-detail').dataset.showing === 'camera:cam-ql1a-km1836'", WAIT_S,
                "the camera's details after Enter")
        assert "QL1A" in page.find_element("id", "map-detail").text
        click(page, '#map-svg .map-camera[data-camera-id="cam-ql51-km24"]')
        wait_js(page, "return document.getElementById('map-detail').dataset.showing === 'camera:cam-ql51-km24'", WAIT_S,
                "the camera's details after a click")
        assert "live view" in page.find_element("id", "map-detail").text
        assert page.find_element("id", "tab-map").text == "Map"
    finally:
        screenshot(page, artifacts, "console-map-keyboard")


@pytest.mark.media
def test_commune_seated_in_the_consoles_meeting_is_shaded(giaoban, chromium, artifacts):  # noqa: F811
    from test_console_chromium import room_url
    from test_meeting_room_chromium import RoomPublisher

    chair = giaoban.token("chu-tri-ban-do", "chair")
    page = chromium()
    try:
        sign_in(page, giaoban, chair)
        page.find_element("id", "meeting-title").send_keys("Giao ban bản đồ")
        click(page, "#meeting-start")
        meeting = int(wait_js(page, "return document.getElementById('meeting-select').value", WAIT_S, "the new meeting"))
        wait_js(page, "return document.querySelector('#roster-table tr[data-subject=\"chu-tri-ban-do\"]')", WAIT_S,
                "the chair seated in the room")
        click(page, "#tab-map")
        wait_js(page, "return document.getElementById('map-svg').dataset.loaded === 'true'", WAIT_S, "the map loaded")
        assert commune_state(page, "xa-tam-an")["inMeeting"] == "false"
        with RoomPublisher(room_url(giaoban, meeting, giaoban.token("xa-tam-an", "commune"))) as publisher:
            assert publisher.answered.wait(20), f"no answer to the commune's publish: {publisher.error} {publisher.messages}"
            wait_js(page, "return document.querySelector('#map-svg [data-commune-id=\"xa-tam-an\"]').dataset.inMeeting === 'true'",
                    WAIT_S, "xa-tam-an shaded as in the meeting")
            state = commune_state(page, "xa-tam-an")
            assert "in-meeting" in state["classes"].split() and "đang trong cuộc họp" in state["label"], state
            assert [c for c in ("xa-phuoc-thai", "xa-bac-son") if commune_state(page, c)["inMeeting"] == "true"] == []
            screenshot(page, artifacts, "console-map-meeting")
        wait_js(page, "return document.querySelector('#map-svg [data-commune-id=\"xa-tam-an\"]').dataset.inMeeting === 'false'",
                WAIT_S, "xa-tam-an no longer in the meeting after it left")
    finally:
        screenshot(page, artifacts, "console-map-meeting-end")


def test_a_communes_map_shows_its_own_incident(giaoban, chromium, artifacts):  # noqa: F811
    commune = giaoban.token("xa-tam-phuoc", "commune")
    page = chromium()
    try:
        open_map(page, giaoban, commune, "en")
        body = incident(unique_stream("map-commune"), severity="Moderate")
        body["location"] = {"lat": 10.89, "lon": 107.01}  # the middle of xa-tam-phuoc
        answer = post(giaoban, "/api/incidents", giaoban.token("cam-ct01-km30", "camera"), body)
        assert answer.status_code == 201 and "xa-tam-phuoc" in answer.json()["recipients"], answer.text
        number = answer.json()["id"]
        wait_js(page, f"return document.querySelector('#map-svg .map-pin[data-incident-id=\"{number}\"][data-severity=\"Moderate\"]')",
                WAIT_S, "the pin on the commune's map")
        wait_js(page, "return document.querySelector('#map-svg [data-commune-id=\"xa-tam-phuoc\"]').dataset.unacked === 'true'",
                WAIT_S, "the commune's own shading")
        # A commune may not ask who is connected: its map does not, and shows no error.
        assert page.execute_script("return document.getElementById('map-status').textContent") == ""
        page.execute_script(f"document.querySelector('#map-svg .map-pin[data-incident-id=\"{number}\"]').focus()")
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(page).send_keys(Keys.ENTER).perform()
        wait_js(page, f"return document.getElementById('map-detail').dataset.showing === 'incident:{number}'", WAIT_S,
                "the incident's details after Enter")
        assert "Routing radius: 1000 m" in page.find_element("id", "map-detail").text
    finally:
        screenshot(page, artifacts, "console-map-commune")
