#!/usr/bin/env python3
"""A meeting over an impaired link: a chair and N endpoint clients (`giaoban endpoint join`)
whose media goes through `impaired_link.py` (loss, delay, jitter) to the relay.

Used by `Tests/Interop/test_impaired_link.py` (2 minutes, 10 clients, in CI) and by
`scripts/soak.sh` (20 clients, 30 minutes, with its own relay). The relay must announce
`media.announced_address = 127.0.0.2` while it binds 127.0.0.1: every ICE candidate the
clients learn then points at the link, which listens on 127.0.0.2 at the relay's media port.
HTTP (the room socket, tokens, /metrics) stays direct. Python 3 standard library only.

    impaired_meeting.py --endpoints 20 --minutes 30 --loss 0.05 --delay-ms 40 --jitter-ms 10 \\
        --out artifacts/soak          # starts its own relay (what scripts/soak.sh runs)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
LINK = HERE / "impaired_link.py"
LINK_ADDRESS = "127.0.0.2"

CHAIR = "chi-huy-tinh"
CHAIR_FPS = 15
CLIENT_FPS = 5
AUDIO_PER_SECOND = 50  # Opus, 20 ms frames


def client_name(index: int) -> str:
    return f"xa-{index + 1:02d}"


def metric_total(text: str, name: str) -> float:
    """Sum over every label set of one metric in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            try:
                total += float(line.rsplit(None, 1)[1])
            except (ValueError, IndexError):
                pass
    return total


COUNTERS = ("giaoban_video_pauses_total", "giaoban_rtp_retransmitted_total", "giaoban_nack_misses_total",
            "giaoban_keyframe_requests_total", "giaoban_layer_switches_total", "giaoban_consent_expired_total",
            "giaoban_dtls_failed_total")


