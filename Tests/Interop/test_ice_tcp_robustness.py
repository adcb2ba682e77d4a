"""Bad input on the relay's newer edges: its ICE-TCP port, and checks relayed by TURN.

- ICE-TCP (media.tcp_port, RFC 4571 framing): a 64 KiB frame, a first frame that is DTLS
  rather than a STUN check, and a wrong length prefix (the next "frame" starts with a byte
  that is neither STUN, DTLS nor RTP): each connection is closed by the relay and counted in
  giaoban_ice_tcp_rejected_total by reason, while a publisher and a watcher over UDP go on
  undisturbed, and a well-formed check on another connection is still answered.
- TURN: a binding request for a real session with a wrong MESSAGE-INTEGRITY, sent through
  coturn (aioice's TURN client, credentials minted like the relay's TURN REST ones), is
  dropped unanswered and counted as stun_bad_integrity.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import struct
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from aioice import stun
from aioice.turn import create_turn_endpoint

from conftest import Giaoban, free_port, run_async, running, unique_stream, wait_for
from test_turn import coturn  # noqa: F401 - the fixture
from test_udp_robustness import binding_request, dtls_record, sdp_attribute
from webrtc_client import WhepWatcher, WhipPublisher, make_offer

REJECTED = "giaoban_ice_tcp_rejected_total"
DROPPED = "giaoban_udp_dropped_total"


@pytest.fixture(scope="module")
def relay(request):
    server = Giaoban("test_ice_tcp_robustness", Path(tempfile.mkdtemp(prefix="giaoban-icetcp-")))
    server.tcp_port = free_port()
    server.extra_env = {"GIAOBAN_MEDIA_TCP_PORT": str(server.tcp_port)}
    with running(request, server):
        yield server


def frame(payload: bytes) -> bytes:
    return struct.pack("!H", len(payload)) + payload


def closed_by_relay(relay: Giaoban, data: bytes, timeout: float = 5.0) -> bool:
    """Sends `data` on a new TCP connection to the ICE-TCP port; True when the relay closes it."""
    with socket.create_connection(("127.0.0.1", relay.tcp_port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return True  # closed while the rest of a long frame was still being sent
        s.settimeout(timeout)
        try:
            while s.recv(4096):
                pass  # an answer to a check that came first, before the bad frame
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def live_session(relay: Giaoban) -> tuple[str, str, str, str]:
    """A WHIP session that never connects: its relay ufrag names a real peer."""
    offer = run_async(make_offer("publish"), 20)
    token = relay.token("chair-tcp", "chair")
    resp = requests.post(relay.url(f"/whip/{unique_stream('tcpcheck')}"), data=offer.encode(),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}, timeout=10)
    assert resp.status_code == 201, resp.text
    assert any(" tcp " in line and "tcptype passive" in line for line in resp.text.splitlines()
               if line.startswith("a=candidate:")), "the answer carries the ICE-TCP candidate"
    return (sdp_attribute(resp.text, "ice-ufrag"), sdp_attribute(resp.text, "ice-pwd"), sdp_attribute(offer, "ice-ufrag"),
            urllib.parse.urljoin(relay.url("/"), resp.headers["Location"]))


def test_bad_tcp_frames_close_their_connection_are_counted_and_disturb_nothing(relay):
    server_ufrag, server_pwd, client_ufrag, location = live_session(relay)
    good_check = binding_request(f"{server_ufrag}:{client_ufrag}", server_pwd.encode())
    bad = {
        "oversize_frame": struct.pack("!H", 0xFFFF) + bytes(65_535),
        "not_stun_first": frame(dtls_record(60)),
        # A check, then a prefix that says 2 bytes where 7 follow: the next "frame" starts at 0x50.
        "bad_frame": frame(good_check) + struct.pack("!H", 2) + b"\x00\x01" + struct.pack("!H", 5) + b"\x50abcd",
    }
    stream = unique_stream("tcpbad")
    token, watch_token = relay.token("chair-tcpbad", "chair"), relay.token("observer-tcpbad", "observer")
    before = relay.metrics().by_label(REJECTED, "reason")

    async def scenario() -> dict:
        publisher = WhipPublisher(relay.url(f"/whip/{stream}"), token)
        watcher = WhepWatcher(relay.url(f"/whep/{stream}"), watch_token)
        try:
            await publisher.start(connect_timeout=15)
            await watcher.start(connect_timeout=15)
            loop = asyncio.get_running_loop()
            for reason, data in bad.items():
                for _ in range(3):
                    assert await loop.run_in_executor(None, closed_by_relay, relay, data), f"{reason}: connection kept open"
            return await watcher.collect(3.0)
        finally:
            await watcher.close()
            await publisher.close()

    summary = run_async(scenario(), 90)
    print(summary)
    assert summary["video_frames"] >= 60 and summary["max_frame_gap_s"] < 1.0, summary
    after = relay.metrics().by_label(REJECTED, "reason")
    for reason in bad:
        assert after.get(reason, 0) - before.get(reason, 0) == 3, f"{reason}: {before} -> {after}"

    # A well-formed check on a new connection is still answered, over the same framing (a new
    # transaction: the one above, seen again from another connection, is dropped as a replay).
    with socket.create_connection(("127.0.0.1", relay.tcp_port), timeout=5) as s:
        s.sendall(frame(binding_request(f"{server_ufrag}:{client_ufrag}", server_pwd.encode())))
        header = s.recv(2, socket.MSG_WAITALL)
        (length,) = struct.unpack("!H", header)
        reply = stun.parse_message(s.recv(length, socket.MSG_WAITALL))
        assert reply.message_class == stun.Class.RESPONSE, reply
        mapped = reply.attributes["XOR-MAPPED-ADDRESS"]
        assert mapped == s.getsockname(), f"XOR-MAPPED-ADDRESS {mapped} is the connection's own address"
    requests.delete(location, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert relay.alive() and relay.healthy()


def test_a_turn_relayed_check_with_bad_integrity_is_dropped_and_counted(relay, coturn):  # noqa: F811
    server_ufrag, _, client_ufrag, location = live_session(relay)
    before = relay.metrics().by_label(DROPPED, "reason").get("stun_bad_integrity", 0)
    username = f"{int(time.time()) + 600}:xa-turn-bad"
    password = base64.b64encode(hmac.new(coturn.secret.encode(), username.encode(), hashlib.sha1).digest()).decode()

    class Inbox(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.received: list[bytes] = []

        def datagram_received(self, data, addr) -> None:
            self.received.append(data)

    async def scenario() -> tuple[list[bytes], tuple]:
        transport, inbox = await create_turn_endpoint(Inbox, server_addr=(coturn.ip, coturn.port),
                                                      username=username, password=password)
        try:
            relayed = transport.get_extra_info("sockname")
            for _ in range(5):
                transport.sendto(binding_request(f"{server_ufrag}:{client_ufrag}", b"not-the-password"),
                                 ("127.0.0.1", relay.udp_port))
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            return inbox.received, relayed
        finally:
            transport.close()

    received, relayed = run_async(scenario(), 30)
    print(f"TURN relayed address {relayed}; {len(received)} datagrams back")
    assert not any(len(d) >= 20 and d[0] < 4 and stun.parse_message(d).message_class == stun.Class.RESPONSE
                   for d in received), "a check with a bad MESSAGE-INTEGRITY was answered"
    wait_for(lambda: relay.metrics().by_label(DROPPED, "reason").get("stun_bad_integrity", 0) - before >= 5, 5,
             what="five stun_bad_integrity drops")
    token = relay.token("chair-tcp", "chair")
    requests.delete(location, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert relay.alive() and relay.healthy()
