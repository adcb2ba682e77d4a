"""Who may publish or watch a stream (docs/security.md): aiortc as the attacker with valid
low-privilege tokens, against a meeting the chair has locked and a free-named WHIP stream.

- A meeting participant's stream `m<id>-<subject>` is published by that participant through the
  room only: raw WHIP to it is refused (403), and the chair's media keeps flowing.
- Room media is watched only from a seat in the room: raw WHEP to a participant's stream is
  refused (403) for every role, so a camera or observer cannot watch unseen.
- A free-named stream belongs to the subject publishing it: another subject's WHIP gets 409.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest
import requests

from conftest import run_async, unique_stream
from test_downlink_aiortc import Publisher, RoomSocket, create_meeting, room_url, REPLY_TIMEOUT
from webrtc_client import SignallingError, WhepWatcher, WhipPublisher

pytestmark = pytest.mark.media


async def refused(session, status: int) -> str:
    """Starts `session`, expects the relay to refuse it with `status`; returns the reason."""
    try:
        await session.start(connect_timeout=10)
    except SignallingError as error:
        assert error.status == status, f"expected {status}, got {error}"
        return error.reason
    finally:
        await session.close(delete=False)
    raise AssertionError(f"{session.url} was accepted; expected {status}")


def test_locked_meeting_stream_cannot_be_taken_over_or_watched_unseen(giaoban):
    chair, seated, outsider = "officer-sec", "xa-sec-seated", "xa-sec-outside"
    chair_token = giaoban.token(chair, "chair")
    meeting = create_meeting(giaoban, chair_token, "Giao ban: khoá phòng")
    stream = f"m{meeting}-{chair}"

    async def scenario() -> dict:
        chair_room = RoomSocket(room_url(giaoban, meeting, chair_token), chair)
        seated_room = RoomSocket(room_url(giaoban, meeting, giaoban.token(seated, "commune")), seated)
        publisher = None
        try:
            await chair_room.open()
            await seated_room.open()
            publisher = Publisher(chair_room)
            answer = await publisher.publish()
            assert answer["stream"] == stream, answer
            await chair_room.send({"type": "lock", "locked": True})
            await chair_room.expect(lambda m: m["type"] == "roster" and m.get("locked") is True, REPLY_TIMEOUT, "locked roster")

            # Takeover: a commune outside the locked room posts WHIP to the chair's stream.
            reason = await refused(WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token(outsider, "commune")), 403)
            assert "room" in reason, reason
            # Even a seated participant may not publish on somebody else's stream over WHIP.
            await refused(WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token(seated, "commune")), 403)

            # Eavesdropping: camera, observer and admin tokens over raw WHEP, not seated.
            reasons = {}
            for subject, role in (("cam-sec", "camera"), ("obs-sec", "observer"), ("admin-sec", "admin")):
                reasons[role] = await refused(WhepWatcher(giaoban.url(f"/whep/{stream}"), giaoban.token(subject, role)), 403)

            # The chair still publishes: the room shows it, and its connection was never replaced.
            start = len(chair_room.messages)
            await chair_room.send({"type": "ping"})
            await chair_room.expect(lambda m: m["type"] == "pong", REPLY_TIMEOUT, "pong", start)
            roster = [m for m in chair_room.messages if m["type"] == "roster"][-1]
            entry = next(p for p in roster["participants"] if p["subject"] == chair)
            assert entry["publishing"] is True, roster
            await asyncio.sleep(1.0)
            assert publisher.pc.connectionState == "connected", publisher.pc.connectionState
            return {"reasons": reasons, "participants": sorted(p["subject"] for p in roster["participants"])}
        finally:
            for room in (seated_room, chair_room):
                await room.leave()
            if publisher is not None:
                await publisher.close()

    summary = run_async(scenario(), 90)
    assert summary["participants"] == sorted([chair, seated]), summary
    # Nobody refused appears in the roll call.
    text = requests.get(giaoban.url(f"/api/meetings/{meeting}/attendance.csv"),
                        headers={"Authorization": f"Bearer {chair_token}"}, timeout=10).text
    attendees = {row["participant"] for row in csv.DictReader(io.StringIO(text))}
    assert attendees == {chair, seated}, attendees
    print(json.dumps(summary, sort_keys=True))


def test_free_named_stream_belongs_to_its_publisher(giaoban):
    stream = unique_stream("sec")
    owner, other = "xa-sec-owner", "xa-sec-other"

    async def scenario() -> None:
        first = WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token(owner, "commune"))
        second = None
        try:
            await first.start(connect_timeout=15)
            reason = await refused(WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token(other, "commune")), 409)
            assert "another subject" in reason, reason
            # Another subject may not end the owner's session either.
            status = requests.delete(first.location, headers={"Authorization": f"Bearer {giaoban.token(other, 'commune')}"},
                                     timeout=10).status_code
            assert status == 403, status
            # The owner may replace its own publisher (a reconnect).
            second = WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token(owner, "commune"))
            await second.start(connect_timeout=15)
        finally:
            for session in (second, first):
                if session is not None:
                    await session.close()

    run_async(scenario(), 60)
