"""A meeting across three `giaoban serve` nodes on one PostgreSQL database (docs/protocol.md,
"Several nodes"; docs/postgresql.md). One node holds the meeting's room; participants who
open it elsewhere stay there, their sockets passed to it (`cluster.proxy_rooms`, the default),
or with `cluster.proxy_rooms = false` are sent there with `moved`. When that node is killed with SIGKILL, another
node takes the room over once its lease lapses, restores the seats, and the participants —
each reconnecting on its own, cycling over the nodes `joined` listed — are seated again there
with their role and raised hand, then publish and watch again on new peer connections.

The first test (`proxy_rooms = false`): the chair (aiortc, room opened on node 1), a commune
(aiortc, opened on node 2) and headless Chromium on `web/room.html` served by node 3 (web/js/room-client.js), every one
publishing and watching everyone else on one connection down."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from typing import Callable, Optional

import pytest
import requests
import websockets

from conftest import run_async, server_command, unique_stream, wait_for
from test_downlink_aiortc import MIN_FRAMES, REPLY_TIMEOUT, DownlinkReceiver, Publisher, RoomSocket, create_meeting
from test_downlink_chromium import frames_of as page_frames
from test_hub_cluster import three_workdirs  # noqa: F401 - the fixture
from test_incident_durability import start
from test_whip_whep_aiortc import assert_media
from test_whip_whep_chromium import chromium, describe, screenshot, stats  # noqa: F401 - the fixture
from webrtc_client import BackgroundPublisher, watch

pytestmark = [pytest.mark.chromium, pytest.mark.media]

CHAIR, COMMUNE, BROWSER = "officer-cluster", "xa-cluster-a", "xa-cluster-web"
ROOM_LEASE_S = 3           # cluster.room_lease_s: the home's lease, lapsed this long after its death
TRUNK_IDLE_S = 2           # cascade.idle_s: a trunk feeding only meeting downlinks must outlive it
SEATED_WITHIN = 10.0       # from the kill to all three seated again on the new home
MEDIA_TIMEOUT = 30.0       # everyone decoding everyone (at the start, and again after the kill)
RECONNECT_DEADLINE = 30.0  # a participant that lost its socket tries again this long
RETRY_PAUSE = 0.3          # between two attempts
CONNECT_TIMEOUT = 5.0      # one attempt: the socket opened and its first message read
MAX_MOVES = 3              # `moved` followed in a row within one attempt
# Requests bound to the media sessions of one node: not carried to another node.
MEDIA_REQUESTS = {"publish", "subscribe", "answer", "restart", "layer", "downlink"}


class RoomRefused(Exception):
    """The room closed the socket with 1008 (bad token, no such meeting, locked room): final."""


def close_code(error: websockets.ConnectionClosed) -> Optional[int]:
    return getattr(error.rcvd, "code", None)


class ClusterRoom(RoomSocket):
    """A participant's room socket on a cluster of nodes: follows `moved` to the node holding
    the room and, when the socket is lost without `leave`, `ended` or `replaced`, opens it
    again — on the node it was on, then on `fallbacks` and the other nodes of the latest
    `joined.nodes` in turn, RETRY_PAUSE apart, following `moved` — until a node seats it again or
    RECONNECT_DEADLINE has passed. `messages` runs on across the sockets (`moved` included);
    `joins` holds every `joined` and `join_times` when it arrived (loop time)."""

    def __init__(self, base: str, meeting: int, token: str, name: str, fallbacks: tuple[str, ...] = ()) -> None:
        super().__init__(url="", name=name)
        self.base = base  # the node the current socket goes to
        self.meeting = meeting
        self.token = token
        self.fallbacks = [url.rstrip("/") for url in fallbacks]  # tried right after the lost node, like --fallback-url
        self.nodes: list[str] = []
        self.joins: list[dict] = []
        self.join_times: list[float] = []
        self.lost_at: Optional[float] = None
        self.reconnect_seconds: list[float] = []  # from each loss to seated again
        self.attempts: list[str] = []  # every base URL a socket was opened to
        self.dropped: list[dict] = []  # media requests not carried to another node
        self.failure: Optional[str] = None
        self._moved_to: Optional[str] = None  # `moved` on the seated socket: another node took the room over
        self._seated = asyncio.Event()
        self._final = False  # left, ended, replaced, refused
        self._reconnector: Optional[asyncio.Task] = None

    @property
    def node(self) -> Optional[str]:
        """The node holding the room, as the latest `joined` names it."""
        return self.joins[-1].get("node") if self.joins else None

    def joined_index(self) -> int:
        """Index in `messages` of the latest `joined`."""
        return max(i for i, m in enumerate(self.messages) if m["type"] == "joined")

    def url_of(self, base: str) -> str:
        query = urllib.parse.urlencode({"access_token": self.token})
        return base.replace("http", "ws", 1).rstrip("/") + f"/api/meetings/{self.meeting}/room?{query}"

    def _record(self, message: dict) -> None:
        self.messages.append(message)
        if message["type"] in ("ended", "replaced"):
            self._final = True
        elif message["type"] == "moved" and self._seated.is_set():
            self._moved_to = message["url"].rstrip("/")
        for handler in list(self.handlers):
            handler(message)
        self._arrived.set()

    async def open(self) -> dict:
        seated = await self._attempt(self.base)
        if not seated:
            raise AssertionError(f"{self.name}: the room did not seat it from {self.base}; attempts {self.attempts}, "
                                 f"messages {self.messages[-4:]}")
        return self.joins[-1]

    async def _attempt(self, base: str) -> bool:
        """One attempt: the socket opened at base, `moved` followed; True once `joined`."""
        for _ in range(MAX_MOVES + 1):
            self.base = base.rstrip("/")
            self.attempts.append(self.base)
            try:
                socket = await websockets.connect(self.url_of(self.base), open_timeout=CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                return False
            try:
                first = json.loads(await asyncio.wait_for(socket.recv(), CONNECT_TIMEOUT))
            except websockets.ConnectionClosed as error:
                if close_code(error) == 1008:
                    raise RoomRefused(f"{self.name}: refused by {self.base}: {error}") from error
                return False
            except asyncio.TimeoutError:
                await socket.close()
                return False
            self._record(first)
            if first["type"] == "moved":
                await socket.close()
                base = first["url"]
                continue
            if first["type"] != "joined":
                await socket.close()
                return False
            self._socket = socket
            self.joins.append(first)
            self.join_times.append(asyncio.get_running_loop().time())
            if first.get("nodes"):
                self.nodes = [url.rstrip("/") for url in first["nodes"]]
            self._seated.set()
            self._reader = asyncio.ensure_future(self._read())
            return True
        return False

    async def _read(self) -> None:
        socket = self._socket
        try:
            async for raw in socket:
                self._record(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        if socket is not self._socket:
            return
        self._seated.clear()
        if self._final:
            self.closed = True
            self._arrived.set()
            return
        self.lost_at = asyncio.get_running_loop().time()
        self._reconnector = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = self.lost_at + RECONNECT_DEADLINE
        first = [self._moved_to] if self._moved_to else []
        self._moved_to = None
        ring = list(dict.fromkeys([*first, self.base, *self.fallbacks, *self.nodes]))
        attempt = 0
        try:
            while loop.time() < deadline and not self._final:
                if attempt:
                    await asyncio.sleep(RETRY_PAUSE)
                target = ring[attempt % len(ring)]
                attempt += 1
                try:
                    seated = await asyncio.wait_for(self._attempt(target), max(0.1, deadline - loop.time()))
                except asyncio.TimeoutError:
                    seated = False
                if seated:
                    self.reconnect_seconds.append(loop.time() - self.lost_at)
                    self.lost_at = None
                    return
            self.failure = f"not seated again within {RECONNECT_DEADLINE:.0f} s; attempts {self.attempts[-12:]}"
        except RoomRefused as error:
            self.failure = str(error)
        self._final = True
        self.closed = True
        self._arrived.set()

    async def send(self, message: dict) -> None:
        """Sends on the seated socket; while the socket is being opened again, waits for the
        seat. A media request made on one node is not carried to another (its sessions died)."""
        node = self.node
        if not self._seated.is_set():
            await asyncio.wait_for(self._seated.wait(), RECONNECT_DEADLINE)
            if message["type"] in MEDIA_REQUESTS and self.node != node:
                self.dropped.append(message)
                return
        try:
            await self._socket.send(json.dumps(message))
        except websockets.ConnectionClosed:
            pass  # lost with the socket, as on any network; the request's wait reports it

    async def leave(self) -> None:
        self._final = True
        if self._reconnector is not None:
            self._reconnector.cancel()
        if self._seated.is_set():
            await super().leave()
        elif self._reader is not None:
            self._reader.cancel()


class Member:
    """An aiortc participant: publishes the pattern and the tone and watches everyone on one
    connection down. When a `joined` names another node than the one its media was set up
    on, those sessions died with that node: it closes its peer connections and publishes and
    watches again on new ones."""

    def __init__(self, room: ClusterRoom) -> None:
        self.room = room
        self.publisher: Optional[Publisher] = None
        self.downlink: Optional[DownlinkReceiver] = None
        self.media_node: Optional[str] = None
        self.setups = 0
        self._renewal: Optional[asyncio.Task] = None
        room.handlers.append(self._on_message)

    async def start_media(self) -> None:
        self.media_node = self.room.node
        self.publisher = Publisher(self.room)
        self.downlink = DownlinkReceiver(self.room)
        self.setups += 1
        await self.publisher.publish()
        await self.downlink.watch_all()

    def _on_message(self, message: dict) -> None:
        if message["type"] != "joined" or self.publisher is None or message.get("node") == self.media_node:
            return
        # From now on the old downlink reads nothing: offers come from the new node's session.
        if self.downlink is not None and self.downlink._on_message in self.room.handlers:
            self.room.handlers.remove(self.downlink._on_message)
        previous = self._renewal
        self._renewal = asyncio.ensure_future(self._renew(previous))

    async def _renew(self, previous: Optional[asyncio.Task]) -> None:
        if previous is not None:
            await previous
        if self.room.node == self.media_node:
            return
        for closable in (self.downlink, self.publisher):
            if closable is not None:
                await closable.close()
        await self.start_media()

    async def media_on(self, node: str, timeout: float) -> None:
        """Waits until publishing and watching were set up again on `node`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.media_node != node or (self._renewal is not None and not self._renewal.done()):
            if loop.time() >= deadline:
                raise AssertionError(f"{self.room.name}: media not set up again on {node} within {timeout:.0f} s "
                                     f"(set up on {self.media_node})")
            await asyncio.sleep(0.1)
        if self._renewal is not None:
            await self._renewal  # raises what the set-up raised

    async def close(self) -> None:
        if self._renewal is not None and not self._renewal.done():
            self._renewal.cancel()
        for closable in (self.downlink, self.publisher):
            if closable is not None:
                await closable.close()