def proc_sample(pid: int) -> dict:
    """RSS (KiB), open file descriptors and threads of a process, from /proc/<pid>/."""
    sample = {"rssKiB": 0, "fds": 0, "threads": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sample["rssKiB"] = int(line.split()[1])
            elif line.startswith("Threads:"):
                sample["threads"] = int(line.split()[1])
        sample["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return sample


_STATUS = re.compile(r"(?:^|; )(?P<who>[^;:]+): (?P<fps>\d+) fps \d+x\d+, (?P<audio>\d+) audio packets")


def status_series(stderr: str, participant: str) -> tuple[list[int], list[int]]:
    """Per status line (one a second): pictures decoded and audio packets from `participant`."""
    frames: list[int] = []
    audio: list[int] = []
    for line in stderr.splitlines():
        if not line.startswith("room: "):
            continue
        for match in _STATUS.finditer(line):
            if match.group("who").strip() == participant:
                frames.append(int(match.group("fps")))
                audio.append(int(match.group("audio")))
                break
        else:
            frames.append(0)
            audio.append(0)
    return frames, audio


def first_nonzero(series: list[int]) -> Optional[int]:
    return next((i for i, value in enumerate(series) if value > 0), None)


class Relay:
    """What the scenario needs of a running relay."""

    def __init__(self, cmd: list[str], base_url: str, udp_port: int, pid: int, token: Callable[[str, str], str],
                 log_path: Path) -> None:
        self.cmd = cmd
        self.base_url = base_url
        self.udp_port = udp_port
        self.pid = pid
        self.token = token
        self.log_path = log_path
        self._metrics_token: Optional[str] = None

    def metrics(self) -> str:
        if self._metrics_token is None:
            self._metrics_token = self.token("metrics-reader", "observer")
        request = urllib.request.Request(self.base_url + "/metrics",
                                         headers={"Authorization": f"Bearer {self._metrics_token}"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.read().decode()

    def post(self, path: str, token: str, body: dict) -> dict:
        request = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())


class Scenario:
    """Runs the meeting; `run()` returns the figures (see `summary`). Every process it starts
    is killed when it returns or raises."""

    def __init__(self, relay: Relay, workdir: Path, endpoints: int, seconds: float, loss: float, delay_ms: float,
                 jitter_ms: float, sample_every: float = 10.0, progress: Callable[[str], None] = print,
                 seed: Optional[int] = None, chair_clean: bool = True) -> None:
        self.relay = relay
        self.chair_clean = chair_clean
        self.workdir = workdir
        self.endpoints = endpoints
        self.seconds = seconds
        self.loss = loss
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.sample_every = sample_every
        self.progress = progress
        self.seed = seed
        self.link_stats = workdir / "impaired-link.json"
        self.processes: list[subprocess.Popen] = []
        self.files: list = []
        self.samples: list[dict] = []
        self.counters: dict[str, float] = {}

    # processes
    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        out = open(self.workdir / f"{name}.out", "w")
        err = open(self.workdir / f"{name}.err", "w")
        self.files += [out, err]
        proc = subprocess.Popen(args, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        self.processes.append(proc)
        return proc

    def join(self, name: str, token: str, meeting: int, seconds: float, watch: str, fps: int, bitrate: int,
             level: float) -> subprocess.Popen:
        return self.spawn(name, self.relay.cmd + [
            "endpoint", "join", "--server", self.relay.base_url, "--meeting", str(meeting), "--token", token,
            "--watch", watch, "--duration", str(int(seconds)), "--width", "160", "--height", "120",
            "--fps", str(fps), "--bitrate", str(bitrate), "--tone-level-dbov", str(level), "--json"])

    def kill_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for proc in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for handle in self.files:
            handle.close()
        self.files = []

    # sampling
    def link_counters(self) -> dict:
        try:
            return json.loads(self.link_stats.read_text())
        except (OSError, ValueError):
            return {}

    def sample(self, started: float) -> dict:
        entry = {"t": round(time.monotonic() - started, 1), **proc_sample(self.relay.pid)}
        try:
            entry["peers"] = int(metric_total(self.relay.metrics(), "giaoban_peers"))
        except OSError:
            entry["peers"] = -1
        link = self.link_counters()
        for side in ("up", "down"):
            counts = link.get(side, {})
            entry[f"{side}Received"] = counts.get("received", 0)
            entry[f"{side}Dropped"] = counts.get("dropped", 0)
        self.samples.append(entry)
        return entry

    def run(self) -> dict:
        try:
            return self._run()
        finally:
            self.kill_all()

    def _run(self) -> dict:
        port = self.relay.udp_port
        link_args = [sys.executable, str(LINK), "--listen", f"{LINK_ADDRESS}:{port}", "--target", f"127.0.0.1:{port}",
                     "--loss", str(self.loss), "--delay-ms", str(self.delay_ms), "--jitter-ms", str(self.jitter_ms),
                     "--stats", str(self.link_stats)]
        if self.seed is not None:
            link_args += ["--seed", str(self.seed)]
        if self.chair_clean:
            link_args += ["--clean-until-usr1"]
        link = self.spawn("impaired-link", link_args)
        deadline = time.monotonic() + 10
        while not self.link_stats.exists():
            if link.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"impaired_link.py did not start: {(self.workdir / 'impaired-link.err').read_text()}")
            time.sleep(0.1)

        chair_token = self.relay.token(CHAIR, "chair")
        meeting = self.relay.post("/api/meetings", chair_token,
                                  {"title": "Giao ban qua đường truyền kém", "scheduled_at": "2026-12-07T07:30:00+07:00"})
        meeting_id = int(meeting["id"])
        baseline_rtp = metric_total(self.relay.metrics(), "giaoban_rtp_received_total")
        lead = 20  # at most this long for the chair's media to flow; it stays about 8 s after the clients
        chair = self.join("chair", chair_token, meeting_id, self.seconds + 15, "none", CHAIR_FPS, 150, -13.5)
        deadline = time.monotonic() + lead
        while metric_total(self.relay.metrics(), "giaoban_rtp_received_total") <= baseline_rtp + 50:
            if chair.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the chair did not publish through the link: "
                                   f"{(self.workdir / 'chair.err').read_text()[-1500:]}")
            time.sleep(0.2)
        if self.chair_clean:
            time.sleep(2)  # the chair's downlink too, if it opens one
            link.send_signal(signal.SIGUSR1)  # every address seen from now on is impaired
        tokens = [self.relay.token(client_name(i), "commune") for i in range(self.endpoints)]
        clients = []
        for i, token in enumerate(tokens):
            clients.append(self.join(client_name(i), token, meeting_id, self.seconds, "chair", CLIENT_FPS, 50, -127))
            time.sleep(0.2)
        started = time.monotonic()
        before = self.relay.metrics()
        self.counters = {name: -metric_total(before, name) for name in COUNTERS}
        self.progress(f"impaired meeting {meeting_id}: chair and {self.endpoints} endpoints through "
                      f"{LINK_ADDRESS}:{port} (loss {self.loss:.0%}, delay {self.delay_ms:g} ± {self.jitter_ms:g} ms)")
        self.sample(started)
        next_sample = started + self.sample_every
        next_progress = started + 60
        peers_near_end: Optional[int] = None
        end = started + self.seconds
        while any(c.poll() is None for c in clients):
            now = time.monotonic()
            if now > end + 60:
                raise RuntimeError(f"endpoints still running {self.seconds + 60:.0f} s after they started")
            if now >= next_sample:
                entry = self.sample(started)
                next_sample += self.sample_every
                if peers_near_end is None and now >= end - 15:
                    peers_near_end = entry["peers"]
            if now >= next_progress:
                next_progress += 60
                entry = self.samples[-1]
                received = entry["upReceived"] + entry["downReceived"]
                dropped = entry["upDropped"] + entry["downDropped"]
                self.progress(f"  {int((now - started) // 60)} min: relay RSS {entry['rssKiB'] / 1024:.1f} MiB, "
                              f"{entry['fds']} fds, {entry['threads']} threads, {entry['peers']} peers; link dropped "
                              f"{dropped} of {received} ({dropped / max(1, received):.1%})")
            time.sleep(0.2)
        if peers_near_end is None:
            peers_near_end = self.samples[-1]["peers"] if self.samples else -1
        try:
            chair.wait(30)
        except subprocess.TimeoutExpired:
            pass
        self.sample(started)["afterMeeting"] = True  # the endpoints have left
        after = self.relay.metrics()
        for name in COUNTERS:
            self.counters[name] += metric_total(after, name)
        return self.summarize(chair, clients, peers_near_end)

    # figures
    def endpoint_result(self, name: str, proc: subprocess.Popen) -> dict:
        out = (self.workdir / f"{name}.out").read_text()
        err = (self.workdir / f"{name}.err").read_text()
        result: dict = {"name": name, "status": proc.returncode}
        lines = [line for line in out.strip().splitlines() if line.startswith("{")]
        try:
            result["summary"] = json.loads(lines[-1]) if lines else None
        except ValueError:
            result["summary"] = None
        result["stderrTail"] = err[-600:]
        result["stderr"] = err
        return result

    def summarize(self, chair: subprocess.Popen, clients: list[subprocess.Popen], peers_near_end: int) -> dict:
        chair_result = self.endpoint_result("chair", chair)
        chair_summary = chair_result.get("summary") or {}
        chair_rate = (chair_summary.get("videoFrames", 0) / chair_summary["seconds"]) if chair_summary.get("seconds") else 0
        per_client = []
        for i, proc in enumerate(clients):
            name = client_name(i)
            result = self.endpoint_result(name, proc)
            summary = result.get("summary") or {}
            watched = (summary.get("watched") or {}).get(CHAIR, {})
            frames_series, audio_series = status_series(result["stderr"], CHAIR)
            first_video = first_nonzero(frames_series)
            first_audio = first_nonzero(audio_series)
            seconds = summary.get("seconds", 0)
            # The window from the first second with chair media to the end (its middle: ±0.5 s).
            video_window = seconds - first_video - 0.5 if first_video is not None else 0
            audio_window = seconds - first_audio - 0.5 if first_audio is not None else 0
            expected_frames = chair_rate * video_window
            expected_audio = AUDIO_PER_SECOND * audio_window
            # Whole seconds only: the first (joining) and the last (leaving) are partial.
            flowing = audio_series[first_audio + 1:-1] if first_audio is not None else []
            per_client.append({
                "name": name,
                "status": result["status"],
                "seconds": seconds,
                "reconnects": summary.get("reconnects"),
                "failures": summary.get("failures"),
                "lastFailure": summary.get("lastFailure"),
                "firstVideoS": first_video,
                "framesDecoded": watched.get("framesDecoded", 0),
                "framesExpected": round(expected_frames, 1),
                "videoShare": round(watched.get("framesDecoded", 0) / expected_frames, 4) if expected_frames else 0.0,
                "audioFrames": watched.get("audioFrames", 0),
                "audioPackets": watched.get("audioPackets", 0),
                "audioExpected": round(expected_audio, 1),
                "audioShare": round(watched.get("audioFrames", 0) / expected_audio, 4) if expected_audio else 0.0,
                "audioMinPerSecond": min(flowing) if flowing else 0,
                "connections": watched.get("connections"),
                "stderrTail": result["stderrTail"] if result["status"] != 0 or not summary else "",
            })
        link = self.link_counters()
        log = self.relay.log_path.read_text(errors="replace") if self.relay.log_path.exists() else ""
        removed = [line for line in log.splitlines() if "peer removed" in line]
        first = self.samples[0] if self.samples else {}
        during = [e for e in self.samples if not e.get("afterMeeting")] or self.samples
        last = during[-1] if during else {}
        after = self.samples[-1] if self.samples else {}
        # RSS growth from the warm-up's end (5 minutes, or a third of a shorter run) to the end.
        warm = next((e for e in self.samples if e["t"] >= min(300.0, self.seconds / 3)), first)
        growth = (last["rssKiB"] - warm["rssKiB"]) / warm["rssKiB"] * 100 if last and warm.get("rssKiB") else 0.0
        return {
            "endpoints": self.endpoints,
            "seconds": self.seconds,
            "settings": {"loss": self.loss, "delayMs": self.delay_ms, "jitterMs": self.jitter_ms,
                         "chairClean": self.chair_clean},
            "chair": {"status": chair_result["status"], "videoFrames": chair_summary.get("videoFrames"),
                      "audioFrames": chair_summary.get("audioFrames"), "seconds": chair_summary.get("seconds"),
                      "frameRate": round(chair_rate, 2), "reconnects": chair_summary.get("reconnects"),
                      "failures": chair_summary.get("failures"),
                      "stderrTail": chair_result["stderrTail"] if chair_result["status"] != 0 else ""},
            "clients": per_client,
            "peersNearEnd": peers_near_end,
            "peersExpected": 2 + 2 * self.endpoints,  # an uplink and a downlink per endpoint, the chair's too
            "peersRemoved": removed,
            "relayCounters": {name.removeprefix("giaoban_"): int(value) for name, value in self.counters.items()},
            "link": link,
            "relay": {"rssStartKiB": first.get("rssKiB"), "rssEndKiB": last.get("rssKiB"),
                      "rssAfterKiB": after.get("rssKiB"), "fdsAfter": after.get("fds"),
                      "fdsStart": first.get("fds"), "fdsEnd": last.get("fds"),
                      "threadsStart": first.get("threads"), "rssWarmKiB": warm.get("rssKiB"),
                      "rssWarmAtS": warm.get("t"), "rssGrowthPct": round(growth, 2),
                      "rssMaxKiB": max((e["rssKiB"] for e in self.samples), default=None),
                      "fdsMax": max((e["fds"] for e in self.samples), default=None),
                      "threadsMax": max((e["threads"] for e in self.samples), default=None),
                      "threadsEnd": last.get("threads")},
            "samples": self.samples,
        }


# ---------------------------------------------------------------------------- standalone relay (soak)


def start_relay(workdir: Path, log_path: Path) -> tuple[subprocess.Popen, Relay]:
    """A relay of its own: free ports, announced address 127.0.0.2, log level info."""
    import socket

    def free(kind: int) -> int:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    binary = os.environ.get("GIAOBAN_BIN") or str(REPO / ".build" / "debug" / "giaoban")
    cmd = [binary]
    http_port, udp_port = free(socket.SOCK_STREAM), free(socket.SOCK_DGRAM)
    secret = workdir / "auth-secret"
    env = dict(os.environ)
    env.pop("GIAOBAN_BIN", None)
    env.update(GIAOBAN_HTTP_PORT=str(http_port), GIAOBAN_MEDIA_UDP_PORT=str(udp_port),
               GIAOBAN_AUTH_SECRET_FILE=str(secret), GIAOBAN_STORAGE_SQLITE_PATH=str(workdir / "giaoban.sqlite"),
               GIAOBAN_SERVER_LOG_LEVEL="info", GIAOBAN_MEDIA_ANNOUNCED_ADDRESS=LINK_ADDRESS)
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd + ["serve", "--config", "conf/giaoban.toml"], cwd=REPO, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the relay exited with status {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as resp:
                if resp.status == 200 and secret.exists():
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the relay was not healthy within 30 s; see {log_path}")
        time.sleep(0.2)

    def token(subject: str, role: str) -> str:
        result = subprocess.run(cmd + ["token", "--secret-file", str(secret), "--subject", subject, "--role", role],
                                cwd=REPO, capture_output=True, text=True, timeout=20, check=True)
        return result.stdout.strip().splitlines()[-1].strip()

    return proc, Relay(cmd, base_url, udp_port, proc.pid, token, log_path)


def svg_plot(samples: list[dict], title: str) -> str:
    """RSS (MiB, left axis) and link loss per 10 s interval (%, right axis) over time (min)."""
    width, height, left, right, top, bottom = 720, 320, 60, 60, 40, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    times = [s["t"] / 60 for s in samples]
    rss = [s["rssKiB"] / 1024 for s in samples]
    loss = [0.0]
    for a, b in zip(samples, samples[1:]):
        received = (b["upReceived"] + b["downReceived"]) - (a["upReceived"] + a["downReceived"])
        dropped = (b["upDropped"] + b["downDropped"]) - (a["upDropped"] + a["downDropped"])
        loss.append(100.0 * dropped / received if received > 0 else 0.0)
    t_max = max(times[-1] if times else 1, 1e-3)
    rss_lo, rss_hi = (min(rss), max(rss)) if rss else (0, 1)
    pad = max(1.0, (rss_hi - rss_lo) * 0.2)
    rss_lo, rss_hi = max(0.0, rss_lo - pad), rss_hi + pad
    loss_hi = max(10.0, max(loss) * 1.2 if loss else 10.0)

    def x(t: float) -> float:
        return left + plot_w * t / t_max

    def y_rss(v: float) -> float:
        return top + plot_h * (1 - (v - rss_lo) / (rss_hi - rss_lo))

    def y_loss(v: float) -> float:
        return top + plot_h * (1 - v / loss_hi)

    def path(ys: list[float]) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y:.1f}" for i, (t, y) in enumerate(zip(times, ys)))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for i in range(5):
        frac = i / 4
        yy = top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#1f5fbf">'
                     f'{rss_lo + (rss_hi - rss_lo) * frac:.1f}</text>')
        parts.append(f'<text x="{left + plot_w + 6}" y="{yy + 4:.1f}" fill="#c0392b">{loss_hi * frac:.1f}</text>')
        parts.append(f'<text x="{x(t_max * frac):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f'{t_max * frac:.1f}</text>')
    parts += [f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle">minutes</text>',
              f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
              f'text-anchor="middle" fill="#1f5fbf">relay RSS (MiB)</text>',
              f'<text x="{width - 10}" y="{top + plot_h / 2}" transform="rotate(90 {width - 10} {top + plot_h / 2})" '
              f'text-anchor="middle" fill="#c0392b">link loss per 10 s (%)</text>']
    if samples:
        parts.append(f'<path d="{path([y_loss(v) for v in loss])}" fill="none" stroke="#c0392b" stroke-width="1.5"/>')
        parts.append(f'<path d="{path([y_rss(v) for v in rss])}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="A meeting over an impaired link (the soak).")
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--delay-ms", type=float, default=40)
    parser.add_argument("--jitter-ms", type=float, default=10)
    parser.add_argument("--impaired-chair", action="store_true",
                        help="the chair's link is impaired too (by default it is clean: the command post's LAN)")
    parser.add_argument("--out", default=str(REPO / "artifacts" / "soak"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="giaoban-soak-"))
    relay_proc, relay = start_relay(workdir, out / "relay.log")
    try:
        scenario = Scenario(relay, workdir, args.endpoints, args.minutes * 60, args.loss, args.delay_ms,
                            args.jitter_ms, sample_every=10, progress=lambda line: print(line, flush=True),
                            chair_clean=not args.impaired_chair)
        result = scenario.run()
    finally:
        relay_proc.send_signal(signal.SIGTERM)
        try:
            relay_proc.wait(10)
        except subprocess.TimeoutExpired:
            relay_proc.kill()
    for name in os.listdir(workdir):
        if name.endswith((".out", ".err", ".json")):
            (out / "endpoints").mkdir(exist_ok=True)
            os.replace(workdir / name, out / "endpoints" / name)
    (out / "soak.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    title = (f"{args.endpoints} endpoints, {args.minutes:g} min, loss {args.loss:.0%}, "
             f"{args.delay_ms:g} ± {args.jitter_ms:g} ms per direction")
    (out / "soak.svg").write_text(svg_plot(result["samples"], title))
    print(report(result), flush=True)
    print(f"soak: wrote {out / 'soak.json'} and {out / 'soak.svg'}", flush=True)
    return 0 if verdict(result) == [] else 1


def verdict(result: dict) -> list[str]:
    """What went wrong (empty: every check held)."""
    problems = []
    for client in result["clients"]:
        if client["status"] != 0:
            problems.append(f"{client['name']} exited {client['status']}")
        if client["videoShare"] < 0.95:
            problems.append(f"{client['name']} decoded {client['videoShare']:.1%} of the chair's frames")
    if result["chair"]["status"] != 0:
        problems.append(f"the chair exited {result['chair']['status']}")
    timeouts = [line for line in result["peersRemoved"] if "timeout" in line or "consent" in line]
    if timeouts:
        problems.append(f"{len(timeouts)} peers removed for a timeout")
    if result["peersNearEnd"] != result["peersExpected"]:
        problems.append(f"{result['peersNearEnd']} peers near the end, {result['peersExpected']} expected")
    return problems


def report(result: dict) -> str:
    clients = result["clients"]
    link = result.get("link", {})
    lines = [f"chair: {result['chair']['videoFrames']} frames at {result['chair']['frameRate']} fps, "
             f"{result['chair']['audioFrames']} audio frames"]
    for side in ("up", "down"):
        counts = link.get(side, {})
        lines.append(f"link {side}: {counts.get('dropped', 0)} dropped of {counts.get('received', 0)} "
                     f"({counts.get('lossShare', 0):.2%})")
    if clients:
        video = [c["videoShare"] for c in clients]
        audio = [c["audioShare"] for c in clients]
        lines.append(f"clients: video decoded {min(video):.1%}–{max(video):.1%} of the chair's frames, "
                     f"audio frames {min(audio):.1%}–{max(audio):.1%} of 50/s, "
                     f"first video after {min(c['firstVideoS'] or 0 for c in clients)}–"
                     f"{max(c['firstVideoS'] or 0 for c in clients)} s, "
                     f"exit statuses {sorted(set(c['status'] for c in clients))}")
    relay = result["relay"]
    lines.append(f"relay (during the meeting): RSS {relay['rssStartKiB']} -> {relay['rssEndKiB']} KiB (max {relay['rssMaxKiB']}; "
                 f"{relay['rssGrowthPct']:+.1f} % after {relay['rssWarmAtS']} s), fds {relay['fdsStart']} -> "
                 f"{relay['fdsEnd']}, threads {relay['threadsStart']} -> {relay['threadsEnd']}; after it RSS {relay['rssAfterKiB']} KiB, "
                 f"{relay['fdsAfter']} fds; peers near the end "
                 f"{result['peersNearEnd']} of {result['peersExpected']}; removed {len(result['peersRemoved'])}")
    problems = verdict(result)
    lines.append(f"relay counters during the meeting: {result['relayCounters']}")
    lines.append("verdict: " + ("every check held" if not problems else "; ".join(problems)))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
