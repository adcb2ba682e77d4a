"""Garbage on the media UDP port: the relay drops it, counts it by reason, and keeps serving.

Datagrams sent (all to 127.0.0.1:<media port>):
- random bytes of random length, and empty or one-byte datagrams;
- first byte 0x40-0x7F, which RFC 7983 assigns to nothing the relay speaks;
- STUN binding requests for a real session with a wrong MESSAGE-INTEGRITY, and for an
  unknown username;
- a DTLS handshake record from an address that never passed ICE, and a truncated one;
- an SRTP-looking packet from an address that never passed ICE.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import struct
import time
import urllib.parse

import requests
from aioice import stun

from conftest import run_async, unique_stream, wait_for
from webrtc_client import WhepWatcher, WhipPublisher, make_offer

DROPPED = "giaoban_udp_dropped_total"


def sdp_attribute(sdp: str, name: str) -> str:
    for line in sdp.splitlines():
        if line.startswith(f"a={name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no a={name} in SDP")


def binding_request(username: str, key: bytes) -> bytes:
    msg = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    msg.attributes["USERNAME"] = username
    msg.attributes["PRIORITY"] = 1853824767
    msg.attributes["ICE-CONTROLLING"] = random.getrandbits(64)
    msg.attributes["USE-CANDIDATE"] = None
    msg.add_message_integrity(key)
    msg.add_fingerprint()
    return bytes(msg)


def dtls_record(length: int) -> bytes:
    body = os.urandom(length)
    # ContentType handshake(22), DTLS 1.2 (fe fd), epoch 0, sequence number, length.
    return struct.pack("!BHH6sH", 22, 0xFEFD, 0, (7).to_bytes(6, "big"), len(body)) + body


def srtp_packet() -> bytes:
    header = struct.pack("!BBHII", 0x80, 96, random.getrandbits(16), random.getrandbits(32), 0x1234ABCD)
    return header + os.urandom(160)


def garbage(server_ufrag: str, client_ufrag: str) -> list[tuple[str, bytes]]:
    rng = random.Random(7983)
    out: list[tuple[str, bytes]] = []
    for _ in range(30):
        out.append(("random", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400)))))
    out += [("short", b"\x00"), ("short", b"\x16"), ("short", b"\x80\x60"), ("short", b"\x00" * 19)]
    for _ in range(20):
        first = rng.randint(0x40, 0x7F)
        out.append(("unknown_first_byte", bytes([first]) + os.urandom(rng.randint(20, 300))))
    for _ in range(5):
        out.append(("stun_bad_integrity", binding_request(f"{server_ufrag}:{client_ufrag}", b"not-the-password")))
    for _ in range(5):
        out.append(("stun_unknown_user", binding_request("nobody:nothing", b"whatever")))
    for _ in range(5):
        out.append(("dtls", dtls_record(120)))
    out.append(("dtls", dtls_record(120)[:20]))
    for _ in range(5):
        out.append(("srtp", srtp_packet()))
    return out


def test_garbage_is_dropped_counted_and_harmless(giaoban):
    before = giaoban.metrics()
    total_before = before.total(DROPPED)
    reasons_before = before.by_label(DROPPED, "reason")

    # A live (never connected) session, so that the bad-integrity STUN names a real username.
    offer = run_async(make_offer("publish"), 20)
    token = giaoban.token("chair-u", "chair")
    resp = requests.post(giaoban.url(f"/whip/{unique_stream('udp')}"), data=offer.encode(),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
                         timeout=10)
    assert resp.status_code == 201, f"POST -> {resp.status_code}: {resp.text[:200]!r}"
    location = urllib.parse.urljoin(giaoban.url("/"), resp.headers["Location"])
    datagrams = garbage(sdp_attribute(resp.text, "ice-ufrag"), sdp_attribute(offer, "ice-ufrag"))

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    replies: list[bytes] = []
    try:
        for _, payload in datagrams:
            sock.sendto(payload, ("127.0.0.1", giaoban.udp_port))
            time.sleep(0.002)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                replies.append(sock.recv(2048))
            except socket.timeout:
                pass
    finally:
        sock.close()

    # No datagram of this list may earn a STUN success response.
    for reply in replies:
        if len(reply) >= 20 and reply[0] < 4:
            msg = stun.parse_message(reply)
            assert msg.message_class != stun.Class.RESPONSE, f"STUN success answered to garbage: {msg}"

    def counted():
        return giaoban.metrics().total(DROPPED) - total_before >= len(datagrams) // 2

    wait_for(counted, 5, what=f"{DROPPED} to count at least half of {len(datagrams)} garbage datagrams")
    after = giaoban.metrics()
    reasons_after = after.by_label(DROPPED, "reason")
    rose = {r: reasons_after[r] - reasons_before.get(r, 0) for r in reasons_after
            if reasons_after[r] > reasons_before.get(r, 0)}
    print(f"sent {len(datagrams)} datagrams; {DROPPED} rose by {after.total(DROPPED) - total_before:g}: {rose}")
    assert len(rose) >= 2, f"only these reasons rose: {rose}"

    # Still serving: health, then a publisher that connects all the way (ICE, DTLS, SRTP).
    assert giaoban.alive(), "the server died"
    assert giaoban.healthy()
    requests.delete(location, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    async def publish_once() -> str:
        publisher = WhipPublisher(giaoban.url(f"/whip/{unique_stream('after')}"), token)
        try:
            await publisher.start(connect_timeout=15)
            return publisher.pc.connectionState
        finally:
            await publisher.close()

    assert run_async(publish_once(), 40) == "connected"


def test_garbage_during_a_live_session_does_not_break_it(giaoban):
    """Garbage from another address while media flows: the session keeps forwarding."""
    stream = unique_stream("live")
    token = giaoban.token("chair-v", "chair")
    watch_token = giaoban.token("observer-v", "observer")

    async def scenario() -> dict:
        publisher = WhipPublisher(giaoban.url(f"/whip/{stream}"), token)
        watcher = WhepWatcher(giaoban.url(f"/whep/{stream}"), watch_token)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            await publisher.start(connect_timeout=15)
            await watcher.start(connect_timeout=15)
            for _, payload in garbage("x", "y") * 3:
                sock.sendto(payload, ("127.0.0.1", giaoban.udp_port))
                await asyncio.sleep(0.01)
            return await watcher.collect(3.0)
        finally:
            sock.close()
            await watcher.close()
            await publisher.close()

    summary = run_async(scenario(), 60)
    print(summary)
    assert summary["video_frames"] >= 60, summary
    assert summary["max_frame_gap_s"] < 1.0, summary
