"""Fixtures of the interoperability suite: a running giaoban server per test module.

The server binary is /work/main/.build/debug/giaoban (repository-relative), or $GIAOBAN_BIN.
A path ending in .py is run with this interpreter (see tools/reference_relay.py).
Its log goes to artifacts/interop/logs/<module>.log and its tail is attached to every
failing test's report.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ARTIFACTS = REPO / "artifacts" / "interop"
sys.path.insert(0, str(HERE / "clients"))

STARTUP_TIMEOUT = 30.0
STOP_GRACE = 5.0
LOG_TAIL_LINES = 80

_RUNNING: set = set()


@atexit.register
def _kill_leftover_servers() -> None:
    # Last resort when the run is interrupted before the fixture's teardown.
    for proc in list(_RUNNING):
        if proc.poll() is None:
            proc.kill()


# ---------------------------------------------------------------------------- helpers


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports() -> tuple[int, int]:
    """A TCP port for HTTP and a UDP port for media, distinct and both currently free."""
    while True:
        http = free_port(socket.SOCK_STREAM)
        udp = free_port(socket.SOCK_DGRAM)
        if http != udp:
            return http, udp


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.2, what: str = "condition"):
    """Polls predicate until it returns something truthy; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, OSError, AssertionError) as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc})" if last_exc else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def sdp_media_sections(sdp: str) -> list[list[str]]:
    """The SDP's media sections, each a list of lines starting with its m= line."""
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    return sections


