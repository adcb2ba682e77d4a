"""A camera's live view in the console (docs/console.md, web/js/console/camera.js) in headless
Chromium.

A real RTSP camera (GStreamer's gst-rtsp-server, H.264 320×240, Digest authentication) is put in
the directory with its `rtsp_url`; once the relay says it is online, the camera reports an
incident. The chair opens that incident in the console and presses *Xem trực tiếp*: the camera's
WHEP stream plays in the incident panel (320 pixels wide, its time advancing). On the map the
camera's icon is marked online; clicking it plays the camera in the map's pane and ends the
incident panel's session (one camera at a time); closing it ends that session too, and *Xem trực
tiếp* plays it again. The RTSP server is killed: the player and the icon say the camera is offline
and why. Screenshots go to artifacts/interop/console-camera-*.png.
"""

from __future__ import annotations

import os
import signal

import pytest
import requests

from conftest import free_port, unique_stream, wait_for
from test_camera_rtsp import CAMERA, camera, camera_server, rtsp_server  # noqa: F401 - camera_server is a fixture
from test_console_chromium import INSIDE_PHUOC_THAI, click, incident, post, sign_in, wait_js
from test_whip_whep_chromium import MEDIA_TIMEOUT, chromium, screenshot  # noqa: F401 - chromium is a fixture

pytestmark = [pytest.mark.chromium, pytest.mark.media]

WAIT_S = 10
# The relay pulls a camera every GIAOBAN_CAMERAS_CHECK_S (1 s here) and retries with a backoff
# starting at 1 s: online within seconds, offline within a few after the RTSP server dies.
CAMERA_S = 30
# conf/province.json: xa-phuoc-thai covers 106.80–106.86 E, 10.80–10.86 N.
CAMERA_AT = {"lat": 10.825, "lon": 106.85}


def video(page, pane: str) -> dict | None:
    """The camera video in `pane` (an element id): its size, time and the status line's state."""
    return page.execute_script("""const pane = document.getElementById(arguments[0]);
        const v = pane.querySelector('video.camera-video'); const s = pane.querySelector('.camera-status');
        return v && {width: v.videoWidth, height: v.videoHeight, time: v.currentTime, muted: v.muted,
                     camera: v.dataset.cameraId, state: s && s.dataset.state, text: s && s.textContent};""", pane)


def wait_playing(page, pane: str) -> dict:
    """Waits until the camera in `pane` decodes 320×240 and its time advances by a second."""
    wait_js(page, f"""const v = document.querySelector('#{pane} video.camera-video');
        return v && v.videoWidth === 320 && v.videoHeight === 240""", MEDIA_TIMEOUT, f"the camera decoding in #{pane}")
    start = video(page, pane)["time"]
    wait_js(page, f"return document.querySelector('#{pane} video.camera-video').currentTime > {start + 1.0}",
            WAIT_S, f"the camera's time advancing in #{pane}")
    wait_js(page, f"return document.querySelector('#{pane} .camera-status').dataset.state === 'playing'", WAIT_S,
            f"the status line of #{pane} saying playing")
    return video(page, pane)


def icon(page, camera_id: str) -> dict:
    return page.execute_script("""const el = document.querySelector(`#map-svg .map-camera[data-camera-id="${arguments[0]}"]`);
        return {state: el.dataset.state, classes: el.getAttribute('class'), label: el.getAttribute('aria-label')};""", camera_id)