async def page_stats(page) -> dict:
    got = await asyncio.to_thread(stats, page)
    if got.get("error"):
        raise AssertionError(f"the page reports {got['error']!r}\n{describe(page)}")
    return got


async def page_until(page, predicate: Callable[[dict], bool], timeout: float, what: str) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await page_stats(page)
        if predicate(got):
            return got
        if loop.time() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s; last stats {got}\n{describe(page)}")
        await asyncio.sleep(0.3)


async def everyone_decodes(members: dict[str, Member], page, what: str) -> dict:
    """Each aiortc member decodes the video of the other two on its current downlink, and the
    page that of both members on its own: more than MIN_FRAMES frames each, within MEDIA_TIMEOUT."""
    waits = [members[viewer].downlink.frames(subject, MIN_FRAMES, MEDIA_TIMEOUT)
             for viewer in members for subject in (CHAIR, COMMUNE, BROWSER) if subject != viewer]
    page_wait = page_until(page, lambda s: all(page_frames(s, subject) > MIN_FRAMES for subject in members),
                           MEDIA_TIMEOUT, f"{what}: the page decoding")
    *_, page_got = await asyncio.gather(*waits, page_wait)
    return {"chair": {s: members[CHAIR].downlink.frames_of(s) for s in (COMMUNE, BROWSER)},
            "commune": {s: members[COMMUNE].downlink.frames_of(s) for s in (CHAIR, BROWSER)},
            "page": page_got["downlink"]["framesBySubject"]}


