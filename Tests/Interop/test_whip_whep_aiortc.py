"""aiortc publishes over WHIP, aiortc watches over WHEP, through the relay."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest
import requests

from conftest import HERE, run_async, sdp_media_sections, unique_stream, wait_for
from webrtc_client import WhepWatcher, WhipPublisher, answer_candidates, make_offer

pytestmark = pytest.mark.media

WATCH_SECONDS = 6.0
MIN_FRAMES = 30
MIN_RMS = 0.05
TONE_HZ = 440.0
TONE_TOLERANCE_HZ = 20.0


def test_whip_answer_is_ice_lite_with_candidates(giaoban):
    """The answer carries what aiortc and Chromium need to connect without trickle ICE."""
    offer = run_async(make_offer("publish"), 20)
    token = giaoban.token("chair-a", "chair")
    resp = requests.post(giaoban.url(f"/whip/{unique_stream()}"), data=offer.encode(),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
                         timeout=10)
    assert resp.status_code == 201, f"POST -> {resp.status_code}: {resp.text[:200]!r}"
    try:
        answer = resp.text
        assert "a=ice-lite" in answer
        candidates = answer_candidates(answer)
        assert ("127.0.0.1", giaoban.udp_port) in candidates, f"candidates {candidates}, media port {giaoban.udp_port}"
        assert re.search(r"^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\s*$", answer, re.M | re.I), \
            "no SHA-256 fingerprint"
        offered, answered = sdp_media_sections(offer), sdp_media_sections(answer)
        assert [s[0].split()[0] for s in answered] == [s[0].split()[0] for s in offered], "m-lines differ"
        mids = lambda sections: [l for s in sections for l in s if l.startswith("a=mid:")]  # noqa: E731
        assert mids(answered) == mids(offered), "mids differ from the offer's"
        assert any(l.startswith("a=group:BUNDLE") for l in answer.splitlines()), "BUNDLE group dropped"
        for section in answered:
            assert "a=rtcp-mux" in section, f"no a=rtcp-mux in {section[0]}"
            setup = [l for l in section if l.startswith("a=setup:")]
            assert setup and setup[0] in ("a=setup:active", "a=setup:passive"), f"{section[0]}: {setup}"
    finally:
        requests.delete(requests.compat.urljoin(giaoban.url("/"), resp.headers.get("Location", "/")),
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def assert_media(summary: dict, width: int = 320, height: int = 240, tone: bool = True) -> None:
    frames = summary["video_sizes"].get(f"{width}x{height}", 0)
    assert frames >= MIN_FRAMES, f"{frames} frames of {width}x{height} decoded: {summary}"
    assert summary["audio_rms"] > MIN_RMS, f"audio RMS {summary['audio_rms']}: {summary}"
    if tone:
        assert abs(summary["audio_dominant_hz"] - TONE_HZ) <= TONE_TOLERANCE_HZ, f"dominant frequency: {summary}"


def whep_status(giaoban, stream: str, token: str, offer: str) -> int:
    """Status of a WHEP POST; a session it creates is deleted at once."""
    resp = requests.post(giaoban.url(f"/whep/{stream}"), data=offer.encode(),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
                         timeout=10)
    if resp.status_code == 201 and resp.headers.get("Location"):
        requests.delete(requests.compat.urljoin(giaoban.url("/"), resp.headers["Location"]),
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return resp.status_code


def test_aiortc_publishes_aiortc_watches(giaoban):
    stream = unique_stream("aio")
    publish_token = giaoban.token("commune-7", "commune")
    watch_token = giaoban.token("observer-7", "observer")
    forwarded_before = giaoban.metrics().total("giaoban_rtp_forwarded_total")

    async def scenario() -> tuple[dict, WhipPublisher]:
        publisher = WhipPublisher(giaoban.url(f"/whip/{stream}"), publish_token)
        watcher = WhepWatcher(giaoban.url(f"/whep/{stream}"), watch_token)
        try:
            await publisher.start(connect_timeout=15)
            await watcher.start(connect_timeout=15)
            summary = await watcher.collect(WATCH_SECONDS)
            await watcher.close()
            summary["delete_status"] = watcher.delete_status
        finally:
            await watcher.close()
            await publisher.close()
        return summary, publisher

    summary, publisher = run_async(scenario(), 60)
    print(json.dumps(summary, sort_keys=True))
    assert summary["connection_state"] == "connected"
    assert_media(summary)
    assert summary["delete_status"] == 200, "DELETE of the WHEP session"
    assert publisher.delete_status == 200, "DELETE of the WHIP session"
    assert giaoban.metrics().total("giaoban_rtp_forwarded_total") > forwarded_before

    # Once the publisher is gone, the stream is gone.
    offer = run_async(make_offer("watch"), 20)
    wait_for(lambda: whep_status(giaoban, stream, watch_token, offer) == 404, 10,
             what=f"WHEP of {stream} to answer 404 after the publisher's DELETE")


def test_two_watchers_see_one_publisher(giaoban):
    stream = unique_stream("fan")
    publish_token = giaoban.token("chair-8", "chair")
    watch_token = giaoban.token("observer-8", "observer")

    async def scenario() -> list[dict]:
        publisher = WhipPublisher(giaoban.url(f"/whip/{stream}"), publish_token)
        watchers = [WhepWatcher(giaoban.url(f"/whep/{stream}"), watch_token) for _ in range(2)]
        try:
            await publisher.start(connect_timeout=15)
            await asyncio.gather(*(w.start(connect_timeout=15) for w in watchers))
            return list(await asyncio.gather(*(w.collect(WATCH_SECONDS) for w in watchers)))
        finally:
            for w in watchers:
                await w.close()
            await publisher.close()

    summaries = run_async(scenario(), 60)
    for summary in summaries:
        print(json.dumps(summary, sort_keys=True))
        assert_media(summary)


def test_cli_publish_and_watch(giaoban):
    """The client's command line, as a person debugging the relay would use it."""
    stream = unique_stream("cli")
    client = str(HERE / "clients" / "webrtc_client.py")
    publish = subprocess.Popen(
        [sys.executable, client, "publish", "--url", giaoban.url(f"/whip/{stream}"),
         "--token", giaoban.token("chair-9", "chair"), "--seconds", "14", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        offer = run_async(make_offer("watch"), 20)
        watch_token = giaoban.token("observer-9", "observer")
        wait_for(lambda: whep_status(giaoban, stream, watch_token, offer) == 201, 15,
                 what=f"{stream} to be published by the CLI")
        watch = subprocess.run(
            [sys.executable, client, "watch", "--url", giaoban.url(f"/whep/{stream}"),
             "--token", watch_token, "--seconds", "4", "--json"],
            capture_output=True, text=True, timeout=40)
        assert watch.returncode == 0, f"watch CLI: {watch.stdout} {watch.stderr[-2000:]}"
        summary = json.loads(watch.stdout.strip().splitlines()[-1])
        assert summary["video_frames"] >= 20, summary
        out, err = publish.communicate(timeout=30)
        assert publish.returncode == 0, f"publish CLI: {out} {err[-2000:]}"
        assert json.loads(out.strip().splitlines()[-1])["delete_status"] == 200
    finally:
        if publish.poll() is None:
            publish.kill()
            publish.wait(5)
