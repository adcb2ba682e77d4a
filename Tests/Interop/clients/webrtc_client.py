#!/usr/bin/env python3
"""A WHIP/WHEP client built on aiortc, used by the interoperability suite and as a CLI.

    python webrtc_client.py publish --url http://127.0.0.1:8080/whip/s1 --token JWT --seconds 10 --json
    python webrtc_client.py watch   --url http://127.0.0.1:8080/whep/s1 --token JWT --seconds 6 --json

Publishing sends a synthetic 320x240 video track (a moving bar over a gradient, 30 fps) and
a 440 Hz sine at 48 kHz. Watching counts the decoded video frames and their sizes, and
measures the RMS and the dominant frequency of the received audio.

Two aiortc traps on an offline machine, both handled here:

* aiortc adds a public STUN server when the ICE server list is left out; gathering then
  waits for a server it cannot reach. Every peer connection gets ``iceServers=[]``.
* aioice's ``get_host_addresses()`` skips 127.0.0.1 unconditionally, and there is no
  option of ``Connection`` or ``RTCIceGatherer`` that brings it back (``use_ipv4`` only
  toggles the other IPv4 addresses). The relay listens on 127.0.0.1, so
  ``use_loopback_candidates()`` replaces that function with one that returns only the
  loopback address: host candidates are then 127.0.0.1 and nothing else, which also keeps
  every packet of the test on loopback.

aiortc gathers all its candidates inside ``setLocalDescription()``, so the offer that is
POSTed already carries them (no trickle ICE).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import logging
import math
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import requests
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCBundlePolicy
from av import AudioFrame, VideoFrame

log = logging.getLogger("webrtc_client")

VIDEO_WIDTH = 320
VIDEO_HEIGHT = 240
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.3

_LOOPBACK_ADDRESSES: list[str] = ["127.0.0.1"]
_loopback_patched = False


def use_loopback_candidates(addresses: Optional[list[str]] = None) -> None:
    """Make aioice gather host candidates on the given addresses (default 127.0.0.1) only."""
    global _loopback_patched
    import aioice.ice

    if addresses is not None:
        _LOOPBACK_ADDRESSES[:] = list(addresses)
    if not _loopback_patched:
        aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: list(_LOOPBACK_ADDRESSES)
        _loopback_patched = True


def new_peer_connection(max_bundle: bool = False) -> RTCPeerConnection:
    """An aiortc peer connection on loopback candidates. `max_bundle` for a connection that is
    offered several m-lines of one kind at once (the relay's downlink): with aiortc's default
    "balanced" bundle policy, the second m-line of a kind that one offer adds gets the transport
    the first one is about to leave for the bundle, which aiortc then stops — its answer carries
    port 9 for that line, its receiver never starts, and its packets go to the other receiver of
    that payload type (aiortc 1.16; Tests/Interop/README.md, "Traps")."""
    use_loopback_candidates()
    policy = RTCBundlePolicy.MAX_BUNDLE if max_bundle else RTCBundlePolicy.BALANCED
    return RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=policy))


# --------------------------------------------------------------------------------------
# Synthetic media
# --------------------------------------------------------------------------------------


class PatternVideoTrack(VideoStreamTrack):
    """320x240 yuv420p frames at 30 fps: a luma gradient with a bright bar moving right."""

    def __init__(self, width: int = VIDEO_WIDTH, height: int = VIDEO_HEIGHT) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.frames_sent = 0
        ramp = np.linspace(16, 200, width, dtype=np.float32)
        self._y = np.tile(ramp.astype(np.uint8), (height, 1))

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        n = self.frames_sent
        self.frames_sent += 1
        w, h = self.width, self.height
        y = self._y.copy()
        bar = (n * 4) % w
        y[:, bar : bar + 16] = 235
        y[(n * 2) % h : (n * 2) % h + 8, :] = 60
        u = np.full((h // 2, w // 2), 128 + int(60 * math.sin(n / 15)), dtype=np.uint8)
        v = np.full((h // 2, w // 2), 128 + int(60 * math.cos(n / 15)), dtype=np.uint8)
        planar = np.concatenate([y, u.reshape(h // 4, w), v.reshape(h // 4, w)])
        frame = VideoFrame.from_ndarray(planar, format="yuv420p")
        frame.pts = pts
        frame.time_base = time_base
        return frame


class SineAudioTrack(MediaStreamTrack):
    """Mono s16 48 kHz frames of 20 ms carrying a continuous sine (440 Hz by default)."""

    kind = "audio"

    def __init__(self, frequency: float = TONE_HZ, amplitude: float = TONE_AMPLITUDE) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._samples = int(AUDIO_PTIME * AUDIO_RATE)
        self._start: Optional[float] = None
        self._timestamp = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
            self._timestamp = 0
        else:
            self._timestamp += self._samples
            wait = self._start + self._timestamp / AUDIO_RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (np.arange(self._samples) + self._timestamp) / AUDIO_RATE
        pcm = (self.amplitude * 32767 * np.sin(2 * np.pi * self.frequency * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.pts = self._timestamp
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


# --------------------------------------------------------------------------------------
# HTTP signalling
# --------------------------------------------------------------------------------------


class SignallingError(Exception):
    """A WHIP/WHEP request answered with an unexpected status."""

    def __init__(self, status: int, reason: str, method: str, url: str) -> None:
        super().__init__(f"{method} {url} -> {status}: {reason}")
        self.status = status
        self.reason = reason


def _headers(token: Optional[str], content_type: Optional[str] = None) -> dict:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _post_offer_sync(url: str, token: Optional[str], sdp: str, timeout: float) -> tuple[str, str]:
    resp = requests.post(url, data=sdp.encode(), headers=_headers(token, "application/sdp"), timeout=timeout)
    if resp.status_code != 201:
        raise SignallingError(resp.status_code, resp.text.strip(), "POST", url)
    location = resp.headers.get("Location")
    if not location:
        raise SignallingError(resp.status_code, "201 without a Location header", "POST", url)
    ctype = resp.headers.get("Content-Type", "")
    if not ctype.startswith("application/sdp"):
        raise SignallingError(resp.status_code, f"answer has Content-Type {ctype!r}", "POST", url)
    return urllib.parse.urljoin(url, location), resp.text


def _delete_sync(url: str, token: Optional[str], timeout: float) -> int:
    try:
        return requests.delete(url, headers=_headers(token), timeout=timeout).status_code
    except requests.RequestException as exc:
        log.warning("DELETE %s failed: %s", url, exc)
        return 0


def answer_candidates(sdp: str) -> list[tuple[str, int]]:
    """(address, port) of every UDP candidate in an SDP."""
    result = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line[len("a=candidate:") :].split()
            if len(parts) >= 6 and parts[2].lower() == "udp":
                result.append((parts[4], int(parts[5])))
    return result


# --------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------


@dataclass
class _Session:
    url: str
    token: Optional[str]
    answer_transform: Optional[Callable[[str], str]] = None
    http_timeout: float = 10.0
    pc: RTCPeerConnection = field(default_factory=new_peer_connection)
    location: Optional[str] = None
    offer_sdp: str = ""
    answer_sdp: str = ""
    delete_status: Optional[int] = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _failed: asyncio.Event = field(default_factory=asyncio.Event)

    def _watch_state(self) -> None:
        @self.pc.on("connectionstatechange")
        def _on_state() -> None:
            state = self.pc.connectionState
            log.info("%s: connection %s", self.url, state)
            if state == "connected":
                self._connected.set()
            elif state in ("failed", "closed"):
                self._failed.set()

    async def _negotiate(self) -> None:
        self._watch_state()
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        # setLocalDescription returns once gathering is complete; check it anyway.
        if self.pc.iceGatheringState != "complete":
            raise RuntimeError(f"ICE gathering is {self.pc.iceGatheringState}, not complete")
        self.offer_sdp = self.pc.localDescription.sdp
        self.location, answer = await asyncio.to_thread(
            _post_offer_sync, self.url, self.token, self.offer_sdp, self.http_timeout
        )
        if self.answer_transform:
            answer = self.answer_transform(answer)
        self.answer_sdp = answer
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def wait_connected(self, timeout: float) -> None:
        connected = asyncio.ensure_future(self._connected.wait())
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            done, _ = await asyncio.wait({connected, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
            failed.cancel()
        if not self._connected.is_set():
            raise TimeoutError(
                f"{self.url}: not connected after {timeout:.0f} s "
                f"(connection {self.pc.connectionState}, ICE {self.pc.iceConnectionState})"
            )

    async def close(self, delete: bool = True) -> None:
        if delete and self.location and self.delete_status is None:
            self.delete_status = await asyncio.to_thread(_delete_sync, self.location, self.token, self.http_timeout)
        await self.pc.close()


class WhipPublisher(_Session):
    """Publishes the synthetic tracks to a WHIP endpoint."""

    async def start(self, connect_timeout: float = 15.0, video: bool = True, audio: bool = True,
                    video_codec: Optional[str] = None) -> None:
        """`video_codec` ("H264", "VP8"): offer only that video codec."""
        self.video_track = PatternVideoTrack() if video else None
        self.audio_track = SineAudioTrack() if audio else None
        if self.audio_track:
            self.pc.addTransceiver(self.audio_track, direction="sendonly")
        if self.video_track:
            transceiver = self.pc.addTransceiver(self.video_track, direction="sendonly")
            if video_codec:
                codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == f"video/{video_codec}".lower()]
                transceiver.setCodecPreferences(codecs)
        await self._negotiate()
        await self.wait_connected(connect_timeout)

    def summary(self) -> dict:
        return {
            "role": "publish",
            "location": self.location,
            "connection_state": self.pc.connectionState,
            "video_frames_sent": self.video_track.frames_sent if self.video_track else 0,
            "delete_status": self.delete_status,
        }


class WhepWatcher(_Session):
    """Watches a WHEP endpoint: counts decoded video frames and analyses the audio."""

    max_audio_seconds = 10.0

    async def start(self, connect_timeout: float = 15.0) -> None:
        self.video_frames = 0
        self.video_sizes: dict[str, int] = {}
        self.frame_times: list[float] = []
        self.audio_frames = 0
        self.audio_rate = 0
        self._audio_chunks: list[np.ndarray] = []
        self._audio_samples = 0
        self._tasks: list[asyncio.Task] = []
        self.track_kinds: list[str] = []

        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.addTransceiver("video", direction="recvonly")

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            self.track_kinds.append(track.kind)
            consume = self._consume_video if track.kind == "video" else self._consume_audio
            self._tasks.append(asyncio.ensure_future(consume(track)))

        await self._negotiate()
        await self.wait_connected(connect_timeout)

    async def _consume_video(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.video_frames += 1
                self.frame_times.append(time.monotonic())
                key = f"{frame.width}x{frame.height}"
                self.video_sizes[key] = self.video_sizes.get(key, 0) + 1
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def _consume_audio(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.audio_frames += 1
                self.audio_rate = frame.sample_rate
                channels = len(frame.layout.channels)
                data = frame.to_ndarray()
                if frame.format.is_planar:
                    mono = data[0]
                else:
                    mono = data.reshape(-1, channels)[:, 0]
                if frame.format.name.startswith("s16"):
                    mono = mono.astype(np.float32) / 32768.0
                else:
                    mono = mono.astype(np.float32)
                self._audio_chunks.append(mono)
                self._audio_samples += len(mono)
                limit = int(self.max_audio_seconds * max(frame.sample_rate, 1))
                while self._audio_samples - len(self._audio_chunks[0]) > limit:
                    self._audio_samples -= len(self._audio_chunks.pop(0))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def collect(self, seconds: float) -> dict:
        await asyncio.sleep(seconds)
        return self.summary()

    def audio_analysis(self, window_seconds: float = 3.0) -> tuple[float, float]:
        """(RMS, dominant frequency in Hz) of the last window_seconds of received audio."""
        if not self._audio_chunks or not self.audio_rate:
            return 0.0, 0.0
        signal = np.concatenate(self._audio_chunks)[-int(window_seconds * self.audio_rate) :]
        rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
        if len(signal) < 1024:
            return rms, 0.0
        spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
        freqs = np.fft.rfftfreq(len(signal), 1.0 / self.audio_rate)
        spectrum[freqs < 50] = 0
        return rms, float(freqs[int(np.argmax(spectrum))])

    def max_frame_gap(self) -> float:
        """Longest pause between two decoded video frames, in seconds."""
        times = self.frame_times
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    def summary(self) -> dict:
        rms, dominant = self.audio_analysis()
        return {
            "role": "watch",
            "location": self.location,
            "connection_state": self.pc.connectionState,
            "tracks": sorted(self.track_kinds),
            "video_frames": self.video_frames,
            "video_sizes": dict(self.video_sizes),
            "max_frame_gap_s": round(self.max_frame_gap(), 3),
            "audio_frames": self.audio_frames,
            "audio_sample_rate": self.audio_rate,
            "audio_rms": round(rms, 4),
            "audio_dominant_hz": round(dominant, 1),
            "delete_status": self.delete_status,
        }

    async def close(self, delete: bool = True) -> None:
        for task in getattr(self, "_tasks", []):
            task.cancel()
        await super().close(delete)


# --------------------------------------------------------------------------------------
# One-call helpers
# --------------------------------------------------------------------------------------


async def publish(url: str, token: Optional[str], seconds: float, connect_timeout: float = 15.0) -> dict:
    publisher = WhipPublisher(url, token)
    try:
        await publisher.start(connect_timeout)
        await asyncio.sleep(seconds)
        summary = publisher.summary()
    finally:
        await publisher.close()
    summary["delete_status"] = publisher.delete_status
    return summary


async def watch(
    url: str,
    token: Optional[str],
    seconds: float,
    connect_timeout: float = 15.0,
    answer_transform: Optional[Callable[[str], str]] = None,
) -> dict:
    watcher = WhepWatcher(url, token, answer_transform=answer_transform)
    try:
        await watcher.start(connect_timeout)
        summary = await watcher.collect(seconds)
    finally:
        await watcher.close()
    summary["delete_status"] = watcher.delete_status
    return summary


async def make_offer(kind: str) -> str:
    """An aiortc offer, for requests that only need valid SDP: "publish" or "watch"."""
    pc = new_peer_connection()
    try:
        if kind == "publish":
            pc.addTransceiver(SineAudioTrack(), direction="sendonly")
            pc.addTransceiver(PatternVideoTrack(), direction="sendonly")
        else:
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


class BackgroundPublisher:
    """Runs a WhipPublisher on its own event loop thread, for synchronous callers.

    with BackgroundPublisher(url, token) as pub:   # returns once connected
        ...
    """

    def __init__(self, url: str, token: Optional[str], connect_timeout: float = 15.0, video_codec: Optional[str] = None) -> None:
        self.url = url
        self.token = token
        self.connect_timeout = connect_timeout
        self.video_codec = video_codec
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="whip-publisher", daemon=True)
        self.publisher: Optional[WhipPublisher] = None

    def _run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> "BackgroundPublisher":
        self._thread.start()

        async def _start() -> None:
            self.publisher = WhipPublisher(self.url, self.token)
            await self.publisher.start(self.connect_timeout, video_codec=self.video_codec)

        try:
            self._run(_start(), self.connect_timeout + 15)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> dict:
        summary: dict = {}
        try:
            if self.publisher is not None and self._thread.is_alive():

                async def _stop() -> dict:
                    result = self.publisher.summary()
                    await self.publisher.close()
                    result["delete_status"] = self.publisher.delete_status
                    return result

                summary = self._run(_stop(), 20)
        finally:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive() and not self._loop.is_closed():
                self._loop.close()
        return summary

    def __enter__(self) -> "BackgroundPublisher":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="WHIP publisher / WHEP watcher built on aiortc.")
    parser.add_argument("mode", choices=["publish", "watch"])
    parser.add_argument("--url", required=True, help="WHIP or WHEP endpoint, e.g. http://127.0.0.1:8080/whip/s1")
    parser.add_argument("--token", default=None, help="JWT sent as 'Authorization: Bearer'")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long to publish / watch once connected")
    parser.add_argument("--connect-timeout", type=float, default=15.0)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    run = publish if args.mode == "publish" else watch
    try:
        summary = asyncio.run(run(args.url, args.token, args.seconds, args.connect_timeout))
        code = 0
    except SignallingError as exc:
        summary = {"role": args.mode, "error": str(exc), "status": exc.status}
        code = 2
    except (TimeoutError, OSError, RuntimeError, requests.RequestException) as exc:
        summary = {"role": args.mode, "error": f"{type(exc).__name__}: {exc}"}
        code = 1
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return code


if __name__ == "__main__":
    sys.exit(main())
