"""Packet loss between the relay and a watcher is repaired by retransmission (NACK, RFC 4585).

A UDP proxy sits between the aiortc watcher and the relay: the WHEP answer's candidate is
rewritten to the proxy's port before setRemoteDescription, and the proxy forwards both ways,
dropping about 5 % of the relay's RTP packets. It tells datagrams apart by their first byte
(RFC 7983): STUN (0-3) and DTLS (20-63) always pass; of 128-191, RTCP (second byte, marker
masked, in 64-95, i.e. packet types 192-223) always passes; only RTP may be dropped.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from typing import Optional

from conftest import run_async, unique_stream, wait_for
from webrtc_client import WhepWatcher, WhipPublisher, answer_candidates

RETRANSMITTED = "giaoban_rtp_retransmitted_total"
LOSS = 0.05
WATCH_SECONDS = 8.0


def classify(data: bytes) -> str:
    if not data:
        return "empty"
    first = data[0]
    if first <= 3:
        return "stun"
    if 20 <= first <= 63:
        return "dtls"
    if 128 <= first <= 191 and len(data) >= 2:
        return "rtcp" if 64 <= (data[1] & 0x7F) <= 95 else "rtp"
    return "other"


class LossyProxy:
    """Forwards watcher <-> relay datagrams; drops a share of the relay's RTP packets."""

    def __init__(self, loss: float, seed: int = 4585) -> None:
        self.loss = loss
        self.rng = random.Random(seed)
        self.target: Optional[tuple[str, int]] = None
        self.client: Optional[tuple[str, int]] = None
        self.counts: dict[str, int] = {}
        self.dropped = 0
        self.nacks_seen = 0
        self.port = 0

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        proxy = self

        class Downstream(asyncio.DatagramProtocol):  # facing the watcher
            def datagram_received(self, data: bytes, addr) -> None:
                proxy.client = addr
                kind = classify(data)
                proxy._count(f"up_{kind}")
                # A generic NACK (RTPFB, PT 205, FMT 1): its header is not encrypted by SRTCP.
                if kind == "rtcp" and data[1] == 205 and (data[0] & 0x1F) == 1:
                    proxy.nacks_seen += 1
                if proxy.target:
                    proxy.upstream.sendto(data, proxy.target)

        class Upstream(asyncio.DatagramProtocol):  # facing the relay
            def datagram_received(self, data: bytes, addr) -> None:
                kind = classify(data)
                proxy._count(f"down_{kind}")
                if kind == "rtp" and proxy.rng.random() < proxy.loss:
                    proxy.dropped += 1
                    return
                if proxy.client:
                    proxy.downstream.sendto(data, proxy.client)

        self.downstream, _ = await loop.create_datagram_endpoint(Downstream, local_addr=("127.0.0.1", 0))
        self.upstream, _ = await loop.create_datagram_endpoint(Upstream, local_addr=("127.0.0.1", 0))
        self.port = self.downstream.get_extra_info("sockname")[1]

    def rewrite_answer(self, sdp: str) -> str:
        """Points the answer at the proxy: keeps one 127.0.0.1 candidate, with the proxy's port."""
        candidates = [c for c in answer_candidates(sdp) if c[0] == "127.0.0.1"]
        assert candidates, f"no 127.0.0.1 candidate in the WHEP answer:\n{sdp}"
        self.target = candidates[0]
        lines = []
        for line in sdp.splitlines():
            if line.startswith("a=candidate:"):
                parts = line.split()
                if (parts[4], int(parts[5])) != self.target:
                    continue
                parts[5] = str(self.port)
                line = " ".join(parts)
            elif line.startswith("m=") and line.split()[1] == str(self.target[1]):
                parts = line.split()
                parts[1] = str(self.port)
                line = " ".join(parts)
            lines.append(line)
        rewritten = "\r\n".join(lines) + "\r\n"
        assert re.search(rf" 127\.0\.0\.1 {self.port} typ ", rewritten)
        return rewritten

    def close(self) -> None:
        self.downstream.close()
        self.upstream.close()


def test_lost_packets_are_retransmitted(giaoban):
    stream = unique_stream("nack")
    retransmitted_before = giaoban.metrics().total(RETRANSMITTED)

    async def scenario() -> tuple[dict, LossyProxy]:
        proxy = LossyProxy(LOSS)
        await proxy.start()
        publisher = WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token("chair-n", "chair"))
        watcher = WhepWatcher(giaoban.url(f"/whep/{stream}"), giaoban.token("observer-n", "observer"),
                              answer_transform=proxy.rewrite_answer)
        try:
            await publisher.start(connect_timeout=15)
            await watcher.start(connect_timeout=15)
            # Decoded frames per second of the window: continuity, not only a total.
            per_second = []
            for _ in range(int(WATCH_SECONDS)):
                before = watcher.video_frames
                await asyncio.sleep(1.0)
                per_second.append(watcher.video_frames - before)
            summary = watcher.summary()
            summary["frames_per_second"] = per_second
            return summary, proxy
        finally:
            await watcher.close()
            await publisher.close()
            proxy.close()

    summary, proxy = run_async(scenario(), 60)
    report = {"watcher": summary, "proxy": {"dropped": proxy.dropped, "nacks_seen": proxy.nacks_seen,
                                            "counts": proxy.counts}}
    print(json.dumps(report, sort_keys=True))

    assert proxy.counts.get("down_rtp", 0) > 100, f"media did not flow through the proxy: {report}"
    assert proxy.dropped > 0, report
    assert summary["connection_state"] == "connected", report
    assert summary["video_sizes"].get("320x240", 0) >= 60, f"too few frames decoded: {report}"
    # Continuous: after the first second, every second of the window decodes frames.
    assert all(n > 0 for n in summary["frames_per_second"][1:]), f"decoding stalled: {report}"
    assert summary["max_frame_gap_s"] < 2.0, report

    def retransmitted() -> bool:
        return giaoban.metrics().total(RETRANSMITTED) > retransmitted_before

    wait_for(retransmitted, 5,
             what=f"{RETRANSMITTED} to rise (the watcher sent {proxy.nacks_seen} NACK packets)")
