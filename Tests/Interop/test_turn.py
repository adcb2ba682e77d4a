"""TURN: headless Chromium reaches the relay only through coturn (Debian's `coturn`).

The relay is ICE-lite with one host candidate and needs no TURN client: it hands its clients
TURN servers with short-lived TURN REST credentials (GET /api/ice-servers, minted from
media.turn_secret_file, checked by coturn's use-auth-secret / static-auth-secret). Each test
starts a relay whose media.ice_servers names one coturn URL (?transport=udp, then
?transport=tcp), publishes Chromium's camera with iceTransportPolicy "relay" (so only the TURN
path can connect), proves the path (the selected candidate pair's local candidate is "relay"
over that transport, and coturn logged the allocation for the token's subject) and watches the
stream with a second Chromium.

coturn runs on 127.0.0.1 with its own configuration, database, pid and log files in a
temporary directory, and is always killed at the end of the module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from conftest import ARTIFACTS, Giaoban, free_port, run_async, server_command, unique_stream, wait_for
from test_whip_whep_chromium import (  # noqa: F401  (chromium is a fixture)
    CONNECT_TIMEOUT, MEDIA_TIMEOUT, chromium, connected, describe, receiving, screenshot, wait_page,
)

pytestmark = [pytest.mark.chromium, pytest.mark.media]

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
REALM = "giaoban.test"
TURN_STARTUP_TIMEOUT = 15.0
RELAY_PORTS = 20  # coturn's relayed UDP ports: a small range


def free_port_range(count: int, ip: str = "127.0.0.1") -> tuple[int, int]:
    """`count` consecutive UDP ports on `ip`, all free now, above the ephemeral range's usual start."""
    for _ in range(200):
        first = 20000 + (free_port(socket.SOCK_DGRAM) % 20000)
        sockets = []
        try:
            for port in range(first, first + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind((ip, port))
            return first, first + count - 1
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    pytest.fail(f"no {count} consecutive free UDP ports for coturn's relay range")


def free_tcp_udp_port(ip: str = "127.0.0.1") -> int:
    """A port free on `ip` for both TCP and UDP (coturn listens on both)."""
    for _ in range(100):
        port = free_port(socket.SOCK_STREAM)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((ip, port))
            except OSError:
                continue
        return port
    pytest.fail("no port free for both TCP and UDP")


class Coturn:
    """coturn on `ip` (127.0.0.1 unless told): TURN over UDP and TCP on one listening port, REST
    API credentials."""

    def __init__(self, ip: str = "127.0.0.1") -> None:
        if not Path(TURNSERVER).exists():
            pytest.fail("turnserver is missing: the TURN tests need Debian's coturn (scripts/setup.sh --test installs it)")
        self.ip = ip
        self.directory = Path(tempfile.mkdtemp(prefix="giaoban-coturn-"))
        self.port = free_tcp_udp_port(ip)
        self.min_port, self.max_port = free_port_range(RELAY_PORTS, ip)
        self.secret = secrets.token_hex(32)
        self.secret_file = self.directory / "turn.secret"
        self.secret_file.write_text(self.secret + "\n")
        self.secret_file.chmod(0o600)
        self.log_path = self.directory / "turnserver.log"
        self.config_path = self.directory / "turnserver.conf"
        # The same lines as docs/configuration.md's TURN section, for loopback.
        self.config_path.write_text("\n".join([
            f"listening-ip={ip}",
            f"relay-ip={ip}",
            f"listening-port={self.port}",
            f"min-port={self.min_port}",
            f"max-port={self.max_port}",
            "use-auth-secret",
            f"static-auth-secret={self.secret}",
            f"realm={REALM}",
            "fingerprint",
            "allow-loopback-peers",  # the relay is on 127.0.0.1 too (never in production)
            "no-cli",
            "no-tls",
            "no-dtls",
            "no-multicast-peers",
            f"userdb={self.directory / 'turndb'}",
            f"pidfile={self.directory / 'turnserver.pid'}",
            f"log-file={self.log_path}",
            "simple-log",
            "verbose",
            "",
        ]))
        self._output = open(self.directory / "turnserver.out", "wb")
        self.proc = subprocess.Popen([TURNSERVER, "-c", str(self.config_path)], cwd=self.directory,
                                     stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_for(self._listening, TURN_STARTUP_TIMEOUT, what=f"turnserver listening on {ip}:{self.port}")
        except BaseException:
            self.stop()
            raise

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"turnserver exited with status {self.proc.returncode} at start:\n{self.log()}")
        with socket.create_connection((self.ip, self.port), timeout=1):
            return True

    def url(self, transport: str) -> str:
        return f"turn:{self.ip}:{self.port}?transport={transport}"

    def log(self) -> str:
        parts = []
        for path in (self.log_path, self.directory / "turnserver.out"):
            try:
                parts.append(path.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._output.close()
        ARTIFACTS.joinpath("logs").mkdir(parents=True, exist_ok=True)
        ARTIFACTS.joinpath("logs", "turnserver.log").write_text(self.log())
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def coturn():
    server = Coturn()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def relay_with_turn(request, coturn):
    """Starts a relay whose media.ice_servers is one coturn URL; the factory's argument is the transport."""
    started = []

    def start(transport: str) -> Giaoban:
        workdir = Path(tempfile.mkdtemp(prefix="giaoban-turn-"))
        server = Giaoban(f"test_turn_{transport}", workdir)
        server.extra_env = {
            "GIAOBAN_MEDIA_ICE_SERVERS": coturn.url(transport),
            "GIAOBAN_MEDIA_TURN_SECRET_FILE": str(coturn.secret_file),
            "GIAOBAN_MEDIA_TURN_CREDENTIAL_TTL_S": "600",
        }
        started.append(server)
        request.node._giaoban = server  # the log tail goes into a failing test's report
        server.start()
        wait_for(server.secret_file.exists, 5, what=f"the server to create {server.secret_file}")
        return server

    yield start
    for server in started:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def page_url(server: Giaoban, page: str, **params: str) -> str:
    return server.url(f"/{page}?" + urllib.parse.urlencode(params))


def check_ice_servers(server: Giaoban, coturn: Coturn, transport: str, token: str, subject: str) -> None:
    """GET /api/ice-servers: 401 without a token; the TURN URL with a credential coturn accepts."""
    assert requests.get(server.url("/api/ice-servers"), timeout=5).status_code == 401
    before = int(time.time())
    resp = requests.get(server.url("/api/ice-servers"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ttl"] == 600, body
    (entry,) = body["iceServers"]
    assert entry["urls"] == [coturn.url(transport)], body
    expiry, _, who = entry["username"].partition(":")
    assert who == subject and before + 600 <= int(expiry) <= int(time.time()) + 600, entry
    expected = base64.b64encode(hmac.new(coturn.secret.encode(), entry["username"].encode(), hashlib.sha1).digest()).decode()
    assert entry["credential"] == expected, "the credential is base64(HMAC-SHA1(static-auth-secret, username))"


def allocations(coturn: Coturn, subject: str) -> list[str]:
    """coturn's log lines of successful allocations for `subject`'s TURN REST username."""
    try:
        text = coturn.log_path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if f":{subject}>" in line and "ALLOCATE processed, success" in line]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_chromium_publishes_through_turn_only(relay_with_turn, coturn, chromium, artifacts, transport):
    server = relay_with_turn(transport)
    subject = f"xa-turn-{transport}"
    token = server.token(subject, "commune")
    check_ice_servers(server, coturn, transport, token, subject)
    stream = unique_stream(f"turn{transport}")
    publisher, watcher = chromium(), chromium()
    try:
        publisher.get(page_url(server, "whip.html", stream=stream, token=token, ice="relay"))
        sent = wait_page(publisher, connected, CONNECT_TIMEOUT, f"publisher connected through TURN/{transport}")
        path = wait_page(publisher, lambda s: s.get("localCandidateType"), 10, "the selected candidate pair")
        assert (path["localCandidateType"], path["relayProtocol"]) == ("relay", transport), \
            f"the publisher's selected pair is not relayed over TURN/{transport}: {path}\n{describe(publisher)}"
        wait_for(lambda: allocations(coturn, subject), 10, what=f"coturn to log the allocation of {subject}")
        watcher.get(page_url(server, "whep.html", stream=stream, token=server.token(f"observer-turn-{transport}", "observer")))
        got = wait_page(watcher, receiving, MEDIA_TIMEOUT, "watcher decoding the TURN-relayed publisher")
        print(json.dumps({"publisher": sent, "path": path, "watcher": got,
                          "coturn": allocations(coturn, subject)}, sort_keys=True))
        assert got["frameWidth"] > 0 and got["frameHeight"] > 0
    except BaseException:
        print(f"coturn log:\n{coturn.log()[-6000:]}")
        raise
    finally:
        screenshot(publisher, artifacts, f"turn-{transport}-publisher")
        screenshot(watcher, artifacts, f"turn-{transport}-watcher")


def test_endpoint_publishes_through_turn(relay_with_turn, coturn):
    """`giaoban endpoint publish --ice-server turn:…?transport=udp` (credentials minted by the
    relay's GET /api/ice-servers for its token) publishes through coturn, and aiortc decodes it."""
    from test_endpoint_interop import finish, watch_when_published  # noqa: PLC0415

    server = relay_with_turn("udp")
    subject = "xa-turn-endpoint"
    token = server.token(subject, "commune")
    stream = unique_stream("turnep")
    publisher = subprocess.Popen(
        server_command() + ["endpoint", "publish", "--url", server.base_url, "--stream", stream, "--token", token,
                            "--ice-server", coturn.url("udp"), "--duration", "14", "--width", "320", "--height", "240",
                            "--tone", "1000", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: allocations(coturn, subject) or publisher.poll() is not None, 15,
                 what=f"coturn to log the allocation of {subject}")
        assert publisher.poll() is None, f"the endpoint exited early: {publisher.communicate()[1][-800:]}"
        watched = run_async(watch_when_published(server.url(f"/whep/{stream}"), server.token("observer-turn-ep", "observer"), 6.0), 60)
        published = finish(publisher, 30)
        print(json.dumps({"publisher": published, "watcher": watched, "coturn": allocations(coturn, subject)}, sort_keys=True))
        assert watched["video_frames"] >= 30, watched
        assert watched["video_sizes"].get("320x240", 0) >= 30, watched["video_sizes"]
        assert abs(watched["audio_dominant_hz"] - 1000) <= 20, "the endpoint's 1000 Hz tone"
        # "turn 127.0.0.1:<coturn> relayed 127.0.0.1:<relayed port> to 127.0.0.1:<relay's UDP port>"
        words = published["mediaPath"].split()
        assert words[0] == "turn" and words[1] == f"{coturn.ip}:{coturn.port}", published["mediaPath"]
        relayed_port = int(words[3].rsplit(":", 1)[1])
        assert coturn.min_port <= relayed_port <= coturn.max_port, f"the relayed address is coturn's: {published['mediaPath']}"
        assert words[5] == f"127.0.0.1:{server.udp_port}", published["mediaPath"]
        # The relay saw the publisher at coturn's relayed address, not at the endpoint's own socket.
        nominated = [line for line in server.log_path.read_text(errors="replace").splitlines() if "ICE nominated" in line]
        assert any(f"address=127.0.0.1:{relayed_port} " in line for line in nominated), \
            f"the relay nominated coturn's relayed address 127.0.0.1:{relayed_port}: {nominated}"
    except BaseException:
        print(f"coturn log:\n{coturn.log()[-6000:]}")
        raise
    finally:
        if publisher.poll() is None:
            publisher.kill()
