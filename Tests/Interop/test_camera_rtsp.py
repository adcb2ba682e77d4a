"""Live traffic cameras (docs/cameras.md): a real RTSP camera — GStreamer's gst-rtsp-server
with x264, Digest authentication — is added to the directory with its `rtsp_url`, its
credentials in `cameras.secrets_file`; the relay pulls it and headless Chromium decodes it over
WHEP at /whep/camera/<id> (H.264 passed through, no transcoding). The RTSP server is killed and
started again: the camera goes offline and comes back by itself, and the same Chromium watcher
decodes again. The password never reaches the log; a URL with credentials is refused. The
chair puts the camera into a meeting, where aiortc decodes it on its downlink."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from conftest import HERE, Giaoban, free_port, run_async, running, wait_for
from test_downlink_aiortc import DownlinkReceiver, RoomSocket, create_meeting, room_url
from test_whip_whep_chromium import (  # noqa: F401 - chromium is a fixture
    MEDIA_TIMEOUT, chromium, describe, screenshot, stats, wait_page,
)

pytestmark = [pytest.mark.chromium, pytest.mark.media]

USER, PASSWORD = "quan-sat", "mat-khau-camera-Km1836"
CAMERA = "cam-ql1a-km1836"


def rtsp_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["/usr/bin/python3", str(HERE / "tools" / "rtsp_server.py"), str(port), USER, PASSWORD, "digest"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        pytest.fail(f"the RTSP server did not start: {line!r} {proc.stderr.read()[-400:]}")
    return proc


@pytest.fixture()
def camera_server(request):
    workdir = Path(tempfile.mkdtemp(prefix="giaoban-camera-"))
    secrets = workdir / "camera-secrets.json"
    secrets.write_text(json.dumps({CAMERA: {"username": USER, "password": PASSWORD}}))
    os.chmod(secrets, 0o600)
    server = Giaoban("camera", workdir)
    server.extra_env.update(GIAOBAN_CAMERAS_SECRETS_FILE=str(secrets), GIAOBAN_CAMERAS_CHECK_S="1")
    with running(request, server) as started:
        yield started


def camera(server: Giaoban, admin: dict) -> dict:
    answer = requests.get(server.url(f"/api/cameras/{CAMERA}"), headers=admin, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_rtsp_camera_decoded_by_chromium_over_whep_and_back_after_a_restart(camera_server, chromium, artifacts):
    server = camera_server
    admin = {"Authorization": f"Bearer {server.token('quan-tri', 'admin')}"}
    port = free_port()
    refused = requests.put(server.url(f"/api/cameras/{CAMERA}"), headers=admin, timeout=10, json={
        "name": "QL1A Km1836", "location": {"lat": 10.85, "lon": 106.85}, "rtsp_url": f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/camera"})
    assert refused.status_code == 400 and "secrets_file" in refused.text, refused.text
    rtsp = rtsp_server(port)
    try:
        put = requests.put(server.url(f"/api/cameras/{CAMERA}"), headers=admin, timeout=10, json={
            "name": "QL1A Km1836", "location": {"lat": 10.85, "lon": 106.85}, "road": "QL1A", "km": 1836,
            "rtsp_url": f"rtsp://127.0.0.1:{port}/camera"})
        assert put.status_code in (200, 201), put.text
        assert put.json()["stream"] == f"/whep/camera/{CAMERA}"
        wait_for(lambda: camera(server, admin)["state"] == "online", 20, what="the camera to be online")

        watcher = chromium()
        query = urllib.parse.urlencode({"stream": CAMERA, "endpoint": f"/whep/camera/{CAMERA}",
                                        "token": server.token("chi-huy", "chair")})
        watcher.get(server.url(f"/whep.html?{query}"))
        first = wait_page(watcher, lambda s: s.get("framesDecoded", 0) > 30, MEDIA_TIMEOUT, "Chromium decoding the camera")
        assert first["videoCodec"] == "video/H264", first
        assert (first["frameWidth"], first["frameHeight"]) == (320, 240), first
        metrics = server.metrics()
        assert metrics.get(f'giaoban_camera_online{{camera="{CAMERA}"}}') == 1, metrics
        # An incident the camera reports links its live stream.
        report = {"identifier": "CAM-1", "type": "Ùn tắc", "severity": "Moderate", "urgency": "Expected", "certainty": "Observed",
                  "location": {"lat": 10.85, "lon": 106.85}, "time": "2026-12-07T08:00:00+07:00", "text": "Ùn tắc tại Km1836"}
        posted = requests.post(server.url("/api/incidents"), json=report, timeout=10,
                               headers={"Authorization": f"Bearer {server.token(CAMERA, 'camera')}"})
        assert posted.status_code == 201, posted.text
        incident = requests.get(server.url(f"/api/incidents/{posted.json()['id']}"), headers=admin, timeout=10).json()
        assert incident["camera_stream"] == f"/whep/camera/{CAMERA}", incident

        os.killpg(rtsp.pid, signal.SIGKILL)
        rtsp.wait(10)
        wait_for(lambda: camera(server, admin)["state"] in ("offline", "connecting"), 20, what="the camera to go offline")
        rtsp = rtsp_server(port)
        wait_for(lambda: camera(server, admin)["state"] == "online", 40, what="the camera to come back online")
        before = stats(watcher).get("framesDecoded", 0)
        again = wait_page(watcher, lambda s: s.get("framesDecoded", 0) > before + 30, MEDIA_TIMEOUT,
                          "the same Chromium decoding the camera after the restart")
        print(json.dumps({"first": first, "after_restart": again}, sort_keys=True))
        screenshot(watcher, artifacts, "camera-rtsp-watcher")
        assert PASSWORD not in server.log_path.read_text(errors="replace"), "the camera's password is in the log"
    finally:
        os.killpg(rtsp.pid, signal.SIGTERM)
        rtsp.wait(10)


def test_the_chair_puts_the_camera_into_a_meeting_and_aiortc_decodes_it(camera_server):
    """The chair's `camera` message seats the camera as a participant that only publishes: in the
    roster (role camera), offered on a commune's downlink, decoded by aiortc (H.264); an id
    without a stream is refused; `camera` off takes it out."""
    server = camera_server
    admin = {"Authorization": f"Bearer {server.token('quan-tri', 'admin')}"}
    port = free_port()
    rtsp = rtsp_server(port)
    try:
        put = requests.put(server.url(f"/api/cameras/{CAMERA}"), headers=admin, timeout=10, json={
            "name": "QL1A Km1836", "location": {"lat": 10.85, "lon": 106.85}, "rtsp_url": f"rtsp://127.0.0.1:{port}/camera"})
        assert put.status_code in (200, 201), put.text
        wait_for(lambda: camera(server, admin)["state"] == "online", 20, what="the camera to be online")
        chair_token = server.token("chi-huy", "chair")
        meeting = create_meeting(server, chair_token, "Giao ban có camera")

        async def scenario() -> dict:
            chair = RoomSocket(room_url(server, meeting, chair_token), "chair")
            commune = RoomSocket(room_url(server, meeting, server.token("xa-phuoc-thai", "commune")), "commune")
            receiver = None
            try:
                await chair.open()
                await commune.open()
                refused = await chair.request({"type": "camera", "camera": "cam-unknown", "on": True}, "an unknown camera")
                assert refused and "no live stream" in refused["message"], refused
                assert await commune.request({"type": "camera", "camera": CAMERA, "on": True}, "a commune's camera") is not None
                await chair.send({"type": "camera", "camera": CAMERA, "on": True})
                roster = await chair.expect(lambda m: m["type"] == "roster" and any(
                    p["subject"] == CAMERA and p["role"] == "camera" and p["publishing"] for p in m["participants"]), 10, "the camera seated")
                receiver = DownlinkReceiver(commune)
                await receiver.watch_all()
                frames = await receiver.frames(CAMERA, 20, 25)
                start = len(chair.messages)
                await chair.send({"type": "camera", "camera": CAMERA, "on": False})
                await chair.expect(lambda m: m["type"] == "roster" and all(p["subject"] != CAMERA for p in m["participants"]),
                                   10, "the camera taken out", start)
                return {"frames": frames, "roster": [p["subject"] for p in roster["participants"]]}
            finally:
                if receiver:
                    await receiver.close()
                await commune.leave()
                await chair.leave()

        result = run_async(scenario(), 90)
        print(json.dumps(result))
        assert result["frames"] > 20
        rows = requests.get(server.url("/api/audit?action=room.camera"), headers=admin, timeout=10).json()["entries"]
        # Newest first: the chair's out and in, the commune's refused attempt.
        assert [(r["detail"], r["subject"], r["result"][:7]) for r in rows] == [
            ("out", "chi-huy", "ok"), ("in", "chi-huy", "ok"), ("in", "xa-phuoc-thai", "refused")], rows
    finally:
        os.killpg(rtsp.pid, signal.SIGTERM)
        rtsp.wait(10)
