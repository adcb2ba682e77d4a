"""HTTPS and WSS on the control plane (http.tls_certificate / http.tls_private_key).

The certificate is made with the openssl line of docs/deployment.md, for the name
giaoban.test (and 127.0.0.1). Python's ssl and requests trust it as a CA file; Chromium is
told to trust its key (--ignore-certificate-errors-spki-list) and reaches giaoban.test
through a host-resolver rule, so the page is a secure context only because it came over
HTTPS: getUserMedia works there, and Chromium publishes its camera over WHIP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
import websockets

from conftest import Giaoban, running, server_command, unique_stream, wait_for
from test_whip_whep_chromium import CONNECT_TIMEOUT, MEDIA_TIMEOUT, chromium, connected, describe, receiving, wait_page  # noqa: F401 - chromium is a fixture

HOST = "giaoban.test"


def make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """The documented openssl line (docs/deployment.md): a self-signed P-256 certificate."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "30", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST},DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30)
    return cert, key


def der_fingerprint(pem: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def served_certificate(port: int) -> str:
    """The certificate a new TLS connection is shown, as PEM (not verified: it is compared)."""
    return ssl.get_server_certificate(("127.0.0.1", port), timeout=5)


def spki_hash(cert: Path) -> str:
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(cert)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.stdout, check=True,
                         capture_output=True)
    return base64.b64encode(hashlib.sha256(der.stdout).digest()).decode()


