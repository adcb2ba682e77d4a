"""The commune endpoint (`giaoban endpoint publish|watch`) against the relay and a third-party
stack: aiortc watches what the endpoint publishes, the endpoint watches what aiortc publishes,
and the endpoint's IVF recording is decoded by FFmpeg (through PyAV) to frames of the sent size."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import av
import pytest

from conftest import run_async, server_command, unique_stream
from webrtc_client import SignallingError, WhepWatcher, WhipPublisher

pytestmark = pytest.mark.media

WIDTH, HEIGHT = 320, 240


def endpoint(giaoban, *args: str) -> list[str]:
    return server_command() + ["endpoint", *args, "--url", giaoban.base_url]


def start_publisher(giaoban, stream: str, tone: int, seconds: float) -> subprocess.Popen:
    token = giaoban.token(f"xa-{stream}", "commune")
    # The server is shared by the session's tests: wait_for_publisher looks for RTP beyond this.
    giaoban.rtp_baseline = giaoban.metrics().total("giaoban_rtp_received_total")
    return subprocess.Popen(
        endpoint(giaoban, "publish", "--stream", stream, "--token", token, "--duration", str(seconds),
                 "--width", str(WIDTH), "--height", str(HEIGHT), "--tone", str(tone), "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}: {err[-800:]}"
    return json.loads(out.strip().splitlines()[-1])


def decode_ivf(path: Path) -> list[tuple[int, int]]:
    """(width, height) of every frame FFmpeg decodes from the recording."""
    with av.open(str(path)) as container:
        return [(f.width, f.height) for f in container.decode(video=0)]


def wait_for_publisher(giaoban, stream: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if giaoban.metrics().total("giaoban_rtp_received_total") > getattr(giaoban, "rtp_baseline", 0):
            return
        time.sleep(0.2)
    raise AssertionError(f"the endpoint did not start publishing {stream} within {timeout} s")


async def watch_when_published(url: str, token: str, seconds: float, timeout: float = 15.0) -> dict:
    """Watches `url` with aiortc for `seconds`. The relay answers 404 until the publisher's
    first packets arrive; RTP counted by `wait_for_publisher` may still be the previous test's
    publisher finishing, so a 404 is tried again (a fresh watcher each time) until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        watcher = WhepWatcher(url, token)
        try:
            await watcher.start(connect_timeout=15)
            return await watcher.collect(seconds)
        except SignallingError as error:
            if "-> 404" not in str(error) or time.monotonic() > deadline:
                raise
        finally:
            await watcher.close()
        await asyncio.sleep(0.3)


def test_aiortc_watches_the_endpoint(giaoban):
    stream = unique_stream("ep")
    publisher = start_publisher(giaoban, stream, tone=1000, seconds=14)
    try:
        wait_for_publisher(giaoban, stream)

        summary = run_async(watch_when_published(giaoban.url(f"/whep/{stream}"), giaoban.token("observer-ep", "observer"), 6.0), 60)
        print(json.dumps(summary, sort_keys=True))
        assert summary["video_frames"] >= 30
        assert summary["video_sizes"].get(f"{WIDTH}x{HEIGHT}", 0) >= 30, summary["video_sizes"]
        assert abs(summary["audio_dominant_hz"] - 1000) <= 20, "the endpoint's 1000 Hz tone"
        published = finish(publisher, 30)
        print(json.dumps(published, sort_keys=True))
    finally:
        if publisher.poll() is None:
            publisher.kill()


