"""A commune station on another network: headless Chromium in its own network namespace.

The test makes a namespace with a veth pair (the relay's side 10.231.N.1, the station's
10.231.N.2), runs chromedriver and Chromium inside it, and the relay, coturn and the chair
(aiortc) outside. Chromium opens the room page over HTTPS by the server's name (a
self-signed certificate it is told to trust), publishes its camera and decodes the chair:

- over UDP;
- with every UDP packet of the namespace dropped (nftables): over ICE-TCP, the relay's
  passive TCP candidate (media.tcp_port, RFC 6544);
- with UDP dropped and ?ice=relay: through coturn over TCP.

Each run checks the path the browser chose (getStats' selected candidate pair), that the
chair sees the station publishing, and for ICE-TCP the relay's /metrics. The namespace, its
rules and the veth pair are always removed. Needs root and `ip`/`nft` (scripts/setup.sh
--test installs iproute2 and nftables); skipped with the reason where namespaces cannot be made.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from conftest import Giaoban, free_port, running, wait_for
from test_https import HOST, spki_hash
from test_meeting_room_chromium import RoomPublisher
from test_turn import Coturn
from test_whip_whep_chromium import CHROMEDRIVER, CHROMIUM, FLAGS, describe, screenshot, stats

pytestmark = [pytest.mark.chromium, pytest.mark.media]

MIN_FRAMES = 30
JOIN_TIMEOUT = 40.0


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=20, check=check)


class Namespace:
    """A network namespace joined to this one by a veth pair; removed by `close`."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            pytest.skip("network namespaces need root (CI runs the suite as root)")
        for tool in ("ip", "nft"):
            if not shutil.which(tool):
                pytest.fail(f"{tool} is missing: scripts/setup.sh --test installs iproute2 and nftables")
        n = 20 + os.getpid() % 200
        self.name = f"giaoban-ns{os.getpid()}"
        self.outer, self.inner = f"gbo{os.getpid()}"[:15], f"gbi{os.getpid()}"[:15]
        self.host_ip, self.station_ip = f"10.231.{n}.1", f"10.231.{n}.2"
        made = run("ip", "netns", "add", self.name, check=False)
        if made.returncode != 0:
            pytest.skip(f"this machine forbids network namespaces: ip netns add: {made.stderr.strip()}")
        try:
            for command in (
                ["ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner],
                ["ip", "link", "set", self.inner, "netns", self.name],
                ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.outer],
                ["ip", "link", "set", self.outer, "up"],
                self.inside("ip", "addr", "add", f"{self.station_ip}/30", "dev", self.inner),
                self.inside("ip", "link", "set", self.inner, "up"),
                self.inside("ip", "link", "set", "lo", "up"),
            ):
                run(*command)
        except BaseException:
            self.close()
            raise

    def inside(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]

    def drop_udp(self) -> None:
        """Every UDP packet into or out of the namespace is dropped, as a station's firewall would."""
        rules = ("table inet giaoban_station {\n"
                 "  chain output { type filter hook output priority 0; meta l4proto udp counter drop; }\n"
                 "  chain input { type filter hook input priority 0; meta l4proto udp counter drop; }\n"
                 "}\n")
        subprocess.run(self.inside("nft", "-f", "-"), input=rules, text=True, check=True, capture_output=True, timeout=20)

    def allow_udp(self) -> None:
        run(*self.inside("nft", "delete", "table", "inet", "giaoban_station"), check=False)

    def dropped_udp_packets(self) -> int:
        """Packets the drop rules counted (0 when there are none)."""
        listed = run(*self.inside("nft", "-j", "list", "table", "inet", "giaoban_station"), check=False)
        if listed.returncode != 0:
            return 0
        total = 0
        for item in json.loads(listed.stdout).get("nftables", []):
            for expr in item.get("rule", {}).get("expr", []):
                total += expr.get("counter", {}).get("packets", 0)
        return total

    def close(self) -> None:
        run("ip", "netns", "del", self.name, check=False)  # takes the inner veth, and with it the pair
        run("ip", "link", "del", self.outer, check=False)


class StationBrowser:
    """chromedriver and Chromium inside the namespace, driven from here over the veth pair."""

    def __init__(self, namespace: Namespace, flags: tuple[str, ...]) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options

        for path in (CHROMIUM, CHROMEDRIVER):
            if not shutil.which(path):
                pytest.fail(f"{path} is missing: scripts/test-interop.sh installs chromium and chromium-driver")
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="giaoban-chromedriver-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            namespace.inside(CHROMEDRIVER, f"--port={self.port}", f"--allowed-ips={namespace.host_ip}"),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://{namespace.station_ip}:{self.port}"
        self.driver = None
        try:
            wait_for(lambda: requests.get(url + "/status", timeout=1).ok, 15, what="chromedriver in the namespace")
            options = Options()
            options.binary_location = CHROMIUM
            for flag in FLAGS + list(flags):
                options.add_argument(flag)
            options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
            self.driver = webdriver.Remote(command_executor=url, options=options)
            self.driver.set_page_load_timeout(20)
            self.driver.set_script_timeout(10)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001 - a browser that already died
                pass
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        os.unlink(self.log.name)


@pytest.fixture(scope="module")
def namespace():
    ns = Namespace()
    try:
        yield ns
    finally:
        ns.close()