async def leave_all(page, rooms, members: dict[str, Member]) -> None:
    """The end of a scenario: the page leaves (if it still runs), then the rooms, then the
    members' peer connections close."""
    if page is not None:
        try:
            await asyncio.to_thread(page.execute_script, "window.giaobanLeave && window.giaobanLeave()")
        except Exception:  # noqa: BLE001 - a page that already died
            pass
    for room in rooms:
        await room.leave()
    for member in members.values():
        await member.close()


def report(nodes, page, artifacts, name: str, failed: bool) -> None:
    """After a scenario: the nodes' log tails when it failed, the page's screenshot, the nodes stopped."""
    if failed:
        for node in nodes:
            print(f"--- {node.name} ({'running' if node.alive() else 'stopped'}; {node.log_path}) ---\n{node.log_tail(40)}")
    if page is not None:
        try:
            screenshot(page, artifacts, name)
        except Exception:  # noqa: BLE001 - a browser that already died
            pass
    for node in nodes:
        node.stop()


def start_nodes(workdirs, request, env: dict, prefix: str, into: list) -> list:
    """Starts one node per working directory on one database and one token secret (a token is
    valid on every node), named node1, node2…; appends each to `into` as it starts (for the
    caller's cleanup) and returns them."""
    for n, workdir in enumerate(workdirs, start=1):
        if into:
            shutil.copy2(into[0].secret_file, workdir / into[0].secret_file.name)
        into.append(start(f"{prefix}{n}", workdir, request, {**env, "GIAOBAN_SERVER_NAME": f"node{n}"}))
    return into


