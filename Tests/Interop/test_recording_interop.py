"""`giaoban endpoint watch --output FILE.webm` against the relay with aiortc publishing: the
WebM file the endpoint writes is judged by FFmpeg's ffprobe and decoder (through PyAV) and by
mkvtoolnix's mkvinfo, both after a clean end and after the endpoint is killed mid-recording."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import av
import numpy
import pytest

from conftest import run_async, unique_stream
from test_endpoint_interop import HEIGHT, WIDTH, endpoint, finish
from webrtc_client import WhipPublisher

pytestmark = pytest.mark.media


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/setup.sh --test (Debian packages ffmpeg and mkvtoolnix)"
    return path


def ffprobe(path: Path) -> dict:
    out = subprocess.run([tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def stream_of(probe: dict, kind: str) -> dict:
    return next(s for s in probe["streams"] if s["codec_type"] == kind)


def decode(path: Path) -> tuple[list[tuple[int, int]], numpy.ndarray]:
    """Every decoded picture's size, and the decoded audio (mono float)."""
    with av.open(str(path)) as container:
        sizes = [(f.width, f.height) for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray()[0] for f in container.decode(audio=0)]  # the first (only) channel
    return sizes, numpy.concatenate(chunks) if chunks else numpy.zeros(0)


def dominant_hz(samples: numpy.ndarray, rate: int = 48_000) -> float:
    spectrum = numpy.abs(numpy.fft.rfft(samples * numpy.hanning(len(samples))))
    return float(numpy.fft.rfftfreq(len(samples), 1 / rate)[int(numpy.argmax(spectrum[1:])) + 1])


async def publish_while(giaoban, stream: str, run) -> object:
    publisher = WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token(f"chair-{stream}", "chair"))
    try:
        await publisher.start(connect_timeout=15)
        return await run()
    finally:
        await publisher.close()


def start_watch(giaoban, stream: str, output: Path, seconds: int) -> subprocess.Popen:
    token = giaoban.token(f"xa-{stream}", "commune")
    return subprocess.Popen(
        endpoint(giaoban, "watch", "--stream", stream, "--token", token, "--duration", str(seconds),
                 "--output", str(output), "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_endpoint_records_aiortc_to_webm(giaoban, tmp_path):
    stream = unique_stream("rec")
    webm = tmp_path / "watched.webm"

    async def run() -> dict:
        proc = start_watch(giaoban, stream, webm, 6)
        deadline = time.monotonic() + 40
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # keep aiortc's event loop sending
        return finish(proc, 5)

    summary = run_async(publish_while(giaoban, stream, run), 60)
    assert summary["recorded"] == str(webm)
    probe = ffprobe(webm)
    video, audio = stream_of(probe, "video"), stream_of(probe, "audio")
    assert video["codec_name"] == "vp8" and (video["width"], video["height"]) == (WIDTH, HEIGHT)
    assert audio["codec_name"] == "opus" and audio["sample_rate"] == "48000"
    duration = float(probe["format"]["duration"])
    print(f"{duration} s recorded of {summary['seconds']} s watched")
    assert 4.0 <= duration <= summary["seconds"] * 1.05, f"{duration} s recorded of {summary['seconds']} s watched"
    info = subprocess.run([tool("mkvinfo"), "--all", str(webm)], capture_output=True, text=True, timeout=30).stdout
    assert "Cue point" in info and "Seek head" in info
    sizes, samples = decode(webm)
    assert len(sizes) >= 0.8 * summary["framesDecoded"], f"{len(sizes)} of {summary['framesDecoded']} frames"
    assert set(sizes) == {(WIDTH, HEIGHT)}
    assert abs(dominant_hz(samples[48_000:]) - 440) < 5, "aiortc's 440 Hz tone"


def test_a_killed_endpoint_leaves_a_playable_webm(giaoban, tmp_path):
    stream = unique_stream("rec-kill")
    webm = tmp_path / "killed.webm"

    async def run() -> None:
        proc = start_watch(giaoban, stream, webm, 30)
        await asyncio.sleep(7)  # joining takes a moment; then about a cluster a second (aiortc's keyframes) or every 5 s
        assert proc.poll() is None, proc.stderr.read()[-800:] if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)

    run_async(publish_while(giaoban, stream, run), 60)
    probe = ffprobe(webm)
    assert stream_of(probe, "video")["codec_name"] == "vp8"
    assert stream_of(probe, "audio")["codec_name"] == "opus"
    duration = float(probe["format"]["duration"])
    print(f"killed after about 7 s: {duration} s playable, {webm.stat().st_size} bytes")
    assert 1.0 <= duration <= 7.0, f"{duration} s"
    info = subprocess.run([tool("mkvinfo"), "--all", str(webm)], capture_output=True, text=True, timeout=30).stdout
    assert "Cue point" not in info, "the Cues are written only by a clean finish: this file must be the killed one's"
    sizes, samples = decode(webm)
    assert len(sizes) >= 10 and set(sizes) == {(WIDTH, HEIGHT)}
    assert len(samples) >= 48_000 * (duration - 1.0), f"{len(samples)} samples for {duration} s"
