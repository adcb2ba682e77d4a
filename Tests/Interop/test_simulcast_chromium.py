"""Headless Chromium publishes simulcast (three rid encodings, RFC 8853) through WHIP; the
relay forwards one layer per watcher: aiortc, sending no bandwidth estimate, gets the full
size; `giaoban endpoint watch --max-bitrate` tells the relay (REMB) its link is thin and gets
a smaller layer. Both decode without error."""

from __future__ import annotations

import json
import subprocess
import urllib.parse

import pytest

from conftest import run_async, server_command, unique_stream
from test_whip_whep_chromium import CONNECT_TIMEOUT, chromium, connected, screenshot, wait_page  # noqa: F401
from webrtc_client import WhepWatcher

pytestmark = [pytest.mark.chromium, pytest.mark.media]


def simulcast_page(giaoban, stream: str, token: str) -> str:
    query = urllib.parse.urlencode({"stream": stream, "token": token, "simulcast": 3})
    return f"{giaoban.base_url}/whip.html?{query}"


def test_chromium_simulcast_one_layer_per_watcher(giaoban, chromium, artifacts):
    stream = unique_stream("sim")
    publisher = chromium()
    try:
        publisher.get(simulcast_page(giaoban, stream, giaoban.token("chair-sim", "chair")))
        stats = wait_page(publisher, connected, CONNECT_TIMEOUT, "simulcast publisher connected")
        print(json.dumps(stats, sort_keys=True))

        async def watch() -> dict:
            watcher = WhepWatcher(giaoban.url(f"/whep/{stream}"), giaoban.token("observer-sim", "observer"))
            try:
                await watcher.start(connect_timeout=15)
                return await watcher.collect(8.0)
            finally:
                await watcher.close()

        full = run_async(watch(), 50)
        print("aiortc:", json.dumps(full, sort_keys=True))
        assert full["video_frames"] >= 20, full
        widths = [int(size.split("x")[0]) for size in full["video_sizes"]]

        thin = subprocess.run(
            server_command() + ["endpoint", "watch", "--url", giaoban.base_url, "--stream", stream,
                                "--token", giaoban.token("observer-thin", "observer"), "--duration", "8",
                                "--max-bitrate", "260", "--json"],
            capture_output=True, text=True, timeout=60)
        assert thin.returncode == 0, thin.stderr[-800:]
        summary = json.loads(thin.stdout.strip().splitlines()[-1])
        print("endpoint --max-bitrate 260:", json.dumps(summary, sort_keys=True))
        assert summary["framesDecoded"] >= 20, summary
        assert summary["decodeErrors"] == 0, summary
        # The thin watcher ends on a smaller layer than the widest aiortc decoded.
        assert 0 < summary["width"] < max(widths), (summary, full["video_sizes"])
        metrics = giaoban.metrics()
        assert metrics.total("giaoban_remb_received_total") > 0
        assert metrics.total("giaoban_layer_switches_total") >= 2
    finally:
        screenshot(publisher, artifacts, "chromium-simulcast-publisher")
