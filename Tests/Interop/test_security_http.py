"""HTTP hardening against a running server (docs/security.md).

- a connection that sends no complete request head (idle, or trickling a header) is closed
  within security.http_idle_timeout_s, and so is a keep-alive connection left idle;
- SIGTERM ends the process within security.shutdown_timeout_s even with clients holding
  connections open, and a new server binds the same UDP media port at once;
- /metrics and /version need a token; every response says nosniff; an HTML attachment is
  a download; token lifetimes and issue times are checked, and `token --ttl` of the
  largest Int64 is refused with a message instead of a crash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import Giaoban, wait_for

IDLE_TIMEOUT_S = 2
SHUTDOWN_TIMEOUT_S = 3
# How long past a timeout the tests wait before calling it missed: generous for a busy machine.
MARGIN_S = 6.0


def start_server(name: str, workdir: Path, **env: str) -> Giaoban:
    server = Giaoban(name, workdir)
    server.extra_env.update({"GIAOBAN_SECURITY_" + key.upper(): value for key, value in env.items()})
    server.start()
    wait_for(server.secret_file.exists, 5, what=f"the server to create {server.secret_file}")
    return server


@pytest.fixture(scope="module")
def server(request):
    workdir = Path(tempfile.mkdtemp(prefix="giaoban-interop-"))
    giaoban = start_server("test_security_http", workdir, http_idle_timeout_s=str(IDLE_TIMEOUT_S))
    request.node._giaoban = giaoban
    try:
        yield giaoban
    finally:
        giaoban.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def connect(server: Giaoban) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def closed_by_server(sock: socket.socket, within: float, trickle: bytes = b"") -> bool:
    """True when the server closes `sock` within `within` seconds; while waiting, sends
    `trickle` one byte at a time, half a second apart (a slow header)."""
    deadline = time.monotonic() + within
    position = 0
    while time.monotonic() < deadline:
        sock.settimeout(0.5)
        try:
            data = sock.recv(4096)
            if data == b"":
                return True
            # A response (e.g. 400/408) before the close is fine; keep reading to the close.
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return True
        if trickle:
            try:
                sock.sendall(trickle[position % len(trickle):position % len(trickle) + 1])
            except (ConnectionResetError, BrokenPipeError):
                return True
            position += 1
    return False


def test_idle_connection_is_closed(server):
    with connect(server) as sock:
        assert closed_by_server(sock, IDLE_TIMEOUT_S + MARGIN_S), "an idle connection stayed open"


def test_partial_header_connection_is_closed(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert closed_by_server(sock, IDLE_TIMEOUT_S + MARGIN_S), "a half-sent header held the connection"


def test_trickled_header_is_closed(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # A byte every half second never completes the head: the deadline counts from connecting.
        assert closed_by_server(sock, IDLE_TIMEOUT_S + MARGIN_S, trickle=b"aaaaaaaa"), "a trickled header held the connection"


def test_keep_alive_connection_left_idle_is_closed(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(5)
        assert b"200" in sock.recv(4096).split(b"\r\n", 1)[0]
        assert closed_by_server(sock, IDLE_TIMEOUT_S + MARGIN_S), "an idle keep-alive connection stayed open"


def test_requests_still_work_and_say_nosniff(server):
    resp = requests.get(server.url("/healthz"), timeout=5)
    assert resp.status_code == 200 and resp.headers.get("X-Content-Type-Options") == "nosniff"
    resp = requests.get(server.url("/no-such-page"), timeout=5)
    assert resp.status_code == 404 and resp.headers.get("X-Content-Type-Options") == "nosniff"


def test_metrics_and_version_need_a_token(server):
    assert requests.get(server.url("/metrics"), timeout=5).status_code == 401
    assert requests.get(server.url("/version"), timeout=5).status_code == 401
    commune = {"Authorization": f"Bearer {server.token('xa-an-binh', 'commune')}"}
    assert requests.get(server.url("/metrics"), headers=commune, timeout=5).status_code == 403
    assert requests.get(server.url("/version"), headers=commune, timeout=5).status_code == 200
    admin = {"Authorization": f"Bearer {server.token('officer', 'admin')}"}
    resp = requests.get(server.url("/metrics"), headers=admin, timeout=5)
    assert resp.status_code == 200 and "giaoban_udp_received_total" in resp.text
    assert requests.get(server.url("/healthz"), timeout=5).status_code == 200


def test_html_attachment_is_served_as_a_download(server):
    chair = {"Authorization": f"Bearer {server.token('chi-huy', 'chair')}"}
    html = b"<html><script>alert(document.cookie)</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    body = {"title": "T", "body": "B", "priority": "routine", "audience": {"all": True}, "attachments": [
        {"name": "page.html", "content_type": "text/html", "data": base64.b64encode(html).decode()},
        {"name": "map.svg", "content_type": "image/svg+xml", "data": base64.b64encode(svg).decode()},
        {"name": "photo.png", "content_type": "image/png", "data": base64.b64encode(b"\x89PNG\r\n").decode()},
    ]}
    resp = requests.post(server.url("/api/briefings"), json=body, headers=chair, timeout=10)
    assert resp.status_code == 201, resp.text
    briefing = requests.get(server.url(resp.headers["Location"]), headers=chair, timeout=10).json()
    served = {}
    for file in briefing["attachments"]:
        got = requests.get(server.url(file["url"]), headers=chair, timeout=10)
        assert got.status_code == 200 and got.headers.get("X-Content-Type-Options") == "nosniff"
        served[file["name"]] = (got.headers["Content-Type"], got.headers.get("Content-Disposition", ""))
    assert served["page.html"][0] == "application/octet-stream" and served["page.html"][1].startswith("attachment")
    assert served["map.svg"][0] == "application/octet-stream" and served["map.svg"][1].startswith("attachment")
    assert served["photo.png"][0] == "image/png"


def jwt(secret: bytes, claims: dict) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def test_token_times_are_checked(server):
    secret = server.secret_file.read_text().strip().encode()
    now = int(time.time())
    cases = {
        "valid": ({"sub": "a", "role": "chair", "iat": now - 5, "exp": now + 600}, 200),
        "issued in the future": ({"sub": "a", "role": "chair", "iat": now + 3600, "exp": now + 7200}, 401),
        "not yet valid": ({"sub": "a", "role": "chair", "iat": now - 5, "nbf": now + 3600, "exp": now + 7200}, 401),
        "lives 100 years": ({"sub": "a", "role": "chair", "iat": now - 5, "exp": now + 100 * 366 * 86400}, 401),
        "largest exp": ({"sub": "a", "role": "chair", "iat": -(2 ** 63), "exp": 2 ** 63 - 1}, 401),
    }
    for name, (claims, status) in cases.items():
        resp = requests.get(server.url("/version"), headers={"Authorization": f"Bearer {jwt(secret, claims)}"}, timeout=5)
        assert resp.status_code == status, f"{name}: {resp.status_code} {resp.text}"
    assert server.alive()


def test_token_command_refuses_an_overlong_ttl(server):
    result = server.token_command("a", "chair", ttl=2 ** 63 - 1)
    assert result.returncode == 64 or result.returncode == 1, f"status {result.returncode}: {result.stderr}"
    assert "max_token_lifetime_s" in result.stderr, result.stderr


def test_sigterm_with_clients_connected_ends_within_the_bound_and_frees_the_media_port(tmp_path):
    # A long idle timeout, so that only the shutdown bound can end these connections.
    first = start_server("test_security_http_shutdown", tmp_path / "first", http_idle_timeout_s="600",
                         shutdown_timeout_s=str(SHUTDOWN_TIMEOUT_S))
    second = None
    clients = []
    try:
        idle = connect(first)
        partial = connect(first)
        partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        body = connect(first)  # a request whose body never finishes keeps a request in progress
        chair = first.token("chi-huy", "chair")
        body.sendall(f"POST /api/briefings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {chair}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"title\":".encode())
        clients = [idle, partial, body]
        assert first.healthy()
        first.proc.send_signal(signal.SIGTERM)
        try:
            status = first.proc.wait(SHUTDOWN_TIMEOUT_S + MARGIN_S)
        except Exception:
            pytest.fail(f"the server still ran {SHUTDOWN_TIMEOUT_S + MARGIN_S:.0f} s after SIGTERM\n{first.log_tail()}")
        assert status == 0, f"exit status {status}\n{first.log_tail()}"

        second = Giaoban("test_security_http_restart", tmp_path / "second")
        second.udp_port = first.udp_port
        second.start()  # fails the test if the UDP port is still taken
        assert second.healthy()
    finally:
        for sock in clients:
            sock.close()
        first.stop()
        if second is not None:
            second.stop()
