"""The operations hub with third-party clients: the `websockets` library as a commune's
event socket (store and forward across a SIGKILL of the server), and real WHIP/WHEP
sessions (aiortc) recording a meeting's attendance."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import requests
import websockets

from conftest import Giaoban, run_async, wait_for
from test_incident_durability import start
from webrtc_client import WhepWatcher, WhipPublisher

# conf/province.json: xa-phuoc-thai covers 106.80–106.86 E, 10.80–10.86 N.
INSIDE_PHUOC_THAI = {"lat": 10.83, "lon": 106.83}


def report(identifier: str) -> dict:
    return {"identifier": identifier, "type": "Tai nạn giao thông", "severity": "Severe",
            "urgency": "Immediate", "certainty": "Observed", "location": INSIDE_PHUOC_THAI,
            "time": "2026-11-29T08:14:10+07:00", "text": "Va chạm liên hoàn"}


async def read_socket(url: str, count: int, confirm: bool) -> list[dict]:
    """Connects, reads `count` messages (each within 10 s), confirming incidents if asked."""
    messages: list[dict] = []
    async with websockets.connect(url, open_timeout=10) as socket:
        while len(messages) < count:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            messages.append(message)
            if confirm and message["type"] == "incident":
                await socket.send(json.dumps({"type": "delivered", "kind": "incident", "id": message["incident"]["id"]}))
        await asyncio.sleep(0.3)  # confirmations are written in batches every 20 ms
    return messages


@pytest.fixture()
def workdir():
    path = Path(tempfile.mkdtemp(prefix="giaoban-hub-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_incident_waits_for_an_offline_commune_across_a_server_kill(workdir, request):
    server = start("test_hub_store_and_forward", workdir, request)
    camera = server.token("cam-ql51-km24", "camera")
    commune = server.token("xa-phuoc-thai", "commune")
    resp = requests.post(server.url("/api/incidents"), json=report("sf-kill-1"),
                         headers={"Authorization": f"Bearer {camera}"}, timeout=10)
    assert resp.status_code == 201, resp.text
    incident_id = resp.json()["id"]
    assert "xa-phuoc-thai" in resp.json()["recipients"]

    # The commune was offline; the server dies without a shutdown.
    server.proc.kill()
    server.proc.wait(5)
    server.start()

    ws_url = server.url("/api/events").replace("http://", "ws://") + f"?access_token={commune}"
    first = run_async(read_socket(ws_url, 2, confirm=True), 30)
    assert first[0]["type"] == "hello" and first[0]["pending"] == 1, first[0]
    assert first[1]["type"] == "incident" and first[1]["incident"]["id"] == incident_id

    # Confirmed: the next connect has nothing pending.
    again = run_async(read_socket(ws_url, 1, confirm=False), 30)
    assert again[0]["pending"] == 0, again[0]

    chair = server.token("officer-1", "chair")
    rows = requests.get(server.url(f"/api/incidents/{incident_id}/deliveries"),
                        headers={"Authorization": f"Bearer {chair}"}, timeout=10).json()["rows"]
    mine = next(r for r in rows if r["recipient"] == "xa-phuoc-thai")
    assert mine["delivered_at"] is not None and mine["acknowledged_at"] is None

    # A malformed message is answered, not dropped.
    async def malformed() -> dict:
        async with websockets.connect(ws_url, open_timeout=10) as socket:
            await asyncio.wait_for(socket.recv(), 10)  # hello
            await socket.send("{not json")
            return json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert run_async(malformed(), 30)["type"] == "error"

    # A camera token cannot use the event socket: closed at once with 1008 and the reason.
    with pytest.raises(websockets.exceptions.ConnectionClosedError) as refused:
        run_async(read_socket(ws_url.replace(commune, camera), 1, confirm=False), 30)
    assert refused.value.rcvd.code == 1008
    assert "role 'camera' may not" in refused.value.rcvd.reason


@pytest.mark.media
def test_meeting_attendance_from_real_whip_and_whep_sessions(giaoban):
    chair = giaoban.token("officer-2", "chair")
    resp = requests.post(giaoban.url("/api/meetings"), headers={"Authorization": f"Bearer {chair}"},
                         json={"title": "Giao ban sáng", "scheduled_at": "2026-11-30T07:30:00+07:00"}, timeout=10)
    assert resp.status_code == 201, resp.text
    meeting = resp.json()
    room = meeting["room"]

    async def scenario() -> None:
        publisher = WhipPublisher(giaoban.url(f"/whip/{room}"), giaoban.token("xa-long-phuoc", "commune"))
        watcher = WhepWatcher(giaoban.url(f"/whep/{room}"), giaoban.token("officer-2", "chair"))
        try:
            await publisher.start(connect_timeout=15)
            await watcher.start(connect_timeout=15)
            await watcher.collect(1.0)
        finally:
            await watcher.close()
            await publisher.close()

    run_async(scenario(), 60)

    def roll_call() -> list[dict]:
        text = requests.get(giaoban.url(f"/api/meetings/{meeting['id']}/attendance.csv"),
                            headers={"Authorization": f"Bearer {chair}"}, timeout=10).text
        return list(csv.DictReader(io.StringIO(text)))

    wait_for(lambda: len(roll_call()) == 2 and all(r["left_at"] for r in roll_call()), 10,
             what="both sessions joined and left in the roll call")
    rows = roll_call()
    assert {(r["participant"], r["role"]) for r in rows} == {("xa-long-phuoc", "commune"), ("officer-2", "chair")}