@pytest.fixture(scope="module")
def certificate(namespace):
    """The documented self-signed certificate (docs/deployment.md), also naming the relay's WAN address."""
    directory = Path(tempfile.mkdtemp(prefix="giaoban-ns-tls-"))
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "30", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST},DNS:localhost,IP:127.0.0.1,IP:{namespace.host_ip}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30)
    yield cert, key
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def coturn(namespace):
    server = Coturn(ip=namespace.host_ip)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def relay(request, namespace, certificate, coturn):
    """The relay on the veth address: HTTPS, UDP media, ICE-TCP, and coturn over TCP as its TURN server."""
    cert, key = certificate
    server = Giaoban("test_network_namespace", Path(tempfile.mkdtemp(prefix="giaoban-ns-")))
    server.scheme, server.host, server.verify = "https", namespace.host_ip, str(cert)
    server.tcp_port = free_port()
    server.extra_env = {
        "GIAOBAN_HTTP_ADDRESS": namespace.host_ip,
        "GIAOBAN_HTTP_TLS_CERTIFICATE": str(cert),
        "GIAOBAN_HTTP_TLS_PRIVATE_KEY": str(key),
        "GIAOBAN_MEDIA_ADDRESS": namespace.host_ip,
        "GIAOBAN_MEDIA_TCP_PORT": str(server.tcp_port),
        "GIAOBAN_MEDIA_ICE_SERVERS": coturn.url("tcp"),
        "GIAOBAN_MEDIA_TURN_SECRET_FILE": str(coturn.secret_file),
    }
    with running(request, server):
        yield server


def metric(server: Giaoban, name: str) -> float:
    return server.metrics().get(name) or 0


@pytest.mark.parametrize("path", ["udp", "ice-tcp", "turn-tcp"])
def test_a_station_on_another_network_publishes_and_decodes_the_chair(namespace, relay, coturn, certificate, artifacts,
                                                                      path):
    cert, _ = certificate
    if path == "udp":
        namespace.allow_udp()
    else:
        namespace.drop_udp()
    chair = relay.token("officer-ns", "chair")
    resp = requests.post(relay.url("/api/meetings"), headers={"Authorization": f"Bearer {chair}"},
                         json={"title": f"Giao ban ({path})", "scheduled_at": "2026-12-07T07:30:00+07:00"},
                         timeout=10, verify=relay.verify)
    assert resp.status_code == 201, resp.text
    meeting = resp.json()["id"]
    trust = ssl.create_default_context(cafile=str(cert))
    room_url = relay.url(f"/api/meetings/{meeting}/room").replace("https://", "wss://") + f"?access_token={chair}"
    tcp_frames_before = metric(relay, "giaoban_ice_tcp_frames_received_total")
    subject = f"xa-ns-{path}"
    station = None
    with RoomPublisher(room_url, ssl=trust) as publisher:
        assert publisher.answered.wait(20), f"no answer to the chair's publish: {publisher.error} {publisher.messages}"
        station = StationBrowser(namespace, (f"--host-resolver-rules=MAP {HOST} {namespace.host_ip}",
                                             f"--ignore-certificate-errors-spki-list={spki_hash(cert)}"))
        page = station.driver
        try:
            params = {"meeting": meeting, "token": relay.token(subject, "commune"), "publish": "1"}
            if path == "turn-tcp":
                params["ice"] = "relay"
            page.get(f"https://{HOST}:{relay.http_port}/room.html?" + urllib.parse.urlencode(params))
            assert page.execute_script("return window.isSecureContext") is True, describe(page)

            def joined() -> dict | None:
                s = stats(page)
                done = (s.get("framesDecoded", 0) > MIN_FRAMES and s.get("publish", {}).get("state") == "connected"
                        and s.get("publish", {}).get("framesSent", 0) > MIN_FRAMES)
                return s if done else None

            got = None
            deadline = time.monotonic() + JOIN_TIMEOUT
            while got is None and time.monotonic() < deadline:
                got = joined()
                time.sleep(0.5)
            assert got is not None, f"{path}: the station did not publish and decode within {JOIN_TIMEOUT:.0f} s, " \
                                    f"last stats {stats(page)}\n{describe(page)}"
            print(json.dumps({"path": path, "stats": got, "udp_dropped": namespace.dropped_udp_packets()}, sort_keys=True))
            published = got["publish"]
            for side, s in (("publishing", published), ("receiving", got)):
                if path == "udp":
                    assert (s["localCandidateType"], s["localProtocol"]) == ("host", "udp"), f"{side}: {s}"
                elif path == "ice-tcp":
                    assert s["localProtocol"] == "tcp" and s["localCandidateType"] != "relay", f"{side}: {s}"
                else:
                    assert (s["localCandidateType"], s["relayProtocol"]) == ("relay", "tcp"), f"{side}: {s}"
            if path != "udp":
                assert namespace.dropped_udp_packets() > 0, "the station tried UDP, and the firewall dropped it"
            if path == "ice-tcp":
                assert metric(relay, "giaoban_ice_tcp_frames_received_total") > tcp_frames_before + 100
            wait_for(lambda: any(p["subject"] == subject and p.get("publishing")
                                 for m in publisher.messages if m["type"] == "roster" for p in m["participants"]),
                     10, what=f"the chair's roster to show {subject} publishing")
            assert publisher.error is None, publisher.error
        finally:
            screenshot(page, artifacts, f"station-{path}")
            station.close()
            namespace.allow_udp()