def test_incident_camera_plays_in_the_incident_and_on_the_map(camera_server, chromium, artifacts):  # noqa: F811
    server = camera_server
    admin = {"Authorization": f"Bearer {server.token('quan-tri', 'admin')}"}
    port = free_port()
    rtsp = rtsp_server(port)
    page = chromium()
    try:
        # The camera stands in xa-phuoc-thai, 2 km east of its incident (the pin does not cover
        # the icon); the incident is routed to that commune.
        put = requests.put(server.url(f"/api/cameras/{CAMERA}"), headers=admin, timeout=10, json={
            "name": "QL1A Km1836", "location": CAMERA_AT, "road": "QL1A", "km": 1836,
            "rtsp_url": f"rtsp://127.0.0.1:{port}/camera"})
        assert put.status_code in (200, 201), put.text
        wait_for(lambda: camera(server, admin)["state"] == "online", CAMERA_S, what="the camera to be online")

        body = incident(unique_stream("camera-live"), severity="Severe")
        body["location"] = INSIDE_PHUOC_THAI
        posted = post(server, "/api/incidents", server.token(CAMERA, "camera"), body)
        assert posted.status_code == 201, posted.text
        assert "xa-phuoc-thai" in posted.json()["recipients"], posted.json()
        number = posted.json()["id"]

        sign_in(page, server, server.token("chi-huy-camera", "chair"))
        click(page, "#tab-incidents")
        row = f'#incident-list li[data-incident-id="{number}"] button'
        wait_js(page, f"return document.querySelector('{row}')", WAIT_S, "the camera's incident in the list")
        click(page, row)
        watch = f'#incident-detail button[data-action="camera-watch"][data-subject="{CAMERA}"]'
        wait_js(page, f"return document.querySelector('{watch}')", WAIT_S, "the Watch live button")
        assert page.find_element("css selector", watch).text == "Xem trực tiếp"
        click(page, watch)
        playing = wait_playing(page, "incident-detail")
        assert playing["muted"] and playing["camera"] == CAMERA, playing
        assert playing["text"] == "Đang phát trực tiếp.", playing
        watching = server.metrics().get("giaoban_peers")  # the camera's own source and this one watcher
        screenshot(page, artifacts, "console-camera-incident")

        # The map: the icon says online; a click plays the camera in the map's pane and ends the
        # incident panel's session (one camera at a time).
        click(page, "#tab-map")
        wait_js(page, "return document.getElementById('map-svg').dataset.loaded === 'true'", WAIT_S, "the map loaded")
        wait_js(page, f"return document.querySelector('#map-svg .map-camera[data-camera-id=\"{CAMERA}\"]').dataset.state === 'online'",
                WAIT_S, "the camera's icon marked online")
        marked = icon(page, CAMERA)
        assert "online" in marked["classes"].split() and "đang có hình" in marked["label"], marked
        assert icon(page, "cam-ql51-km24")["state"] == "none", icon(page, "cam-ql51-km24")
        click(page, f'#map-svg .map-camera[data-camera-id="{CAMERA}"]')
        wait_playing(page, "map-detail")
        assert video(page, "incident-detail") is None, "the incident panel still plays the camera"
        assert page.execute_script(f"return !!document.querySelector('{watch}')"), "the incident panel has no Watch live button again"
        wait_for(lambda: server.metrics().get("giaoban_peers") == watching, WAIT_S, what="the incident panel's WHEP session ended")
        screenshot(page, artifacts, "console-camera-map")

        # Closing the player ends its WHEP session (DELETE on the Location); Watch live plays it again.
        click(page, f'#map-detail button[data-action="camera-close"][data-subject="{CAMERA}"]')
        wait_js(page, "return !document.querySelector('#map-detail video')", WAIT_S, "the player closed")
        wait_for(lambda: server.metrics().get("giaoban_peers") == watching - 1, WAIT_S, what="the WHEP session ended on the relay")
        click(page, f'#map-detail button[data-action="camera-watch"][data-subject="{CAMERA}"]')
        wait_playing(page, "map-detail")

        # The RTSP server dies: the player and the icon say the camera is offline, with the reason.
        os.killpg(rtsp.pid, signal.SIGKILL)
        rtsp.wait(10)
        wait_js(page, "return document.querySelector('#map-detail .camera-status').dataset.state === 'offline'", CAMERA_S,
                "the player saying the camera is offline")
        line = video(page, "map-detail")["text"]
        assert line.startswith("Camera mất tín hiệu: ") and len(line) > len("Camera mất tín hiệu: "), line
        wait_js(page, f"return document.querySelector('#map-svg .map-camera[data-camera-id=\"{CAMERA}\"]').classList.contains('offline')",
                CAMERA_S, "the camera's icon marked offline")
        assert "mất tín hiệu" in icon(page, CAMERA)["label"], icon(page, CAMERA)
        screenshot(page, artifacts, "console-camera-offline")
    finally:
        screenshot(page, artifacts, "console-camera-end")
        if rtsp.poll() is None:
            os.killpg(rtsp.pid, signal.SIGTERM)
            rtsp.wait(10)