def run_async(coro, timeout: float):
    """Runs a coroutine on a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def unique_stream(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics(dict):
    """Samples of a Prometheus text exposition: {'name{labels}': value} (labels as written)."""

    @classmethod
    def parse(cls, text: str) -> "Metrics":
        result = cls()
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            match = _SAMPLE.match(line)
            if not match:
                continue
            name, labels, value = match.groups()
            try:
                result[name + (labels or "")] = float(value)
            except ValueError:
                continue
        return result

    def samples(self, name: str) -> list[tuple[dict, float]]:
        out = []
        for key, value in self.items():
            base, _, rest = key.partition("{")
            if base == name:
                out.append((dict(_LABEL.findall(rest)), value))
        return out

    def total(self, name: str) -> float:
        """Sum over every label set of one metric (0 when absent)."""
        return sum(value for _, value in self.samples(name))

    def by_label(self, name: str, label: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for labels, value in self.samples(name):
            key = labels.get(label, "")
            out[key] = out.get(key, 0.0) + value
        return out


# ---------------------------------------------------------------------------- postgresql


class PostgresServer:
    """A throwaway PostgreSQL cluster: a temporary directory, 127.0.0.1 on a free port, a unix
    socket in the same directory, trust authentication for the `postgres` superuser. As root
    the server programs run as Debian's `postgres` user (PostgreSQL refuses root)."""

    ROOT = Path("/usr/lib/postgresql")

    def __init__(self) -> None:
        versions = sorted((p for p in self.ROOT.glob("*/bin") if (p / "pg_ctl").exists()),
                          key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
        if not versions:
            pytest.fail(f"the PostgreSQL tests need a PostgreSQL server (no {self.ROOT}/*/bin/pg_ctl): "
                        "run scripts/setup.sh --test")
        self.bin = versions[-1]
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.directory = Path(tempfile.mkdtemp(prefix="giaoban-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self.port = free_port()
        self._run(self.run_as + [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                                 "-E", "UTF8", "--locale=C", "--no-sync"])
        options = f"-h 127.0.0.1 -p {self.port} -k {self.directory}"
        self._run(self.run_as + [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "server.log"),
                                 "-o", options, "-w", "start"])
        self.running = True

    def _run(self, args: list[str]) -> None:
        # Output through a file, not a pipe: the server pg_ctl leaves running could hold a pipe open.
        with tempfile.TemporaryFile() as output:
            result = subprocess.run(args, cwd="/", stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                    timeout=120)
            if result.returncode != 0:
                output.seek(0)
                pytest.fail(f"{' '.join(args)} failed ({result.returncode}): {output.read().decode(errors='replace')}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"giaoban_{uuid.uuid4().hex[:12]}"
        self._run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name])
        return self.url(name)

    def environment(self, url: str) -> dict[str, str]:
        """The overrides that make a giaoban server keep its records in `url`."""
        return {"GIAOBAN_STORAGE_BACKEND": "postgresql", "GIAOBAN_STORAGE_POSTGRESQL_URL": url}

    def stop(self) -> None:
        if self.running:
            subprocess.run(self.run_as + [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                           cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
            self.running = False
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql():
    """A PostgreSQL server for the test session, stopped at its end."""
    server = PostgresServer()
    atexit.register(server.stop)
    yield server
    server.stop()


# ---------------------------------------------------------------------------- server


def server_command() -> list[str]:
    path = os.environ.get("GIAOBAN_BIN") or str(REPO / ".build" / "debug" / "giaoban")
    if not os.path.isabs(path):
        path = os.path.abspath(path) if os.path.exists(path) else str((REPO / path).resolve())
    if path.endswith(".py"):
        return [sys.executable, path]
    return [path]


class Giaoban:
    """A running server: its URLs, ports, tokens and metrics."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.cmd = server_command()
        if not Path(self.cmd[-1]).exists():
            pytest.fail(f"server binary {self.cmd[-1]} does not exist (build it, or set GIAOBAN_BIN)")
        self.name = name
        self.workdir = workdir
        self.http_port, self.udp_port = free_ports()
        # HTTPS tests set "https", the host they reach and `verify` (the certificate to trust).
        self.scheme = "http"
        self.host = "127.0.0.1"
        self.verify: object = True
        self.secret_file = workdir / "auth-secret"
        self.sqlite_path = workdir / "giaoban.sqlite"
        ARTIFACTS.joinpath("logs").mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / "logs" / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.exited_early = False
        # More GIAOBAN_* overrides, e.g. the storage backend (PostgresServer.environment).
        self.extra_env: dict[str, str] = {}

    # lifecycle
    def start(self) -> None:
        env = dict(os.environ)
        # GIAOBAN_BIN names the binary for this suite; the server would read it as a
        # GIAOBAN_<SECTION>_<KEY> override and refuse to start.
        env.pop("GIAOBAN_BIN", None)
        env.update(
            GIAOBAN_HTTP_PORT=str(self.http_port),
            GIAOBAN_MEDIA_UDP_PORT=str(self.udp_port),
            GIAOBAN_AUTH_SECRET_FILE=str(self.secret_file),
            GIAOBAN_STORAGE_SQLITE_PATH=str(self.sqlite_path),
            GIAOBAN_SERVER_LOG_LEVEL="debug",
        )
        env.update(self.extra_env)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd + ["serve", "--config", "conf/giaoban.toml"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _RUNNING.add(self.proc)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with status {self.proc.returncode} during startup\n{self.log_tail()}")
            try:
                resp = requests.get(self.url("/healthz"), timeout=2, verify=self.verify)
                if resp.status_code == 200 and resp.text.strip() == "ok":
                    break
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                pytest.fail(f"server not healthy after {STARTUP_TIMEOUT:.0f} s\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is not None:
            self.exited_early = True
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _RUNNING.discard(self.proc)
        self._log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(text[-lines:])

    # HTTP
    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.http_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def healthy(self) -> bool:
        resp = requests.get(self.url("/healthz"), timeout=3, verify=self.verify)
        return resp.status_code == 200 and resp.text.strip() == "ok"

    def metrics(self) -> Metrics:
        # /metrics needs an admin or observer token (or security.metrics_token_file's).
        if getattr(self, "_metrics_token", None) is None:
            self._metrics_token = self.token("metrics-reader", "observer")
        resp = requests.get(self.url("/metrics"), headers={"Authorization": f"Bearer {self._metrics_token}"}, timeout=5,
                            verify=self.verify)
        assert resp.status_code == 200, f"/metrics -> {resp.status_code}"
        return Metrics.parse(resp.text)

    # tokens
    def token_command(self, subject: str, role: str, ttl: Optional[int] = None,
                      secret_file: Optional[Path] = None) -> subprocess.CompletedProcess:
        args = self.cmd + ["token", "--secret-file", str(secret_file or self.secret_file),
                           "--subject", subject, "--role", role]
        if ttl is not None:
            args += [f"--ttl={ttl}"]
        return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=20)

    def token(self, subject: str = "tester", role: str = "chair", ttl: Optional[int] = None) -> str:
        result = self.token_command(subject, role, ttl)
        assert result.returncode == 0, f"token command failed ({result.returncode}): {result.stderr.strip()}"
        token = result.stdout.strip().splitlines()[-1].strip() if result.stdout.strip() else ""
        assert token.count(".") == 2, f"token command printed {result.stdout!r}, not a JWT"
        return token


@contextlib.contextmanager
def running(request, server: "Giaoban"):
    """Starts `server` (set up by the caller), names it for a failing test's report, and always
    stops it and removes its working directory."""
    request.node._giaoban = server
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def giaoban(request):
    workdir = Path(tempfile.mkdtemp(prefix="giaoban-interop-"))
    server = Giaoban(request.module.__name__.rpartition(".")[2], workdir)
    request.node._giaoban = server
    try:
        server.start()
        wait_for(server.secret_file.exists, 5, what=f"the server to create {server.secret_file}")
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if server.exited_early:
        pytest.fail(f"server exited on its own with status {server.proc.returncode}\n{server.log_tail()}")


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    server = None
    for node in item.listchain():
        server = getattr(node, "_giaoban", server)
    if isinstance(server, Giaoban):
        state = "running" if server.alive() else f"exited ({server.proc.returncode if server.proc else '-'})"
        report.sections.append(
            (f"giaoban server log, last {LOG_TAIL_LINES} lines ({state}; full log {server.log_path})",
             server.log_tail())
        )