@pytest.mark.timeout(280)
def test_a_meeting_across_three_nodes_survives_the_home_node_being_killed(three_workdirs, postgresql, chromium,  # noqa: F811
                                                                          request, artifacts):
    env = {**postgresql.environment(postgresql.create_database()), "GIAOBAN_CLUSTER_ROOM_LEASE_S": str(ROOM_LEASE_S),
           "GIAOBAN_CLUSTER_PROXY_ROOMS": "false"}
    nodes = []
    page = None
    failed = True  # until the scenario returns
    try:
        start_nodes(three_workdirs, request, env, "test_meeting_cluster_node", nodes)
        node1, node2, node3 = nodes
        bases = {node.base_url for node in nodes}
        chair_token = node1.token(CHAIR, "chair")
        meeting = create_meeting(node1, chair_token, "Giao ban: ba nút, một phòng")
        commune_token = node2.token(COMMUNE, "commune")
        page_url = node3.url("/room.html?" + urllib.parse.urlencode(
            {"meeting": meeting, "token": node3.token(BROWSER, "commune"), "downlink": 1, "publish": 1}))

        async def scenario() -> dict:
            nonlocal page
            loop = asyncio.get_running_loop()
            chair = ClusterRoom(node1.base_url, meeting, chair_token, CHAIR)
            commune = ClusterRoom(node2.base_url, meeting, commune_token, COMMUNE)
            members: dict[str, Member] = {}
            try:
                # Every node announces itself in the database within a second of starting.
                deadline = loop.time() + 10
                while True:
                    joined = await chair.open()
                    if set(joined.get("nodes") or ()) == bases or loop.time() >= deadline:
                        break
                    await chair.leave()
                    chair = ClusterRoom(node1.base_url, meeting, chair_token, CHAIR)
                    await asyncio.sleep(0.5)
                assert chair.messages[0]["type"] == "joined", chair.messages[:2]
                assert joined["nodes"][0] == node1.base_url and set(joined["nodes"]) == bases, joined
                home = joined["node"]
                assert isinstance(home, str) and home, joined
                members[CHAIR] = Member(chair)
                await members[CHAIR].start_media()

                # The commune asks node 2: the room is on node 1.
                joined = await commune.open()
                moved = commune.messages[0]
                assert moved["type"] == "moved" and moved["url"].rstrip("/") == node1.base_url, commune.messages[:2]
                assert moved["meeting"] == meeting and moved["node"] == home, moved
                assert commune.base == node1.base_url and joined["node"] == home, (commune.attempts, joined)
                assert set(joined["nodes"]) == bases, joined
                members[COMMUNE] = Member(commune)
                await members[COMMUNE].start_media()
                assert await commune.request({"type": "hand", "raised": True}, "raising the hand") is None

                # Chromium loads the page from node 3 and is sent to node 1.
                page = await asyncio.to_thread(chromium)
                await asyncio.to_thread(page.get, page_url)
                at_home = await page_until(page, lambda s: s.get("joins") == 1 and s.get("node") == home,
                                           REPLY_TIMEOUT * 2, "the page seated on node 1")
                assert at_home["base"] == node1.base_url and set(at_home["nodes"]) == bases, at_home

                before = await everyone_decodes(members, page, "before the kill")
                print("decoded before the kill:", json.dumps(before, sort_keys=True))

                # SIGKILL of the home: its sockets break, its media sessions die.
                node1.proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(node1.proc.wait, 10)
                killed = loop.time()
                rooms = (chair, commune)
                page_seated_at = None
                while True:
                    if page_seated_at is None:
                        got = await page_stats(page)
                        if got.get("joins", 0) >= 2 and got.get("node") not in (None, home):
                            page_seated_at, page_after = loop.time(), got
                    if page_seated_at is not None and all(r.node not in (None, home) for r in rooms):
                        break
                    if loop.time() - killed > RECONNECT_DEADLINE or any(r.failure for r in rooms):
                        raise AssertionError(
                            f"not all seated again {loop.time() - killed:.1f} s after the kill: "
                            f"chair on {chair.node} ({chair.failure}, attempts {chair.attempts[-6:]}), "
                            f"commune on {commune.node} ({commune.failure}, attempts {commune.attempts[-6:]}), "
                            f"page {'seated' if page_seated_at else 'not seated'}\n{describe(page)}")
                    await asyncio.sleep(0.1)
                seated = max(page_seated_at, chair.join_times[-1], commune.join_times[-1]) - killed
                new_home = chair.node
                print(f"all three seated again on the new home {seated:.2f} s after the kill of the old one "
                      f"(chair {chair.join_times[-1] - killed:.2f} s, commune {commune.join_times[-1] - killed:.2f} s, "
                      f"page by {page_seated_at - killed:.2f} s; lease {ROOM_LEASE_S} s)")
                assert commune.node == new_home and page_after["node"] == new_home, \
                    (chair.node, commune.node, page_after["node"])
                assert chair.base == commune.base == page_after["base"], (chair.base, commune.base, page_after["base"])
                assert chair.base in bases - {node1.base_url}, chair.base
                assert chair.joins[-1]["nodes"][0] == chair.base, chair.joins[-1]
                assert seated < SEATED_WITHIN, f"seated again {seated:.1f} s after the kill (wanted < {SEATED_WITHIN:.0f} s)"

                # The seats as they were: the same three, the chair's role, the commune's hand.
                roster = await chair.expect(
                    lambda m: m["type"] == "roster" and {CHAIR, COMMUNE, BROWSER} <= {p["subject"] for p in m["participants"]},
                    REPLY_TIMEOUT, "a roster on the new home listing all three", chair.joined_index())
                by_subject = {p["subject"]: p for p in roster["participants"]}
                assert set(by_subject) == {CHAIR, COMMUNE, BROWSER}, roster
                assert by_subject[CHAIR]["role"] == "chair", by_subject[CHAIR]
                assert by_subject[COMMUNE]["hand"] is True, by_subject[COMMUNE]
                assert by_subject[BROWSER]["role"] == "commune" and by_subject[BROWSER]["hand"] is False, by_subject[BROWSER]

                # Media again, on new peer connections to the new home.
                for member in members.values():
                    await member.media_on(new_home, MEDIA_TIMEOUT)
                    assert member.setups == 2, (member.room.name, member.setups)
                after = await everyone_decodes(members, page, "after the kill")
                print("decoded after the kill:", json.dumps(after, sort_keys=True))
                final = await page_stats(page)
                assert final["peerConnections"] == 2 and final["receivingConnections"] == 1, final
                assert final["joins"] == 2 and final["node"] == new_home, final
                for room in rooms:
                    assert not room.errors(), f"{room.name} got errors: {room.errors()}"
                    assert len(room.joins) == 2 and room.reconnect_seconds, (room.name, room.joins, room.reconnect_seconds)
                return {"seated_s": round(seated, 2), "reconnect_s": {r.name: [round(s, 2) for s in r.reconnect_seconds]
                                                                     for r in rooms},
                        "attempts": {r.name: r.attempts for r in rooms}, "dropped": {r.name: [m["type"] for m in r.dropped] for r in rooms},
                        "old_home": node1.base_url, "new_home": chair.base, "before": before, "after": after}
            finally:
                await leave_all(page, (commune, chair), members)

        summary = run_async(scenario(), 200)
        print(json.dumps(summary, sort_keys=True))
        failed = False
    finally:
        report(nodes, page, artifacts, "meeting-cluster-page", failed)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("proxy", [False, True], ids=["moved", "proxied"])