def test_endpoint_watches_aiortc_and_records(giaoban, tmp_path):
    stream = unique_stream("aio-ep")
    ivf = tmp_path / "watched.ivf"

    async def publish_and_watch() -> dict:
        publisher = WhipPublisher(giaoban.url(f"/whip/{stream}"), giaoban.token("chair-ep", "chair"))
        try:
            await publisher.start(connect_timeout=15)
            token = giaoban.token("xa-watch", "commune")
            proc = subprocess.Popen(
                endpoint(giaoban, "watch", "--stream", stream, "--token", token, "--duration", "6",
                         "--record-video", str(ivf), "--json"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            loop_deadline = time.monotonic() + 40
            while proc.poll() is None and time.monotonic() < loop_deadline:
                await asyncio.sleep(0.2)  # keep aiortc's event loop sending
            return finish(proc, 5)
        finally:
            await publisher.close()

    summary = run_async(publish_and_watch(), 60)
    print(json.dumps(summary, sort_keys=True))
    assert summary["framesDecoded"] >= 30
    assert (summary["width"], summary["height"]) == (WIDTH, HEIGHT)
    assert summary["audioDominantHz"] == 440, "aiortc's 440 Hz tone"
    frames = decode_ivf(ivf)
    assert len(frames) >= 30, f"{len(frames)} frames decoded from the IVF"
    assert set(frames) == {(WIDTH, HEIGHT)}


def watch_for_six_seconds(giaoban, stream: str, subject: str, *args: str) -> dict:
    """Runs `giaoban endpoint watch` with `args` and returns its JSON summary."""
    token = giaoban.token(subject, "commune")
    watched = subprocess.run(
        endpoint(giaoban, "watch", "--stream", stream, "--token", token, "--duration", "6", *args, "--json"),
        capture_output=True, text=True, timeout=40)
    assert watched.returncode == 0, watched.stderr[-800:]
    summary = json.loads(watched.stdout.strip().splitlines()[-1])
    print(json.dumps(summary, sort_keys=True))
    return summary


def test_endpoint_to_endpoint_recording(giaoban, tmp_path):
    """Issue acceptance: A publishes the synthetic source, B watches and records; B's IVF decodes
    to frames of the sent size and B's audio carries A's tone."""
    stream = unique_stream("ep2")
    ivf = tmp_path / "b.ivf"
    publisher = start_publisher(giaoban, stream, tone=440, seconds=14)
    try:
        wait_for_publisher(giaoban, stream)
        summary = watch_for_six_seconds(giaoban, stream, "xa-b", "--record-video", str(ivf))
        assert summary["audioDominantHz"] == 440
        frames = decode_ivf(ivf)
        assert len(frames) >= 30, f"{len(frames)} frames decoded from the IVF"
        assert set(frames) == {(WIDTH, HEIGHT)}
        finish(publisher, 30)
    finally:
        if publisher.poll() is None:
            publisher.kill()


def dominant_hz(samples, rate: int, candidates=(300, 440, 1000, 2000, 3000)) -> int:
    """The candidate frequency with the most energy (FFT magnitude at each candidate)."""
    import numpy as np
    spectrum = np.abs(np.fft.rfft(np.asarray(samples, dtype=np.float64)))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return max(candidates, key=lambda f: spectrum[np.argmin(np.abs(freqs - f))])


def test_endpoint_ogg_recording_and_nack_recovery(giaoban, tmp_path):
    """B drops every 10th video packet before decryption: NACKs bring the packets back
    (the summary says so) and B's Ogg Opus recording decodes with FFmpeg to A's tone."""
    stream = unique_stream("ep3")
    ogg = tmp_path / "b.ogg"
    publisher = start_publisher(giaoban, stream, tone=1000, seconds=14)
    try:
        wait_for_publisher(giaoban, stream)
        summary = watch_for_six_seconds(giaoban, stream, "xa-c", "--record-audio", str(ogg), "--drop-every", "10")
        assert summary["nacksSent"] > 0
        assert summary["retransmissionsReceived"] > 0
        assert summary["packetsRecovered"] > 0
        assert summary["framesDecoded"] >= 30
        assert summary["decodeErrors"] == 0
        assert summary["rttMs"] >= 0, "RTT measured from the consent checks"
        with av.open(str(ogg)) as container:
            stream_info = container.streams.audio[0]
            assert stream_info.codec_context.name == "opus"
            chunks = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
            rate = stream_info.codec_context.sample_rate
        import numpy as np
        pcm = np.concatenate(chunks)
        assert rate == 48000
        assert len(pcm) >= 4 * rate, f"{len(pcm) / rate:.1f} s decoded from the Ogg file"
        assert dominant_hz(pcm[rate // 2:], rate) == 1000
        finish(publisher, 30)
    finally:
        if publisher.poll() is None:
            publisher.kill()


def test_endpoint_simulcast_one_layer_per_watcher(giaoban):
    """`endpoint publish --simulcast 3` sends l/m/h (160x90, 320x180, 640x360); aiortc, with no
    estimate, decodes the full size; `endpoint watch --max-bitrate 200` is given the low layer."""
    stream = unique_stream("eps")
    token = giaoban.token(f"xa-{stream}", "commune")
    giaoban.rtp_baseline = giaoban.metrics().total("giaoban_rtp_received_total")
    publisher = subprocess.Popen(
        endpoint(giaoban, "publish", "--stream", stream, "--token", token, "--duration", "24", "--width", "640",
                 "--height", "360", "--bitrate", "900", "--fps", "15", "--simulcast", "3", "--grain", "20", "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_publisher(giaoban, stream)

        full = run_async(watch_when_published(giaoban.url(f"/whep/{stream}"), giaoban.token("observer-eps", "observer"), 6.0), 60)
        print(json.dumps(full, sort_keys=True))
        assert full["video_sizes"].get("640x360", 0) >= 20, full["video_sizes"]

        thin = subprocess.run(
            endpoint(giaoban, "watch", "--stream", stream, "--token", giaoban.token("observer-eps2", "observer"),
                     "--duration", "6", "--max-bitrate", "200", "--json"),
            capture_output=True, text=True, timeout=40)
        assert thin.returncode == 0, thin.stderr[-800:]
        summary = json.loads(thin.stdout.strip().splitlines()[-1])
        print(json.dumps(summary, sort_keys=True))
        assert (summary["width"], summary["height"]) == (160, 90), summary
        assert summary["framesDecoded"] >= 20 and summary["decodeErrors"] == 0, summary
        published = finish(publisher, 40)
        assert published["keyframesRequested"] <= 30, published
    finally:
        if publisher.poll() is None:
            publisher.kill()


def test_endpoint_publishes_over_ice_tcp(tmp_path):
    """`giaoban endpoint publish --ice-transport tcp` reaches a relay with media.tcp_port set over
    ICE-TCP (RFC 6544, RFC 4571 frames), and aiortc, over UDP, decodes what it sends."""
    from conftest import Giaoban, free_port  # noqa: PLC0415

    relay = Giaoban("test_endpoint_ice_tcp", tmp_path)
    tcp_port = free_port()
    relay.extra_env = {"GIAOBAN_MEDIA_TCP_PORT": str(tcp_port)}
    relay.start()
    stream = unique_stream("eptcp")
    try:
        publisher = subprocess.Popen(
            endpoint(relay, "publish", "--stream", stream, "--token", relay.token("xa-tcp", "commune"), "--duration", "12",
                     "--width", str(WIDTH), "--height", str(HEIGHT), "--tone", "1000", "--ice-transport", "tcp", "--json"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_publisher(relay, stream)
            watched = run_async(watch_when_published(relay.url(f"/whep/{stream}"), relay.token("observer-tcp", "observer"), 5.0), 60)
            metrics = relay.metrics()
            published = finish(publisher, 30)
        finally:
            if publisher.poll() is None:
                publisher.kill()
        print(json.dumps({"publisher": published, "watcher": watched}, sort_keys=True))
        assert published["mediaPath"] == f"tcp 127.0.0.1:{tcp_port}"
        assert watched["video_frames"] >= 30 and watched["video_sizes"].get(f"{WIDTH}x{HEIGHT}", 0) >= 30, watched
        assert abs(watched["audio_dominant_hz"] - 1000) <= 20
        assert metrics.total("giaoban_ice_tcp_accepted_total") == 1
        assert metrics.total("giaoban_ice_tcp_frames_received_total") >= 200, "the publisher's RTP came in as frames"
    finally:
        relay.stop()


def test_endpoint_joins_a_meeting_over_ice_tcp(tmp_path):
    """`giaoban endpoint join --ice-transport tcp`: a commune whose uplink and downlink both go
    over ICE-TCP decodes the chair (over UDP), and the chair decodes the commune."""
    import requests  # noqa: PLC0415

    from conftest import Giaoban, free_port  # noqa: PLC0415

    relay = Giaoban("test_endpoint_join_ice_tcp", tmp_path)
    relay.extra_env = {"GIAOBAN_MEDIA_TCP_PORT": str(free_port())}
    relay.start()
    procs: list[subprocess.Popen] = []
    try:
        chair_token, commune_token = relay.token("chi-huy-tcp", "chair"), relay.token("xa-tcp-join", "commune")
        resp = requests.post(relay.url("/api/meetings"), headers={"Authorization": f"Bearer {chair_token}"},
                             json={"title": "Giao ban qua ICE-TCP", "scheduled_at": "2026-12-07T07:30:00+07:00"}, timeout=5)
        assert resp.status_code in (200, 201), resp.text
        meeting = str(resp.json()["id"])

        def join(token: str, watch: str, *extra: str) -> subprocess.Popen:
            proc = subprocess.Popen(
                server_command() + ["endpoint", "join", "--server", relay.base_url, "--meeting", meeting, "--token", token,
                                    "--watch", watch, "--duration", "12", "--width", "160", "--height", "120", "--fps", "10",
                                    "--json", *extra],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(proc)
            return proc

        chair = join(chair_token, "all")
        time.sleep(1)
        commune = join(commune_token, "chair", "--ice-transport", "tcp")
        time.sleep(6)
        metrics = relay.metrics()
        summaries = {}
        for name, proc in (("chair", chair), ("commune", commune)):
            out, err = proc.communicate(timeout=40)
            assert proc.returncode == 0, f"{name}: exit {proc.returncode}: {err[-800:]}"
            summaries[name] = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(summaries, sort_keys=True))
        assert summaries["commune"]["watched"]["chi-huy-tcp"]["framesDecoded"] >= 30, summaries["commune"]["watched"]
        assert summaries["chair"]["watched"]["xa-tcp-join"]["framesDecoded"] >= 30, summaries["chair"]["watched"]
        assert metrics.total("giaoban_ice_tcp_accepted_total") >= 2, "the commune's uplink and downlink came over TCP"
        assert metrics.total("giaoban_ice_tcp_connections") >= 2
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        relay.stop()
