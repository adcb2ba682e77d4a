"""One connection down (docs/protocol.md, "One connection down"): aiortc participants on the
meeting room socket. The relay offers one peer connection carrying every publisher a
participant watches and offers again as publishers come and go; the participant answers each
offer on the same connection and decodes everyone's video on it."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Callable, Optional

import pytest
import requests
import websockets
from aiortc import MediaStreamTrack, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from conftest import run_async, sdp_media_sections
from webrtc_client import PatternVideoTrack, SineAudioTrack, new_peer_connection

pytestmark = pytest.mark.media

MIN_FRAMES = 30
REPLY_TIMEOUT = 10.0  # a request's reply (docs/protocol.md, "Matching replies")
MEDIA_TIMEOUT = 25.0  # first decoded frames of a new publisher


def create_meeting(giaoban, chair_token: str, title: str) -> int:
    resp = requests.post(giaoban.url("/api/meetings"), headers={"Authorization": f"Bearer {chair_token}"},
                         json={"title": title, "scheduled_at": "2026-12-01T07:30:00+07:00"}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def room_url(giaoban, meeting: int, token: str) -> str:
    return giaoban.url(f"/api/meetings/{meeting}/room").replace("http://", "ws://") + f"?access_token={token}"


media_sections = sdp_media_sections


def section_of(sdp: str, mid: str) -> list[str]:
    for section in media_sections(sdp):
        if f"a=mid:{mid}" in section:
            return section
    raise AssertionError(f"no m-line with mid {mid} in the offer:\n{sdp}")


def direction_of(section: list[str]) -> str:
    for line in section:
        if line in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            return line[2:]
    return "sendrecv"


class RoomSocket:
    """A participant on the room WebSocket: keeps every message and waits for them by content."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.messages: list[dict] = []
        self.handlers: list[Callable[[dict], None]] = []
        self._arrived = asyncio.Event()
        self._socket = None
        self._reader: Optional[asyncio.Task] = None
        self.closed = False

    async def open(self) -> dict:
        self._socket = await websockets.connect(self.url, open_timeout=REPLY_TIMEOUT)
        self._reader = asyncio.ensure_future(self._read())
        return await self.expect(lambda m: m["type"] == "joined", REPLY_TIMEOUT, "joined", start=0)

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                message = json.loads(raw)
                self.messages.append(message)
                for handler in self.handlers:
                    handler(message)
                self._arrived.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._arrived.set()

    async def send(self, message: dict) -> None:
        await self._socket.send(json.dumps(message))

    async def expect(self, predicate: Callable[[dict], bool], timeout: float, what: str, start: int = 0) -> dict:
        """The first message from index `start` on that satisfies predicate."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = start
        while True:
            self._arrived.clear()
            while index < len(self.messages):
                message = self.messages[index]
                index += 1
                if predicate(message):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                state = "socket closed" if self.closed else f"not within {timeout:.0f} s"
                raise AssertionError(f"{self.name}: {what}: {state}; last messages: {self.messages[-6:]}")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def request(self, message: dict, what: str) -> Optional[dict]:
        """Sends message then a ping: the error before the pong (the refusal), or None."""
        start = len(self.messages)
        await self.send(message)
        await self.send({"type": "ping"})
        reply = await self.expect(lambda m: m["type"] in ("error", "pong"), REPLY_TIMEOUT, what, start)
        if reply["type"] == "pong":
            return None
        # The socket stays open after a refusal: the ping is answered too.
        await self.expect(lambda m: m["type"] == "pong", REPLY_TIMEOUT, f"pong after the refusal of {what}", start)
        return reply

    async def leave(self) -> None:
        """`leave`, then close: the seat is given up at once."""
        if self._socket is None:
            return
        try:
            if not self.closed:
                start = len(self.messages)
                await self.send({"type": "leave"})
                try:
                    await self.expect(lambda m: m["type"] == "bye", 5, "bye", start)
                except AssertionError:
                    pass
            await asyncio.wait_for(self._socket.close(), 5)
        except (websockets.ConnectionClosed, asyncio.TimeoutError, OSError):
            pass
        if self._reader:
            self._reader.cancel()

    def errors(self) -> list[dict]:
        return [m for m in self.messages if m["type"] == "error"]


class Publisher:
    """Publishes aiortc's pattern and tone on the participant's own stream (`publish`)."""

    def __init__(self, room: RoomSocket) -> None:
        self.room = room
        self.pc = new_peer_connection()
        self.pc.addTransceiver(SineAudioTrack(), direction="sendonly")
        self.pc.addTransceiver(PatternVideoTrack(), direction="sendonly")

    async def publish(self) -> dict:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        start = len(self.room.messages)
        await self.room.send({"type": "publish", "sdp": self.pc.localDescription.sdp})
        reply = await self.room.expect(
            lambda m: m["type"] == "error" or (m["type"] == "answer" and m.get("request") == "publish"),
            REPLY_TIMEOUT, "answer to publish", start)
        assert reply["type"] == "answer", f"{self.room.name}: publish refused: {reply}"
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        return reply

    async def close(self) -> None:
        await self.pc.close()


class DownlinkReceiver:
    """The participant's one connection down: answers every offer of the relay, one after
    another, on the same aiortc peer connection, and counts decoded frames per m-line."""

    def __init__(self, room: RoomSocket) -> None:
        self.room = room
        self.pc = new_peer_connection(max_bundle=True)  # offers add several video m-lines at once
        self.session: Optional[str] = None
        self.offers: list[dict] = []  # every offer received
        self.answered: list[dict] = []  # the offers answered, in order
        self.owner: dict[str, str] = {}  # mid → participant, over every offer answered
        self.video_frames: dict[str, int] = {}  # mid → decoded video frames
        self.audio_frames: dict[str, int] = {}  # mid → decoded audio frames
        self.failure: Optional[BaseException] = None
        self._queue: asyncio.Queue = asyncio.Queue()
        self._answered_event = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.pc.on("track", self._on_track)
        room.handlers.append(self._on_message)
        self._worker = asyncio.ensure_future(self._answer_offers())

    def _on_message(self, message: dict) -> None:
        if message["type"] == "offer":
            self.offers.append(message)
            self._queue.put_nowait(message)

    async def _answer_offers(self) -> None:
        while True:
            offer = await self._queue.get()
            try:
                await self._answer(offer)
            except Exception as error:  # noqa: BLE001 - reported by the waits
                self.failure = error
                self._answered_event.set()
                return

    async def _answer(self, offer: dict) -> None:
        if self.session is None:
            self.session = offer["session"]
        assert offer["session"] == self.session, f"the downlink session changed: {self.session} → {offer['session']}"
        for track in offer.get("tracks", []):
            self.owner[str(track["mid"])] = track["participant"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.room.send({"type": "answer", "session": offer["session"], "revision": offer["revision"],
                              "sdp": self.pc.localDescription.sdp})
        self.answered.append(offer)
        self._answered_event.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        counts = self.video_frames if track.kind == "video" else self.audio_frames
        counts.setdefault(str(mid), 0)
        self._tasks.append(asyncio.ensure_future(self._consume(str(mid), track, counts)))

    @staticmethod
    async def _consume(mid: str, track: MediaStreamTrack, counts: dict[str, int]) -> None:
        try:
            while True:
                await track.recv()
                counts[mid] += 1
        except (MediaStreamError, asyncio.CancelledError):
            pass

    def frames_of(self, participant: str) -> int:
        """Video frames decoded on every m-line that ever carried this participant."""
        return sum(n for mid, n in self.video_frames.items() if self.owner.get(mid) == participant)

    def audio_of(self, participant: str) -> int:
        """Audio frames decoded on every m-line that ever carried this participant."""
        return sum(n for mid, n in self.audio_frames.items() if self.owner.get(mid) == participant)

    async def watch_all(self) -> None:
        await self.room.send({"type": "downlink", "participants": "all"})

    async def answered_offer(self, predicate: Callable[[dict], bool], timeout: float, what: str) -> dict:
        """The first answered offer satisfying predicate (waits for it, bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._answered_event.clear()
            if self.failure is not None:
                raise AssertionError(f"{self.room.name}: answering an offer failed: {self.failure!r}")
            for offer in self.answered:
                if predicate(offer):
                    return offer
            remaining = deadline - loop.time()
            if remaining <= 0:
                summary = [(o["revision"], o.get("tracks")) for o in self.offers]
                raise AssertionError(f"{self.room.name}: {what}: not within {timeout:.0f} s; offers {summary}; "
                                     f"errors {self.room.errors()}")
            try:
                await asyncio.wait_for(self._answered_event.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def frames(self, participant: str, more_than: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.frames_of(participant) <= more_than:
            if loop.time() >= deadline:
                raise AssertionError(
                    f"{self.room.name}: {self.frames_of(participant)} video frames of {participant} decoded in "
                    f"{timeout:.0f} s (wanted more than {more_than}); frames by mid {self.video_frames}, "
                    f"owners {self.owner}, connection {self.pc.connectionState}, errors {self.room.errors()}")
            await asyncio.sleep(0.2)
        return self.frames_of(participant)

    async def close(self) -> None:
        self._worker.cancel()
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


def carries(offer: dict, participant: str, kind: str) -> bool:
    return any(t["participant"] == participant and t["kind"] == kind for t in offer.get("tracks", []))


def check_offer(offer: dict, meeting: int) -> None:
    """What docs/protocol.md promises of every downlink offer."""
    sdp = offer["sdp"]
    sections = media_sections(sdp)
    mids = [next(line[6:] for line in s if line.startswith("a=mid:")) for s in sections]
    assert "a=ice-lite" in sdp and "a=setup:actpass" in sdp, sdp
    bundle = next((line.split()[1:] for line in sdp.splitlines() if line.startswith("a=group:BUNDLE")), None)
    assert bundle == mids, f"BUNDLE {bundle} != m-lines {mids}"
    assert sections and sections[0][0].startswith("m=audio") and mids[0] == "0", sections[:1]
    listed = {str(t["mid"]) for t in offer["tracks"]}
    assert "0" not in listed, offer["tracks"]
    for track in offer["tracks"]:
        section = section_of(sdp, str(track["mid"]))
        assert section[0].startswith(f"m={track['kind']} "), (track, section[0])
        assert direction_of(section) == "sendonly", (track, section)
        assert track["stream"] == f"m{meeting}-{track['participant']}", track
        msid = next((line for line in section if line.startswith("a=msid:")), "")
        assert msid.split()[0] == f"a=msid:{track['stream']}", (track, msid)
        assert any(re.match(r"a=ssrc:\d+ ", line) for line in section), (track, section)


def test_one_downlink_follows_publishers_coming_and_going(giaoban):
    chair, a_name, b_name = "officer-dl", "xa-dl-a", "xa-dl-b"
    chair_token = giaoban.token(chair, "chair")
    meeting = create_meeting(giaoban, chair_token, "Giao ban: một kết nối xuống")
    urls = {name: room_url(giaoban, meeting, giaoban.token(name, "commune")) for name in (a_name, b_name)}
    urls[chair] = room_url(giaoban, meeting, chair_token)

    async def scenario() -> dict:
        chair_room, a_room, b_room = (RoomSocket(urls[n], n) for n in (chair, a_name, b_name))
        chair_pub: Optional[Publisher] = None
        b_pub: Optional[Publisher] = None
        downlink: Optional[DownlinkReceiver] = None
        try:
            await chair_room.open()
            chair_pub = Publisher(chair_room)
            await chair_pub.publish()

            await a_room.open()
            downlink = DownlinkReceiver(a_room)
            await downlink.watch_all()
            first = await downlink.answered_offer(lambda o: True, REPLY_TIMEOUT, "a first offer")
            with_chair = await downlink.answered_offer(lambda o: carries(o, chair, "video"), REPLY_TIMEOUT,
                                                       "an offer carrying the chair's video")
            check_offer(with_chair, meeting)
            assert carries(with_chair, chair, "audio"), with_chair["tracks"]
            chair_frames = await downlink.frames(chair, MIN_FRAMES, MEDIA_TIMEOUT)

            # B publishes: the relay offers A the same connection again, B's tracks added.
            await b_room.open()
            b_pub = Publisher(b_room)
            await b_pub.publish()
            with_b = await downlink.answered_offer(lambda o: carries(o, b_name, "video"), REPLY_TIMEOUT,
                                                   "an offer carrying B's video")
            assert with_b["revision"] > with_chair["revision"], (with_chair["revision"], with_b["revision"])
            assert with_b["session"] == first["session"]
            check_offer(with_b, meeting)
            assert carries(with_b, chair, "video") and carries(with_b, b_name, "audio"), with_b["tracks"]
            chair_mids = {str(t["mid"]) for t in with_chair["tracks"]}
            assert chair_mids <= {str(t["mid"]) for t in with_b["tracks"]}, "the chair's m-lines moved"
            b_mids = {str(t["mid"]) for t in with_b["tracks"] if t["participant"] == b_name}
            b_frames = await downlink.frames(b_name, MIN_FRAMES, MEDIA_TIMEOUT)
            assert downlink.frames_of(chair) > chair_frames, "the chair's video stopped when B was added"
            # Audio too: both are among the room's K loudest. aiortc sends its measured level with the
            # voice flag always clear; the room judges such a sender by its level (docs/protocol.md).
            loop = asyncio.get_running_loop()
            deadline = loop.time() + MEDIA_TIMEOUT
            while (downlink.audio_of(chair) < 25 or downlink.audio_of(b_name) < 25) and loop.time() < deadline:
                await asyncio.sleep(0.2)
            assert downlink.audio_of(chair) >= 25 and downlink.audio_of(b_name) >= 25, \
                f"audio frames by mid {downlink.audio_frames}, owners {downlink.owner}"

            # B leaves: the next offer drops B's tracks and keeps their m-lines inactive.
            await b_room.leave()
            await b_pub.close()
            without_b = await downlink.answered_offer(
                lambda o: o["revision"] > with_b["revision"] and not carries(o, b_name, "video")
                and not carries(o, b_name, "audio"), REPLY_TIMEOUT, "an offer without B's tracks")
            assert without_b["session"] == first["session"]
            check_offer(without_b, meeting)
            assert carries(without_b, chair, "video"), without_b["tracks"]
            for mid in b_mids:
                section = section_of(without_b["sdp"], mid)
                assert direction_of(section) == "inactive", f"B's m-line {mid} after B left: {section}"
            chair_now = downlink.frames_of(chair)
            await downlink.frames(chair, chair_now + 10, MEDIA_TIMEOUT)

            revisions = [o["revision"] for o in downlink.offers]
            assert revisions == sorted(set(revisions)), f"offer revisions not increasing: {revisions}"
            assert {o["session"] for o in downlink.offers} == {first["session"]}
            for room in (chair_room, a_room, b_room):
                assert not room.errors(), f"{room.name} got errors: {room.errors()}"
            return {"revisions": revisions, "chair_frames": downlink.frames_of(chair), "b_frames": b_frames,
                    "video_frames_by_mid": downlink.video_frames, "audio_frames_by_mid": downlink.audio_frames,
                    "owners": downlink.owner}
        finally:
            for room in (b_room, a_room, chair_room):
                await room.leave()
            for closable in (downlink, b_pub, chair_pub):
                if closable is not None:
                    await closable.close()

    summary = run_async(scenario(), 130)
    print(json.dumps(summary, sort_keys=True))


def test_downlink_refusals_keep_the_socket_open(giaoban):
    chair, commune = "officer-dlr", "xa-dlr"
    chair_token = giaoban.token(chair, "chair")
    meeting = create_meeting(giaoban, chair_token, "Giao ban: từ chối")
    chair_url = room_url(giaoban, meeting, chair_token)
    commune_url = room_url(giaoban, meeting, giaoban.token(commune, "commune"))

    async def scenario() -> None:
        chair_room, room = RoomSocket(chair_url, chair), RoomSocket(commune_url, commune)
        chair_pub: Optional[Publisher] = None
        downlink: Optional[DownlinkReceiver] = None
        try:
            await chair_room.open()
            chair_pub = Publisher(chair_room)
            await chair_pub.publish()
            await room.open()

            async def refused(message: dict, what: str) -> dict:
                reply = await room.request(message, what)
                assert reply is not None, f"{what}: accepted, expected an error"
                assert isinstance(reply.get("message"), str) and reply["message"], reply
                return reply

            for participants in (42, {"officer-dlr": True}, [7, 8], None):
                await refused({"type": "downlink", "participants": participants}, f"downlink participants={participants!r}")
            await refused({"type": "downlink", "participants": [f"xa-{i}" for i in range(65)]}, "downlink of 65 names")
            await refused({"type": "answer", "session": "no-such-session", "revision": 1,
                           "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}, "answer to an unknown session")
            await refused({"type": "restart", "session": "no-such-session"}, "restart of an unknown session")

            # A real downlink, then an answer that is not SDP: refused, the offer still stands.
            start = len(room.messages)
            assert await room.request({"type": "downlink", "participants": "all"}, "downlink all") is None
            offer = await room.expect(lambda m: m["type"] == "offer", REPLY_TIMEOUT, "offer", start)
            await refused({"type": "answer", "session": offer["session"], "revision": offer["revision"],
                           "sdp": "this is not SDP"}, "an answer with malformed SDP")

            # The offer answered properly, and any that followed it (later ones as they come).
            downlink = DownlinkReceiver(room)
            for message in room.messages[start:]:
                downlink._on_message(message)
            await downlink.answered_offer(lambda o: o["revision"] >= offer["revision"], REPLY_TIMEOUT,
                                          "the downlink offer answered")
            for layer in ("low", "high"):
                reply = await room.request({"type": "layer", "participant": chair, "layer": layer}, f"layer {layer}")
                assert reply is None, f"layer {layer} for {chair} on the downlink refused: {reply}"
            await refused({"type": "layer", "participant": chair, "layer": "huge"}, "layer huge")
            assert downlink.failure is None, repr(downlink.failure)
        finally:
            for r in (room, chair_room):
                await r.leave()
            for closable in (downlink, chair_pub):
                if closable is not None:
                    await closable.close()

    run_async(scenario(), 90)


def ssrc_of(section: list[str]) -> Optional[str]:
    return next((line.split()[0][7:] for line in section if line.startswith("a=ssrc:")), None)


def test_a_participant_watched_again_comes_back_on_its_own_m_lines(giaoban):
    """Whom a participant watches changes (the active speaker moves): the relay takes the
    tracks off the downlink and, when they are watched again, puts them back on their own
    m-lines with their SSRCs, numbering continued — the downlink does not grow with every
    change, and aiortc (which learns a transceiver's SSRC once) keeps decoding."""
    chair, a_name, b_name = "officer-dlw", "xa-dlw-a", "xa-dlw-b"
    chair_token = giaoban.token(chair, "chair")
    meeting = create_meeting(giaoban, chair_token, "Giao ban: xem lại")
    urls = {name: room_url(giaoban, meeting, giaoban.token(name, "commune")) for name in (a_name, b_name)}
    urls[chair] = room_url(giaoban, meeting, chair_token)

    async def scenario() -> dict:
        rooms = {n: RoomSocket(urls[n], n) for n in (chair, a_name, b_name)}
        publishers: list[Publisher] = []
        downlink: Optional[DownlinkReceiver] = None
        try:
            for name in (chair, b_name):
                await rooms[name].open()
                publishers.append(Publisher(rooms[name]))
                await publishers[-1].publish()
            await rooms[a_name].open()
            downlink = DownlinkReceiver(rooms[a_name])

            async def watch(names: list[str], predicate: Callable[[dict], bool], what: str) -> dict:
                latest = max((o["revision"] for o in downlink.offers), default=0)
                await rooms[a_name].send({"type": "downlink", "participants": names})
                return await downlink.answered_offer(lambda o: o["revision"] > latest and predicate(o), REPLY_TIMEOUT, what)

            await watch([chair], lambda o: carries(o, chair, "video"), "an offer with the chair")
            await downlink.frames(chair, MIN_FRAMES, MEDIA_TIMEOUT)
            with_b = await watch([chair, b_name], lambda o: carries(o, b_name, "video"), "an offer with B")
            b_mids = sorted(str(t["mid"]) for t in with_b["tracks"] if t["participant"] == b_name)
            b_video_mid = next(str(t["mid"]) for t in with_b["tracks"] if t["participant"] == b_name and t["kind"] == "video")
            first_ssrc = ssrc_of(section_of(with_b["sdp"], b_video_mid))
            lines = len(media_sections(with_b["sdp"]))
            b_first = await downlink.frames(b_name, MIN_FRAMES, MEDIA_TIMEOUT)

            without_b = await watch([chair], lambda o: not carries(o, b_name, "video"), "an offer without B")
            for mid in b_mids:
                assert direction_of(section_of(without_b["sdp"], mid)) == "inactive", mid
            await asyncio.sleep(1.0)

            again = await watch([chair, b_name], lambda o: carries(o, b_name, "video"), "an offer with B again")
            check_offer(again, meeting)
            assert sorted(str(t["mid"]) for t in again["tracks"] if t["participant"] == b_name) == b_mids, again["tracks"]
            assert len(media_sections(again["sdp"])) == lines, "B came back on new m-lines"
            second_ssrc = ssrc_of(section_of(again["sdp"], b_video_mid))
            assert second_ssrc == first_ssrc, (first_ssrc, second_ssrc)
            b_again = await downlink.frames(b_name, b_first + 20, MEDIA_TIMEOUT)
            for room in rooms.values():
                assert not room.errors(), f"{room.name} got errors: {room.errors()}"
            return {"b_mids": b_mids, "lines": lines, "b_frames": [b_first, b_again],
                    "revisions": [o["revision"] for o in downlink.offers]}
        finally:
            for room in rooms.values():
                await room.leave()
            for closable in [downlink, *publishers]:
                if closable is not None:
                    await closable.close()

    summary = run_async(scenario(), 120)
    print(json.dumps(summary, sort_keys=True))