def test_stations_follow_the_room_to_another_node_when_its_node_is_killed(three_workdirs, postgresql, request, proxy):  # noqa: F811
    """The commune station's own client (`giaoban endpoint join`, RoomClient and RoomEndpoint):
    the chair's station opens the room on node 1, a commune's on node 2 — sent to node 1 with
    `moved`, or with `cluster.proxy_rooms` kept on node 2, its socket passed to node 1 and its
    downlink served by node 2 (`--fallback-url` naming node 1). Node 1 is killed with
    SIGKILL: both stations find the room on node 2 (it takes the room over once the lease
    lapses), publish and watch again there, and decode each other afterwards: more frames
    than could have come before the kill, on a second downlink."""
    env = {**postgresql.environment(postgresql.create_database()), "GIAOBAN_CLUSTER_ROOM_LEASE_S": str(ROOM_LEASE_S),
           "GIAOBAN_CLUSTER_PROXY_ROOMS": "true" if proxy else "false"}
    nodes, procs = [], []
    fps, duration = 10, 26
    try:
        start_nodes(three_workdirs[:2], request, env, "test_meeting_cluster_station", nodes)
        node1, node2 = nodes
        chair_token = node1.token("chi-huy-cum", "chair")
        meeting = create_meeting(node1, chair_token, "Giao ban: trạm xã qua hai nút")

        def join(server, token: str, *extra: str) -> subprocess.Popen:
            proc = subprocess.Popen(
                server_command() + ["endpoint", "join", "--server", server.base_url, "--meeting", str(meeting), "--token", token,
                                    "--watch", "all", "--duration", str(duration), "--width", "160", "--height", "120",
                                    "--fps", str(fps), "--bitrate", "150", "--json", *extra],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(proc)
            return proc

        started = time.monotonic()
        chair = join(node1, chair_token, "--fallback-url", node2.base_url)
        time.sleep(1)
        commune = join(node2, node2.token("xa-cum-b", "commune"), "--fallback-url", node1.base_url)
        wait_for(lambda: node1.metrics().get("giaoban_peers", 0) >= 4, 20, what="both stations publishing and watching on node 1")
        time.sleep(4)
        node1.proc.send_signal(signal.SIGKILL)
        node1.proc.wait(10)
        before_kill = time.monotonic() - started
        wait_for(lambda: node2.metrics().get("giaoban_peers", 0) >= 4, 15, what="both stations publishing and watching on node 2")
        back_after = time.monotonic() - started - before_kill
        summaries = {}
        for name, proc in (("chair", chair), ("commune", commune)):
            out, err = proc.communicate(timeout=duration + 30)
            assert proc.returncode == 0, f"{name}: exit {proc.returncode}: {err[-1500:]}"
            summaries[name] = json.loads(out.strip().splitlines()[-1])
        print(f"stations back on node 2 {back_after:.1f} s after the kill; " + json.dumps(summaries, sort_keys=True))
        assert back_after < 10, f"back after {back_after:.1f} s"
        most_before = fps * before_kill + 10  # frames the other's video could have given before the kill
        for name, other in (("chair", "xa-cum-b"), ("commune", "chi-huy-cum")):
            s = summaries[name]
            assert s["server"] == node2.base_url and s["nodeChanges"] == 1 and s["reconnects"] >= 1, s
            assert s["downlinks"] >= 2, s
            assert s["watched"][other]["framesDecoded"] > most_before + fps * 4, (name, s["watched"], most_before)
        passed = node2.log_path.read_text(errors="replace").count("room socket passed to the node holding the room")
        if proxy:
            # Once before the kill; again by each attempt while node 1's claim had not lapsed.
            assert passed >= 1, "the commune's socket was passed on by node 2"
        else:
            assert summaries["commune"]["moves"] >= 1 and passed == 0, (summaries["commune"], passed)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for node in nodes:
            node.stop()


@pytest.mark.timeout(120)
def test_a_stream_published_on_one_node_is_watched_on_another_through_one_trunk(three_workdirs, postgresql, request):  # noqa: F811
    """A plain WHIP stream published on node 1 (aiortc): two aiortc watchers asking node 2
    decode it, node 2 pulling it from node 1 over one trunk (docs/postgresql.md, "Streams across
    nodes") — node 1 holds the publisher and one watching session, whatever the watchers on
    node 2."""
    env = postgresql.environment(postgresql.create_database())
    nodes = []
    try:
        start_nodes(three_workdirs[:2], request, env, "test_meeting_cluster_stream", nodes)
        node1, node2 = nodes
        stream = unique_stream("toan-tinh")
        with BackgroundPublisher(node1.url(f"/whip/{stream}"), node1.token("chi-huy-tinh", "chair")):
            wait_for(lambda: node1.metrics().get("giaoban_peers", 0) >= 1, 10, what="the publisher on node 1")
            time.sleep(1.5)  # node 1 lists its streams in the database every second

            async def two_watchers() -> list[dict]:
                return await asyncio.gather(*(watch(node2.url(f"/whep/{stream}"), node2.token(f"xa-tinh-{n}", "commune"), 6.0)
                                              for n in (1, 2)))

            summaries = run_async(two_watchers(), 60)
            peers_on_node1 = node1.metrics().get("giaoban_peers", 0)
        for summary in summaries:
            assert_media(summary)
        log = node2.log_path.read_text(errors="replace")
        assert log.count("trunk connected") == 1, "two watchers on node 2 share one trunk"
        assert peers_on_node1 == 2, f"node 1: the publisher and one trunk, not {peers_on_node1} peers"
        assert "relay-node2" in node1.log_path.read_text(errors="replace"), "the trunk's session is node 2's own"
    finally:
        for node in nodes:
            node.stop()


@pytest.mark.timeout(150)
def test_a_trunk_follows_its_stream_to_another_node(three_workdirs, postgresql, request):  # noqa: F811
    """The node that publishes a stream dies (SIGKILL) and the publisher publishes it again on
    another node: the trunk of the node where it is watched finds it there at its next
    reconnection (it looks the stream up again, with a freshly signed bearer), and a watcher
    there decodes it."""
    env = postgresql.environment(postgresql.create_database())
    nodes = []
    try:
        node1, node2, node3 = start_nodes(three_workdirs, request, env, "test_meeting_cluster_move", nodes)
        stream = unique_stream("di-chuyen")
        chair = node1.token("chi-huy-move", "chair")
        held: dict = {}
        with BackgroundPublisher(node1.url(f"/whip/{stream}"), chair):
            wait_for(lambda: node1.metrics().get("giaoban_peers", 0) >= 1, 10, what="the publisher on node 1")
            time.sleep(1.5)
            holder = threading.Thread(target=lambda: held.update(
                run_async(watch(node3.url(f"/whep/{stream}"), node3.token("xa-move-1", "commune"), 25.0), 60)))
            holder.start()
            wait_for(lambda: node3.log_path.read_text(errors="replace").count("trunk connected") == 1, 20,
                     what="node 3's trunk to node 1")
            node1.proc.send_signal(signal.SIGKILL)
            node1.proc.wait(10)
        with BackgroundPublisher(node2.url(f"/whip/{stream}"), chair):
            wait_for(lambda: node3.log_path.read_text(errors="replace").count("trunk re-established") >= 1, 30,
                     what="node 3's trunk re-established (from node 2)")
            again = run_async(watch(node3.url(f"/whep/{stream}"), node3.token("xa-move-2", "commune"), 5.0), 40)
            holder.join(60)
        assert_media(again)
        log = node3.log_path.read_text(errors="replace")
        lines = [line for line in log.splitlines() if line.endswith("trunk re-established")]
        assert lines and f"from={node2.base_url} " in lines[0], f"re-established from node 2: {lines}"
        assert held.get("video_frames", 0) > 0, held
    finally:
        for node in nodes:
            node.stop()


@pytest.mark.timeout(200)
def test_participants_on_another_node_are_served_there(three_workdirs, postgresql, request):  # noqa: F811
    """`cluster.proxy_rooms = true` (the default, set explicitly here; docs/postgresql.md, "Serving a room's
    participants on the node they reached"): the chair (aiortc) holds the room on node 1; two
    communes (aiortc) open it on node 2 and stay there — their sockets passed to node 1, which
    seats them, keeps the roster and answers their publish — while node 2 offers their
    downlinks from one trunk per publisher pulled from node 1. Everyone decodes everyone; node 1
    serves one downlink (the chair's), node 2 two, and node 2 pulls each stream once; a chair's
    mute on node 1 holds a commune's audio back on node 2 too; a plain commune token still
    cannot watch a meeting stream over WHEP."""
    env = {**postgresql.environment(postgresql.create_database()), "GIAOBAN_CLUSTER_PROXY_ROOMS": "true"}
    nodes = []
    names = (CHAIR, "xa-proxy-a", "xa-proxy-b")
    try:
        start_nodes(three_workdirs[:2], request, env, "test_meeting_cluster_proxy", nodes)
        node1, node2 = nodes
        chair_token = node1.token(CHAIR, "chair")
        meeting = create_meeting(node1, chair_token, "Giao ban: phòng qua nút thứ hai")

        def room_on(node, subject: str, role: str) -> RoomSocket:
            query = urllib.parse.urlencode({"access_token": node.token(subject, role)})
            return RoomSocket(node.base_url.replace("http", "ws", 1) + f"/api/meetings/{meeting}/room?{query}", subject)

        async def scenario() -> dict:
            rooms = {CHAIR: room_on(node1, CHAIR, "chair"),
                     names[1]: room_on(node2, names[1], "commune"), names[2]: room_on(node2, names[2], "commune")}
            media: list = []
            try:
                joined = {}
                for name in names:
                    joined[name] = await rooms[name].open()
                    assert rooms[name].messages[0]["type"] == "joined", rooms[name].messages[:2]
                home = joined[CHAIR]["node"]
                for name in names[1:]:
                    # Seated by node 1 through node 2: `joined` names both.
                    assert joined[name]["node"].startswith(home + "/"), (home, joined[name])
                receivers = {}
                for name in names:
                    publisher, receiver = Publisher(rooms[name]), DownlinkReceiver(rooms[name])
                    media += [receiver, publisher]
                    await publisher.publish()
                    await receiver.watch_all()
                    receivers[name] = receiver
                # Node 1's roster, seen on node 2's sockets: everyone seated and publishing.
                await rooms[names[1]].expect(
                    lambda m: m["type"] == "roster" and sum(p["publishing"] for p in m["participants"]) == 3,
                    REPLY_TIMEOUT * 2, "the roster with three publishers")
                await asyncio.gather(*(receivers[CHAIR].frames(subject, MIN_FRAMES, 30.0) for subject in names[1:]))
                # Commune b asked for its downlink after the chair published: node 2 pulled the
                # chair's stream first, so its first offer already carries the chair's tracks.
                first = receivers[names[2]].offers[0]
                assert {t["participant"] for t in first["tracks"]} >= {CHAIR}, first["tracks"]
                await asyncio.gather(*(receivers[viewer].frames(subject, MIN_FRAMES, 30.0)
                                       for viewer in names[1:] for subject in names if subject != viewer))
                decoded = {viewer: {s: receivers[viewer].frames_of(s) for s in names if s != viewer} for viewer in names}

                # The chair mutes commune b at the relay: its audio stops on node 2's downlinks too.
                assert await rooms[CHAIR].request({"type": "mute_participant", "participant": names[2], "muted": True},
                                                  "muting") is None
                await asyncio.sleep(1.5)
                audio_before, video_before = receivers[names[1]].audio_of(names[2]), receivers[names[1]].frames_of(names[2])
                await asyncio.sleep(2.0)
                return {"decoded": decoded, "audio before the mute": audio_before,
                        "audio while muted": receivers[names[1]].audio_of(names[2]) - audio_before,
                        "video while muted": receivers[names[1]].frames_of(names[2]) - video_before}
            finally:
                for closable in media:
                    await closable.close()
                for room in rooms.values():
                    if not room.closed:
                        await room.leave()

        got = run_async(scenario(), 150)
        print("proxied room:", json.dumps(got, sort_keys=True))
        # aiortc decodes silence as frames too; a held-back stream gives none at all.
        assert got["audio before the mute"] > 0, f"commune a decoded no audio of commune b at all: {got}"
        assert got["audio while muted"] == 0, f"commune b's audio kept reaching node 2 after the chair's mute: {got}"
        assert got["video while muted"] > 0, f"commune b's video stopped with its audio: {got}"
        log1 = node1.log_path.read_text(errors="replace")
        log2 = node2.log_path.read_text(errors="replace")
        assert log1.count("downlink connecting") == 1, "node 1 serves the chair's downlink only"
        assert log2.count("downlink connecting") == 2, "node 2 serves its two participants' downlinks"
        assert log2.count("room socket passed to the node holding the room") == 2
        trunks = sorted(line.split("stream=")[1].split()[0] for line in log2.splitlines() if "trunk connected" in line)
        assert trunks == sorted(f"m{meeting}-{s}" for s in names), f"node 2 pulls each of the three streams once: {trunks}"
        assert "relay-node2" in log1, "the trunks' sessions on node 1 are node 2's own"
        # A meeting stream is still nobody's to watch over plain WHEP.
        refused = requests.post(node1.url(f"/whep/m{meeting}-{CHAIR}"), data="v=0\r\n",
                                headers={"Authorization": f"Bearer {node1.token('xa-proxy-c', 'commune')}",
                                         "Content-Type": "application/sdp"}, timeout=10)
        assert refused.status_code == 403, refused.text
    finally:
        for node in nodes:
            node.stop()


def decoded(members: dict[str, Member], page_got: dict) -> dict:
    """Video frames decoded so far, per viewer and publisher, on the members' current downlinks
    and on the page."""
    got = {viewer: {s: member.downlink.frames_of(s) for s in (CHAIR, COMMUNE, BROWSER) if s != viewer}
           for viewer, member in members.items()}
    got[BROWSER] = {s: page_frames(page_got, s) for s in members}
    return got


async def everyone_decodes_more(members: dict[str, Member], page, since: dict, what: str) -> dict:
    """Each viewer decodes more than MIN_FRAMES video frames of every other participant beyond
    `since` (counts of `decoded`) within MEDIA_TIMEOUT."""
    waits = [members[viewer].downlink.frames(subject, since[viewer][subject] + MIN_FRAMES, MEDIA_TIMEOUT)
             for viewer in members for subject in since[viewer]]
    page_wait = page_until(page, lambda s: all(page_frames(s, subject) > since[BROWSER][subject] + MIN_FRAMES for subject in members),
                           MEDIA_TIMEOUT, f"{what}: the page decoding")
    *_, page_got = await asyncio.gather(*waits, page_wait)
    return decoded(members, page_got)


def downlinks_served(node) -> int:
    return node.log_path.read_text(errors="replace").count("downlink connecting")


@pytest.mark.timeout(300)
def test_a_spread_meeting_survives_a_passing_node_and_then_its_holder_being_killed(three_workdirs, postgresql, chromium,  # noqa: F811
                                                                                 request, artifacts):
    """`cluster.proxy_rooms = true` on three nodes: the chair (aiortc) holds the room on node 1,
    a commune (aiortc) stays on node 2 and headless Chromium (`web/room.html`) on node 3, each
    served its downlink where it is; everyone decodes everyone, and the trunks bringing the
    streams to nodes 2 and 3 outlive `cascade.idle_s` (no WHEP session watches them). Node 2 is
    killed with SIGKILL:
    the commune's socket comes back through node 3 (its fallback) within SEATED_WITHIN, its seat
    and raised hand kept by node 1, and everyone decodes everyone again. Then node 1, the
    holder, is killed: node 3 takes the room over once the lease lapses, all three are seated
    there directly, and everyone decodes everyone on new connections to node 3."""
    env = {**postgresql.environment(postgresql.create_database()), "GIAOBAN_CLUSTER_ROOM_LEASE_S": str(ROOM_LEASE_S),
           "GIAOBAN_CLUSTER_PROXY_ROOMS": "true", "GIAOBAN_CASCADE_IDLE_S": str(TRUNK_IDLE_S)}
    nodes = []
    page = None
    failed = True  # until the scenario returns
    try:
        start_nodes(three_workdirs, request, env, "test_meeting_cluster_spread", nodes)
        node1, node2, node3 = nodes
        bases = {node.base_url for node in nodes}
        chair_token = node1.token(CHAIR, "chair")
        meeting = create_meeting(node1, chair_token, "Giao ban: phòng trải trên ba nút")
        page_url = node3.url("/room.html?" + urllib.parse.urlencode(
            {"meeting": meeting, "token": node3.token(BROWSER, "commune"), "downlink": 1, "publish": 1}))

        async def seated_again(rooms, page_was: Optional[str], old: dict, killed: float, what: str) -> float:
            """Waits until every room's `joined` names another node than in `old` (and the page's,
            when `page_was` is set); the seconds from the kill to the last of them."""
            loop = asyncio.get_running_loop()
            page_at = None
            while True:
                if page_was is not None and page_at is None:
                    got = await page_stats(page)
                    if got.get("node") not in (None, page_was) and not got.get("reconnecting"):
                        page_at = loop.time()
                if all(r.node not in (None, old[r.name]) for r in rooms) and (page_was is None or page_at is not None):
                    return max([page_at or killed, *(r.join_times[-1] for r in rooms)]) - killed
                if loop.time() - killed > RECONNECT_DEADLINE or any(r.failure for r in rooms):
                    raise AssertionError(f"{what}: not all seated again {loop.time() - killed:.1f} s after the kill: "
                                         + "; ".join(f"{r.name} on {r.node} ({r.failure}, attempts {r.attempts[-6:]})" for r in rooms)
                                         + f"; page {'seated' if page_at else 'not seated'}\n{describe(page)}")
                await asyncio.sleep(0.1)

        async def roster_after_join(room: ClusterRoom, what: str) -> dict:
            roster = await room.expect(
                lambda m: m["type"] == "roster" and {CHAIR, COMMUNE, BROWSER} <= {p["subject"] for p in m["participants"]},
                REPLY_TIMEOUT, what, room.joined_index())
            by_subject = {p["subject"]: p for p in roster["participants"]}
            assert set(by_subject) == {CHAIR, COMMUNE, BROWSER}, roster
            assert by_subject[CHAIR]["role"] == "chair", by_subject[CHAIR]
            assert by_subject[COMMUNE]["hand"] is True, by_subject[COMMUNE]
            return by_subject

        async def scenario() -> dict:
            nonlocal page
            loop = asyncio.get_running_loop()
            chair = ClusterRoom(node1.base_url, meeting, chair_token, CHAIR, fallbacks=(node3.base_url,))
            commune = ClusterRoom(node2.base_url, meeting, node2.token(COMMUNE, "commune"), COMMUNE, fallbacks=(node3.base_url,))
            members: dict[str, Member] = {}
            try:
                deadline = loop.time() + 10
                while True:  # every node announces itself in the database within a second of starting
                    joined = await chair.open()
                    if set(joined.get("nodes") or ()) == bases or loop.time() >= deadline:
                        break
                    await chair.leave()
                    chair = ClusterRoom(node1.base_url, meeting, chair_token, CHAIR, fallbacks=(node3.base_url,))
                    await asyncio.sleep(0.5)
                home = joined["node"]
                assert set(joined["nodes"]) == bases, joined
                members[CHAIR] = Member(chair)
                await members[CHAIR].start_media()

                # The commune stays on node 2, its socket passed to node 1.
                joined = await commune.open()
                assert commune.messages[0]["type"] == "joined" and commune.attempts == [node2.base_url], commune.messages[:2]
                assert joined["node"].startswith(home + "/"), (home, joined)
                members[COMMUNE] = Member(commune)
                await members[COMMUNE].start_media()
                assert await commune.request({"type": "hand", "raised": True}, "raising the hand") is None

                # Chromium stays on node 3.
                page = await asyncio.to_thread(chromium)
                await asyncio.to_thread(page.get, page_url)
                got = await page_until(page, lambda s: s.get("joins") == 1 and str(s.get("node")).startswith(home + "/"),
                                       REPLY_TIMEOUT * 2, "the page seated on node 1 through node 3")
                assert got["base"] == node3.base_url, got
                page_node = got["node"]
                before = await everyone_decodes(members, page, "all on their own nodes")
                served = {n.name: downlinks_served(n) for n in nodes}
                assert [downlinks_served(n) for n in nodes] == [1, 1, 1], f"each node serves its participant's downlink: {served}"
                # The trunks feed meeting downlinks only (no WHEP watcher): they stay past cascade.idle_s.
                await asyncio.sleep(TRUNK_IDLE_S * 2 + 2)
                for node in (node2, node3):
                    assert "trunk closed" not in node.log_path.read_text(errors="replace"), f"{node.name} closed a trunk in use"

                # SIGKILL of node 2, which the commune's socket passed through.
                old = {CHAIR: chair.node, COMMUNE: commune.node}
                node2.proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(node2.proc.wait, 10)
                killed = loop.time()
                back = await seated_again([commune], None, old, killed, "after node 2 was killed")
                assert commune.base == node3.base_url and commune.node.startswith(home + "/"), (commune.attempts, commune.node)
                assert chair.node == home and len(chair.joins) == 1, "the chair's socket is untouched"
                assert back < SEATED_WITHIN, f"the commune was seated again {back:.1f} s after the kill (wanted < {SEATED_WITHIN:.0f} s)"
                await roster_after_join(commune, "the roster through node 3")
                await members[COMMUNE].media_on(commune.node, MEDIA_TIMEOUT)
                assert members[COMMUNE].setups == 2, members[COMMUNE].setups
                since = decoded(members, await page_stats(page))
                middle = await everyone_decodes_more(members, page, since, "after node 2 was killed")
                assert downlinks_served(node3) == 2 and downlinks_served(node1) == 1, \
                    "node 3 serves the commune's new downlink, node 1 still the chair's only"

                # SIGKILL of node 1, the holder: node 3 takes the room over.
                old = {CHAIR: chair.node, COMMUNE: commune.node}
                node1.proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(node1.proc.wait, 10)
                killed = loop.time()
                taken = await seated_again([chair, commune], page_node, old, killed, "after node 1 was killed")
                new_home = chair.node
                assert "/" not in new_home and new_home != home and commune.node == new_home, (home, chair.node, commune.node)
                assert chair.base == commune.base == node3.base_url, (chair.attempts, commune.attempts)
                final_page = await page_stats(page)
                assert final_page["node"] == new_home and final_page["base"] == node3.base_url, final_page
                assert taken < SEATED_WITHIN, f"seated again {taken:.1f} s after the holder's kill (wanted < {SEATED_WITHIN:.0f} s)"
                by_subject = await roster_after_join(chair, "the roster on node 3")
                assert by_subject[BROWSER]["role"] == "commune", by_subject[BROWSER]
                for member in members.values():
                    await member.media_on(new_home, MEDIA_TIMEOUT)
                since = decoded(members, await page_stats(page))
                after = await everyone_decodes_more(members, page, since, "after the holder was killed")
                final_page = await page_stats(page)
                assert final_page["peerConnections"] == 2 and final_page["receivingConnections"] == 1, final_page
                for room in (chair, commune):
                    assert not room.errors(), f"{room.name} got errors: {room.errors()}"
                return {"commune back through node 3 (s)": round(back, 2), "all on node 3 after the holder's kill (s)": round(taken, 2),
                        "attempts": {r.name: r.attempts for r in (chair, commune)},
                        "decoded": {"before": before, "after node 2": middle, "after node 1": after}}
            finally:
                await leave_all(page, (commune, chair), members)

        summary = run_async(scenario(), 240)
        print("spread meeting:", json.dumps(summary, sort_keys=True))
        failed = False
    finally:
        report(nodes, page, artifacts, "meeting-cluster-spread-page", failed)