@pytest.fixture(scope="module")
def tls_dir():
    directory = Path(tempfile.mkdtemp(prefix="giaoban-tls-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def https_server(request, tls_dir):
    cert, key = make_certificate(tls_dir, "server")
    live_cert, live_key = tls_dir / "live.crt", tls_dir / "live.key"
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    server = Giaoban("test_https", Path(tempfile.mkdtemp(prefix="giaoban-interop-")))
    server.scheme = "https"
    server.verify = str(cert)
    server.extra_env = {
        "GIAOBAN_HTTP_TLS_CERTIFICATE": str(live_cert),
        "GIAOBAN_HTTP_TLS_PRIVATE_KEY": str(live_key),
    }
    with running(request, server):
        yield server


def test_https_answers_with_hsts_and_plain_http_gets_nothing(https_server):
    resp = requests.get(https_server.url("/healthz"), verify=https_server.verify, timeout=5)
    assert resp.status_code == 200 and resp.text.strip() == "ok"
    assert resp.headers.get("Strict-Transport-Security") == "max-age=31536000"
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    token = https_server.token("chair-tls", "chair")
    resp = requests.get(https_server.url("/version"), headers={"Authorization": f"Bearer {token}"},
                        verify=https_server.verify, timeout=5)
    assert resp.status_code == 200, resp.text
    # The port speaks TLS only: a plain HTTP request is not answered with HTTP.
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{https_server.http_port}/healthz", timeout=5)
    # And an untrusted client refuses the self-signed certificate (nothing is silently trusted).
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(https_server.url("/healthz"), timeout=5)


def test_a_garbage_handshake_is_closed_and_others_are_served(https_server):
    with socket.create_connection(("127.0.0.1", https_server.http_port), timeout=10) as raw:
        raw.sendall(os.urandom(2048))
        raw.settimeout(10)
        try:
            leftover = raw.recv(65536)
            # A TLS alert at most, then the close.
            while leftover:
                assert len(leftover) < 4096
                leftover = raw.recv(65536)
        except ConnectionResetError:
            pass
    assert https_server.healthy()
    assert https_server.alive()
    assert https_server.metrics().total("giaoban_tls_handshake_failures_total") >= 1, "the failed handshake is counted"
    assert https_server.metrics().total("giaoban_tls_handshakes_total") >= 1


def test_sighup_reloads_the_certificate_and_keeps_open_sockets(https_server, tls_dir):
    first = served_certificate(https_server.http_port)
    token = https_server.token("commune-tls", "commune")
    context = ssl.create_default_context(cafile=https_server.verify)
    url = f"wss://127.0.0.1:{https_server.http_port}/api/events?access_token={urllib.parse.quote(token)}"

    async def scenario() -> str:
        async with websockets.connect(url, ssl=context, open_timeout=10) as sock:
            await sock.send(json.dumps({"type": "ping"}))
            assert await pong(sock)
            # A renewed certificate (a new key too) replaces the files; SIGHUP reloads them.
            cert, key = make_certificate(tls_dir, "renewed")
            shutil.copy(cert, tls_dir / "live.crt")
            shutil.copy(key, tls_dir / "live.key")
            os.kill(https_server.proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while der_fingerprint(served_certificate(https_server.http_port)) == der_fingerprint(first):
                assert time.monotonic() < deadline, "the new certificate was not served within 10 s of SIGHUP"
                await asyncio.sleep(0.2)
            # The socket opened before the reload still works.
            await sock.send(json.dumps({"type": "ping"}))
            assert await pong(sock)
            return served_certificate(https_server.http_port)

    async def pong(sock) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(sock.recv(), timeout=10))
            if message.get("type") == "pong":
                return True
        return False

    renewed = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert der_fingerprint(renewed) == der_fingerprint((tls_dir / "renewed.crt").read_text())
    assert "TLS certificate reloaded" in https_server.log_tail(400)
    assert https_server.alive()
    # New clients trust the renewed certificate from here on.
    https_server.verify = str(tls_dir / "renewed.crt")
    assert https_server.healthy()


@pytest.mark.media
def test_the_endpoint_publishes_over_https_trusting_its_ca_file(https_server):
    """`giaoban endpoint publish --url https://… --ca-file …` (docs/endpoint.md): WHIP over the
    client's own TLS, then media; without the CA file it stops with the verification reason."""
    base = f"https://127.0.0.1:{https_server.http_port}"
    token = https_server.token("xa-https", "commune")
    published = subprocess.run(
        server_command() + ["endpoint", "publish", "--url", base, "--ca-file", str(https_server.verify),
                            "--stream", unique_stream("tls-ep"), "--token", token, "--duration", "3", "--json"],
        capture_output=True, text=True, timeout=60)
    assert published.returncode == 0, published.stderr[-800:]
    summary = json.loads(published.stdout.strip().splitlines()[-1])
    assert summary["videoFrames"] > 0 and summary["packetsSent"] > 0, summary
    untrusted = subprocess.run(
        server_command() + ["endpoint", "publish", "--url", base, "--stream", unique_stream("tls-ep"), "--token", token,
                            "--duration", "3"],
        capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "GIAOBAN_CA_FILE"})
    assert untrusted.returncode == 1
    assert "certificate verify failed: self-signed certificate" in untrusted.stderr, untrusted.stderr
    assert "--ca-file" in untrusted.stderr


@pytest.mark.chromium
@pytest.mark.media
def test_chromium_on_a_named_host_publishes_its_camera_over_https(https_server, chromium):
    flags = (f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
             f"--ignore-certificate-errors-spki-list={spki_hash(Path(https_server.verify))}")
    base = f"https://{HOST}:{https_server.http_port}"
    stream = unique_stream("tls")
    publisher, watcher = chromium(flags), chromium(flags)
    query = urllib.parse.urlencode({"stream": stream, "token": https_server.token("chair-https", "chair")})
    publisher.get(f"{base}/whip.html?{query}")
    assert publisher.execute_script("return window.isSecureContext") is True, describe(publisher)
    wait_page(publisher, connected, CONNECT_TIMEOUT, "publisher page connected over HTTPS")
    query = urllib.parse.urlencode({"stream": stream, "token": https_server.token("observer-https", "observer")})
    watcher.get(f"{base}/whep.html?{query}")
    got = wait_page(watcher, receiving, MEDIA_TIMEOUT, "watcher page decoding over HTTPS")
    assert got["framesDecoded"] > 0
