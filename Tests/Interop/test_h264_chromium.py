"""H.264 through the relay (RFC 6184, packetization mode 1), no transcoding.

Headless Chromium (Debian's build sends and receives H.264) publishes its camera offering
only H.264 (`whip.html?codec=h264`); another Chromium watches over WHEP and decodes it.
getStats names the codec on both sides; the relay's log names it for the session. A watcher
that cannot receive H.264 gets no video line rather than a broken one.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

import requests
from aiortc import RTCPeerConnection, RTCRtpReceiver

from conftest import run_async, unique_stream
from test_whip_whep_chromium import (  # noqa: F401 - chromium is a fixture
    CONNECT_TIMEOUT, MEDIA_TIMEOUT, chromium, connected, describe, receiving, screenshot, wait_page,
)

pytestmark = [pytest.mark.chromium, pytest.mark.media]


def test_chromium_publishes_h264_and_chromium_decodes_it(giaoban, chromium, artifacts):
    stream = unique_stream("h264")
    publisher, watcher = chromium(), chromium()
    query = urllib.parse.urlencode({"stream": stream, "token": giaoban.token("camera-h264", "chair"), "codec": "h264"})
    try:
        publisher.get(giaoban.url(f"/whip.html?{query}"))
        sent = wait_page(publisher, lambda s: connected(s) and s.get("framesSent", 0) > 10, CONNECT_TIMEOUT,
                         "publisher sending H.264")
        assert sent["videoCodec"] == "video/H264", f"the publisher sends {sent['videoCodec']}\n{describe(publisher)}"
        query = urllib.parse.urlencode({"stream": stream, "token": giaoban.token("observer-h264", "observer")})
        watcher.get(giaoban.url(f"/whep.html?{query}"))
        got = wait_page(watcher, receiving, MEDIA_TIMEOUT, "watcher decoding H.264")
        print(json.dumps({"publisher": sent, "watcher": got}, sort_keys=True))
        assert got["videoCodec"] == "video/H264", got
        assert got["frameWidth"] > 0 and got["frameHeight"] > 0
        assert "video=H264" in giaoban.log_tail(400), "the relay's log names the codec"
    finally:
        screenshot(publisher, artifacts, "h264-publisher")
        screenshot(watcher, artifacts, "h264-watcher")


def test_a_watcher_without_h264_gets_audio_only(giaoban, chromium):
    stream = unique_stream("h264a")
    publisher = chromium()
    query = urllib.parse.urlencode({"stream": stream, "token": giaoban.token("camera-h264b", "chair"), "codec": "h264"})
    publisher.get(giaoban.url(f"/whip.html?{query}"))
    wait_page(publisher, connected, CONNECT_TIMEOUT, "publisher sending H.264")

    async def vp8_only_offer() -> str:
        # aiortc offers VP8 and H.264; restricted to VP8, the watcher cannot take the stream's video.
        pc = RTCPeerConnection()
        try:
            pc.addTransceiver("audio", direction="recvonly")
            video = pc.addTransceiver("video", direction="recvonly")
            video.setCodecPreferences([c for c in RTCRtpReceiver.getCapabilities("video").codecs if c.mimeType == "video/VP8"])
            await pc.setLocalDescription(await pc.createOffer())
            return pc.localDescription.sdp
        finally:
            await pc.close()

    offer = run_async(vp8_only_offer(), 30)
    assert "H264" not in offer
    resp = requests.post(giaoban.url(f"/whep/{stream}"), data=offer.encode(), timeout=10,
                         headers={"Authorization": f"Bearer {giaoban.token('observer-vp8', 'observer')}",
                                  "Content-Type": "application/sdp"})
    assert resp.status_code == 201, resp.text
    answer = resp.text
    video = answer.split("m=video", 1)[1] if "m=video" in answer else ""
    assert video.startswith(" 0 "), f"the video line is rejected (port 0):\n{answer}"


def test_aiortc_publishes_h264_and_chromium_and_aiortc_decode_it(giaoban, chromium, artifacts):
    """aiortc offers only H.264 (constrained baseline, packetization mode 1): the relay takes it,
    and Chromium and aiortc watchers decode it."""
    from webrtc_client import BackgroundPublisher, watch  # noqa: PLC0415 - the aiortc client

    stream = unique_stream("h264-aiortc")
    with BackgroundPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token("aiortc-h264", "chair"), video_codec="H264") as sending:
        answer = sending.publisher.answer_sdp
        assert "H264/90000" in answer and "VP8" not in answer, answer
        watcher = chromium()
        query = urllib.parse.urlencode({"stream": stream, "token": giaoban.token("observer-h264-aiortc", "observer")})
        watcher.get(giaoban.url(f"/whep.html?{query}"))
        got = wait_page(watcher, receiving, MEDIA_TIMEOUT, "Chromium decoding aiortc's H.264")
        assert got["videoCodec"] == "video/H264" and got["frameWidth"] > 0, got
        screenshot(watcher, artifacts, "h264-aiortc-watcher")
        seen = run_async(watch(giaoban.url(f"/whep/{stream}"), giaoban.token("aiortc-h264-viewer", "observer"), seconds=4), 40)
        print(json.dumps({"chromium": got, "aiortc": seen}, sort_keys=True, default=str))
        assert seen.get("video_frames", 0) > 20, seen
