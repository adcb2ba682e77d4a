#!/usr/bin/env python3
# Resident memory of a relay binary before, at the peak of and after a flood of WHIP sessions
# that never do ICE/DTLS and so expire (the media handshake timeout, 20 s).
#   scripts/measure-peer-memory.py BINARY                       # 40 subjects x 30 sessions = 1,200
#   scripts/measure-peer-memory.py BINARY --subjects 40 --per-subject 30 --settle 15 --json out.json
# Starts `BINARY serve` on free ports of 127.0.0.1 in a temporary directory, reads VmRSS of
# /proc/PID/status, posts the sessions (streams flood-<subject>-<i>), reads RSS at the peak, waits
# until GET /metrics says giaoban_peers is 0 (at most --expire-timeout s) plus --settle s, reads RSS
# again, stops the relay with SIGTERM and prints one line:
#   binary  created  before / peak / after MiB  given back (peak - after) / (peak - before)
# Python 3 standard library only; every wait is bounded.
import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OFFER = os.path.join(REPO, "Tests/GiaobanWireTests/Fixtures/sdp/aiortc-offer.sdp")


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    """VmRSS of `pid` in KiB (None when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def mib(kib):
    return kib / 1024.0


def request(port, method, path, headers=None, body=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def token(binary, secret, subject, role):
    out = subprocess.run([binary, "token", "--secret-file", secret, "--subject", subject, "--role", role],
                         check=True, capture_output=True, text=True, timeout=20)
    return out.stdout.strip()


def peers(port, observer):
    """giaoban_peers from GET /metrics (None when it cannot be read)."""
    try:
        status, body = request(port, "GET", "/metrics", {"Authorization": f"Bearer {observer}"}, timeout=5)
    except OSError:
        return None
    if status != 200:
        return None
    total = None
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("giaoban_peers ") or line.startswith("giaoban_peers{"):
            total = (total or 0) + float(line.split()[-1])
    return total


def removed_lines(log_path):
    with open(log_path, errors="replace") as f:
        return sum(1 for line in f if "peer removed" in line)


class Sampler(threading.Thread):
    """Samples the RSS every 50 ms and keeps the maximum (the peak between two reads)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            value = rss_kib(self.pid)
            if value is not None:
                self.peak = max(self.peak, value)
            self.stop.wait(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("binary")
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--per-subject", type=int, default=30)
    parser.add_argument("--workers", type=int, default=16, help="concurrent WHIP posts")
    parser.add_argument("--offer", default=DEFAULT_OFFER)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds after /healthz before the first read")
    parser.add_argument("--expire-timeout", type=float, default=120.0)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after the last peer expired")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (relay.log)")
    args = parser.parse_args()

    binary = os.path.abspath(args.binary)
    with open(args.offer, "rb") as f:
        offer = f.read()
    directory = tempfile.mkdtemp(prefix="giaoban-peer-memory-")
    secret = os.path.join(directory, "token.secret")
    log_path = os.path.join(directory, "relay.log")
    observer = token(binary, secret, "peer-memory-observer", "observer")  # creates the secret
    subjects = [f"s{j:03d}" for j in range(args.subjects)]
    tokens = {s: token(binary, secret, s, "commune") for s in subjects}

    http_port, media_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIAOBAN_")}
    env.update({
        "GIAOBAN_HTTP_ADDRESS": "127.0.0.1", "GIAOBAN_HTTP_PORT": str(http_port),
        "GIAOBAN_MEDIA_ADDRESS": "127.0.0.1", "GIAOBAN_MEDIA_UDP_PORT": str(media_port),
        "GIAOBAN_AUTH_SECRET_FILE": secret, "GIAOBAN_HUB_DIRECTORY_FILE": "",
        "GIAOBAN_SERVER_LOG_LEVEL": "info",
    })
    log = open(log_path, "wb")
    relay = subprocess.Popen([binary, "serve"], cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
    sampler = None
    try:
        deadline = time.monotonic() + 20
        while True:
            if relay.poll() is not None:
                sys.exit(f"the relay exited with status {relay.returncode}; log: {log_path}")
            try:
                if request(http_port, "GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"GET /healthz did not answer within 20 s; log: {log_path}")
            time.sleep(0.05)
        time.sleep(args.idle)
        before = rss_kib(relay.pid)
        sampler = Sampler(relay.pid)
        sampler.start()

        def post(job):
            subject, i = job
            headers = {"Authorization": f"Bearer {tokens[subject]}", "Content-Type": "application/sdp"}
            try:
                return request(http_port, "POST", f"/whip/flood-{subject}-{i}", headers, offer, timeout=10)[0]
            except OSError as error:
                return type(error).__name__

        jobs = [(s, i) for i in range(args.per_subject) for s in subjects]
        started = time.monotonic()
        statuses = {}
        with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
            for status in pool.map(post, jobs, timeout=120):
                statuses[status] = statuses.get(status, 0) + 1
        post_seconds = time.monotonic() - started
        created = statuses.get(201, 0)
        at_end_of_posts = rss_kib(relay.pid)
        time.sleep(0.3)  # the /metrics snapshot is refreshed every 100 ms
        at_peak_peers = peers(http_port, observer)

        # Wait for the sessions to expire: giaoban_peers back to 0 and a "peer removed" log line
        # for every created session; bounded.
        expire_deadline = time.monotonic() + args.expire_timeout
        remaining = at_peak_peers
        while time.monotonic() < expire_deadline:
            remaining = peers(http_port, observer)
            if remaining == 0 and removed_lines(log_path) >= created:
                break
            time.sleep(0.5)
        expired_after = time.monotonic() - started
        sampler.stop.set()
        sampler.join(2)
        peak = max(sampler.peak, at_end_of_posts or 0)
        time.sleep(args.settle)
        after = rss_kib(relay.pid)
    finally:
        if sampler is not None:
            sampler.stop.set()
        if relay.poll() is None:
            relay.send_signal(signal.SIGTERM)
            try:
                relay.wait(20)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait(5)
        log.close()

    removed = removed_lines(log_path)
    growth = peak - before
    given_back = (peak - after) / growth if growth > 0 else float("nan")
    result = {
        "binary": binary, "sessions_created": created, "statuses": {str(k): v for k, v in statuses.items()},
        "post_seconds": round(post_seconds, 2), "peers_after_posts": at_peak_peers,
        "peers_at_end_of_wait": remaining, "expired_after_s": round(expired_after, 1),
        "peer_removed_log_lines": removed, "rss_before_mib": round(mib(before), 1),
        "rss_peak_mib": round(mib(peak), 1), "rss_after_mib": round(mib(after), 1),
        "given_back": round(given_back, 3), "exit_status": relay.returncode,
    }
    print(f"# statuses {result['statuses']}, posts {post_seconds:.1f} s, peers after posts {at_peak_peers}, "
          f"at end of wait {remaining} ({expired_after:.1f} s after the first post), "
          f"'peer removed' log lines {removed}, relay exit {relay.returncode}", file=sys.stderr)
    print(f"{binary}  created {created}  RSS before {mib(before):.1f} / peak {mib(peak):.1f} / "
          f"after {mib(after):.1f} MiB  given back {given_back * 100:.0f} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if args.keep:
        print(f"# kept {directory}", file=sys.stderr)
    else:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
