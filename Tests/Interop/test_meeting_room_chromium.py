"""A headless Chromium page joins a meeting room through the documented protocol
(docs/protocol.md, web/room.html) and decodes the chair's video; the chair is aiortc,
publishing over the same room socket."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.parse

import pytest
import requests
import websockets
from aiortc import RTCSessionDescription

from test_whip_whep_chromium import chromium, screenshot, wait_page  # noqa: F401 - the fixture
from webrtc_client import PatternVideoTrack, SineAudioTrack, new_peer_connection

pytestmark = [pytest.mark.chromium, pytest.mark.media]

MIN_FRAMES = 30


class RoomPublisher:
    """Joins a room as the chair on its own event loop thread and publishes aiortc's pattern
    and tone through `publish` on the room socket; keeps every message it receives."""

    def __init__(self, url: str, ssl=None) -> None:
        self.url = url
        self.ssl = ssl  # an SSLContext trusting the server's certificate, for wss://
        self.messages: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.answered = threading.Event()
        self.error: str | None = None
        self.stop_event: asyncio.Event | None = None

    async def _run(self) -> None:
        self.stop_event = asyncio.Event()
        pc = new_peer_connection()
        pc.addTransceiver(SineAudioTrack(), direction="sendonly")
        pc.addTransceiver(PatternVideoTrack(), direction="sendonly")
        try:
            async with websockets.connect(self.url, open_timeout=10, ssl=self.ssl) as socket:
                self.socket = socket
                await pc.setLocalDescription(await pc.createOffer())
                await socket.send(json.dumps({"type": "publish", "sdp": pc.localDescription.sdp}))
                receiver = asyncio.ensure_future(socket.recv())
                stopper = asyncio.ensure_future(self.stop_event.wait())
                while not self.stop_event.is_set():
                    done, _ = await asyncio.wait({receiver, stopper}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
                    if receiver not in done:
                        break
                    message = json.loads(receiver.result())
                    self.messages.append(message)
                    if message["type"] == "answer":
                        await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
                        self.answered.set()
                    elif message["type"] == "error":
                        self.error = message["message"]
                    receiver = asyncio.ensure_future(socket.recv())
                receiver.cancel()
                stopper.cancel()
                # Leaving on purpose gives the seat up at once (a dropped socket keeps it a while).
                await socket.send(json.dumps({"type": "leave"}))
        except Exception as error:  # noqa: BLE001 - reported to the test
            self.error = repr(error)
        finally:
            await pc.close()

    def send(self, message: dict, timeout: float = 10) -> None:
        """Sends a room message on the publisher's socket (from the test's thread)."""
        asyncio.run_coroutine_threadsafe(self.socket.send(json.dumps(message)), self.loop).result(timeout)

    def __enter__(self) -> "RoomPublisher":
        self.thread.start()
        self.future = asyncio.run_coroutine_threadsafe(self._run(), self.loop)
        return self

    def __exit__(self, *exc) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        try:
            self.future.result(15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


def test_chromium_joins_the_room_and_decodes_the_chairs_video(giaoban, chromium, artifacts):  # noqa: F811
    chair = giaoban.token("officer-room", "chair")
    resp = requests.post(giaoban.url("/api/meetings"), headers={"Authorization": f"Bearer {chair}"},
                         json={"title": "Giao ban sáng", "scheduled_at": "2026-11-30T07:30:00+07:00"}, timeout=10)
    assert resp.status_code == 201, resp.text
    meeting = resp.json()["id"]
    ws_url = giaoban.url(f"/api/meetings/{meeting}/room").replace("http://", "ws://") + f"?access_token={chair}"

    with RoomPublisher(ws_url) as publisher:
        assert publisher.answered.wait(20), f"no answer to the chair's publish: {publisher.error} {publisher.messages}"
        page = chromium()
        commune = giaoban.token("xa-an-phuoc", "commune")
        try:
            page.get(giaoban.url("/room.html?" + urllib.parse.urlencode({"meeting": meeting, "token": commune})))
            got = wait_page(page, lambda s: s.get("framesDecoded", 0) > MIN_FRAMES, 30, "room page decoding the chair's video")
            print(json.dumps(got, sort_keys=True))
            assert (got["frameWidth"], got["frameHeight"]) == (320, 240), got
            rosters = [m for m in publisher.messages if m["type"] == "roster"]
            assert any({p["subject"] for p in r["participants"]} == {"officer-room", "xa-an-phuoc"} for r in rosters), rosters[-1:]
            assert publisher.error is None, publisher.error
        finally:
            screenshot(page, artifacts, "meeting-room-commune")
