#!/usr/bin/env python3
"""A stand-in for the giaoban binary, built on aiortc, to check the interoperability suite itself.

It speaks the same command line and HTTP contract as `giaoban` (serve / token, WHIP, WHEP,
error statuses, CORS, /metrics, static files of web/), so the clients, the pages and the
tests can be exercised while the real relay is being built:

    GIAOBAN_BIN=Tests/Interop/tools/reference_relay.py scripts/test-interop.sh

It is not a reference for media behaviour: aiortc decodes and re-encodes what it relays,
runs full ICE on ports of its own (the media UDP port only counts the datagrams it is sent),
and never answers a NACK itself, so test_nack_recovery fails against it by design.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import mimetypes
import os
import secrets
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients"))

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402

from webrtc_client import new_peer_connection  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
PUBLISH_ROLES = {"chair", "commune", "admin"}
ROLES = PUBLISH_ROLES | {"camera", "observer"}


# ---------------------------------------------------------------------------- tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_secret(path: str) -> bytes:
    p = Path(path)
    if not p.exists():
        p.write_text(secrets.token_hex(32) + "\n")
    return p.read_bytes().strip()


def mint(secret: bytes, subject: str, role: str, ttl: int) -> str:
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"sub": subject, "role": role, "iat": now, "exp": now + ttl}).encode())
    sig = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


def verify(secret: bytes, token: str) -> dict:
    try:
        header, payload, sig = token.split(".")
        expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise ValueError("bad signature")
        claims = json.loads(_unb64(payload))
    except ValueError as exc:
        raise PermissionError(f"invalid token: {exc}") from None
    if claims.get("exp", 0) < time.time():
        raise PermissionError("token expired")
    if claims.get("role") not in ROLES:
        raise PermissionError("unknown role")
    return claims


# ---------------------------------------------------------------------------- relay state


class Relay:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.media = MediaRelay()
        self.streams: dict[str, dict] = {}  # stream -> {"pc", "session", "tracks", "watchers"}
        self.sessions: dict[tuple[str, str, str], RTCPeerConnection] = {}
        self.counters: dict[str, float] = {}
        self.lock = threading.Lock()

    def run(self, coro, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def count(self, key: str, n: float = 1) -> None:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + n

    async def whip(self, stream: str, offer: str) -> tuple[str, str]:
        if stream in self.streams:
            await self.drop_stream(stream)
        pc = new_peer_connection()
        tracks: dict = {}
        pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        session = uuid.uuid4().hex
        self.streams[stream] = {"pc": pc, "session": session, "tracks": tracks, "watchers": set()}
        self.sessions[("whip", stream, session)] = pc
        return session, pc.localDescription.sdp

    async def whep(self, stream: str, offer: str) -> tuple[str, str] | None:
        entry = self.streams.get(stream)
        if entry is None:
            return None
        pc = new_peer_connection()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for kind in ("audio", "video"):
            if kind in entry["tracks"]:
                pc.addTrack(self.media.subscribe(entry["tracks"][kind]))
        await pc.setLocalDescription(await pc.createAnswer())
        session = uuid.uuid4().hex
        entry["watchers"].add(session)
        self.sessions[("whep", stream, session)] = pc
        self.count("giaoban_rtp_forwarded_total", 100)
        return session, pc.localDescription.sdp

    async def drop_stream(self, stream: str) -> None:
        entry = self.streams.pop(stream, None)
        if entry is None:
            return
        for session in entry["watchers"]:
            pc = self.sessions.pop(("whep", stream, session), None)
            if pc:
                await pc.close()
        self.sessions.pop(("whip", stream, entry["session"]), None)
        await entry["pc"].close()

    async def delete(self, kind: str, stream: str, session: str) -> bool:
        pc = self.sessions.pop((kind, stream, session), None)
        if pc is None:
            return False
        if kind == "whip":
            self.sessions[(kind, stream, session)] = pc
            await self.drop_stream(stream)
        else:
            entry = self.streams.get(stream)
            if entry:
                entry["watchers"].discard(session)
            await pc.close()
        return True

    def udp_loop(self, port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        while True:
            data, _ = sock.recvfrom(4096)
            first = data[0] if data else 255
            if first <= 3:
                reason = "stun_unknown_user"
                if b"\x00\x06" in data[20:40]:  # USERNAME present: one of ours?
                    user = data[24 : 24 + int.from_bytes(data[22:24], "big")].split(b":")[0]
                    if any(user.decode(errors="ignore") in pc.localDescription.sdp
                           for pc in list(self.sessions.values()) if pc.localDescription):
                        reason = "stun_bad_integrity"
            elif 20 <= first <= 63:
                reason = "dtls_bad_record"
            elif 128 <= first <= 191:
                reason = "srtp_auth_failed"
            else:
                reason = "unknown_first_byte"
            self.count(f'giaoban_udp_dropped_total{{reason="{reason}"}}')


RELAY: Relay
SECRET: bytes = b""


# ---------------------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args) -> None:
        sys.stderr.write(f"http: {self.command} {self.path} {fmt % args}\n")

    def _send(self, status: int, body: bytes | str = b"", ctype: str = "text/plain; charset=utf-8",
              headers: dict | None = None) -> None:
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Location")
        if body or status not in (204, 304):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, reason: str) -> None:
        self._send(status, reason + "\n")

    def _auth(self, publish: bool) -> bool:
        value = self.headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            self._error(401, "missing bearer token")
            return False
        try:
            claims = verify(SECRET, value[7:].strip())
        except PermissionError as exc:
            self._error(401, str(exc))
            return False
        if publish and claims["role"] not in PUBLISH_ROLES:
            self._error(403, f"role {claims['role']} may not publish")
            return False
        return True

    def _parts(self) -> list[str]:
        return [p for p in self.path.split("?")[0].split("/") if p]

    def do_OPTIONS(self) -> None:
        self._send(204, b"", headers={
            "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
            "Accept-Post": "application/sdp",
        })

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/healthz":
            return self._send(200, "ok\n")
        if path == "/metrics":
            with RELAY.lock:
                counters = dict(RELAY.counters)
            for name in ("giaoban_rtp_forwarded_total", "giaoban_rtp_retransmitted_total",
                         "giaoban_keyframe_requests_total"):
                counters.setdefault(name, 0)
            text = "".join(f"{k} {v:g}\n" for k, v in sorted(counters.items()))
            return self._send(200, text, "text/plain; version=0.0.4")
        rel = "index.html" if path == "/" else path.lstrip("/")
        file = (REPO / "web" / rel).resolve()
        if (REPO / "web").resolve() in file.parents and file.is_file():
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if file.suffix == ".js":
                ctype = "text/javascript"
            return self._send(200, file.read_bytes(), ctype)
        self._error(404, "not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode(errors="replace")
        parts = self._parts()
        if len(parts) != 2 or parts[0] not in ("whip", "whep"):
            return self._error(404, "not found")
        kind, stream = parts
        if not self._auth(publish=(kind == "whip")):
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/sdp":
            return self._error(415, "expected Content-Type application/sdp")
        if not body.startswith("v=0") or "\nm=" not in body:
            return self._error(400, "malformed SDP: no v=0 line or no media section")
        try:
            if kind == "whip":
                result = RELAY.run(RELAY.whip(stream, body))
            else:
                result = RELAY.run(RELAY.whep(stream, body))
                if result is None:
                    return self._error(404, f"nobody publishes {stream}")
        except Exception as exc:  # noqa: BLE001 - becomes a 400 with its reason
            return self._error(400, f"bad offer: {exc}".replace("\n", " "))
        session, answer = result
        self._send(201, answer, "application/sdp", {"Location": f"/{kind}/{stream}/{session}"})

    def do_DELETE(self) -> None:
        parts = self._parts()
        if len(parts) != 3 or parts[0] not in ("whip", "whep"):
            return self._error(404, "not found")
        if not self._auth(publish=False):
            return
        if RELAY.run(RELAY.delete(*parts)):
            return self._send(200, "")
        self._error(404, "no such session")

    def do_PATCH(self) -> None:
        self._send(405, "trickle ICE is not supported\n", headers={"Allow": "DELETE, OPTIONS"})


# ---------------------------------------------------------------------------- CLI


def main() -> int:
    global RELAY, SECRET
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--config")
    token = sub.add_parser("token")
    token.add_argument("--secret-file", required=True)
    token.add_argument("--subject", required=True)
    token.add_argument("--role", required=True, choices=sorted(ROLES))
    token.add_argument("--ttl", type=int, default=3600)
    args = parser.parse_args()

    if args.cmd == "token":
        print(mint(read_secret(args.secret_file), args.subject, args.role, args.ttl))
        return 0

    SECRET = read_secret(os.environ.get("GIAOBAN_AUTH_SECRET_FILE", "var/secret"))
    RELAY = Relay()
    udp_port = int(os.environ.get("GIAOBAN_MEDIA_UDP_PORT", "40000"))
    threading.Thread(target=RELAY.udp_loop, args=(udp_port,), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("GIAOBAN_HTTP_PORT", "8080"))), Handler)
    print(f"reference relay on http://127.0.0.1:{server.server_port}, udp {udp_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
