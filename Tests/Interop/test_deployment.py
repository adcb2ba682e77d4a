"""The systemd unit conf/giaoban.service and the install steps of docs/deployment.md ("systemd").

`systemd-analyze verify` checks the unit (Debian package `systemd`). Then the documented
install commands that put files in place (install, cp, sed) run as written, with every path
under /usr/local, /etc/giaoban and /var/lib/giaoban moved into a temporary root, and the
unit's own lines run against the built server without root: ExecStart in WorkingDirectory,
ExecReload with $MAINPID, KillSignal, which must end the server with status 0 within
TimeoutStopSec. What needs root and systemd as PID 1 (useradd, systemctl, journalctl) is not
run here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import ARTIFACTS, REPO, free_ports, server_command, wait_for
from test_https import der_fingerprint, make_certificate, served_certificate

UNIT = REPO / "conf" / "giaoban.service"
GUIDE = REPO / "docs" / "deployment.md"
INSTALLED_BINARY = "/usr/local/bin/giaoban"
# The documented build output that the install line copies; the test installs the binary under test.
RELEASE_BINARY = ".build-release/release/giaoban"
# The prefixes the guide installs under; each becomes a directory of the temporary root.
PREFIXES = ("/usr/local", "/etc/giaoban", "/var/lib/giaoban", "/etc/systemd/system")
# What a stock Debian system already has; the guide creates the rest.
STOCK_DIRECTORIES = ("/usr/local/bin", "/usr/local/share", "/etc/systemd/system", "/var/lib")
STARTUP_TIMEOUT = 30.0


# ---------------------------------------------------------------------------- the unit


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}}: systemd keys may repeat (each
    SystemCallFilter= adds to the list; an empty value resets it), so none is collapsed."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{line!r} before any [section]"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict, section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}= is set {len(values)} times, expected once"
    return values[0]


def seconds(value: str) -> float:
    """A systemd time span as written in this unit: "20", "20s", "1min 30s"."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "ms": 0.001, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


@pytest.fixture(scope="module")
def unit() -> dict:
    return parse_unit(UNIT.read_text())


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing: install Debian's systemd (scripts/setup.sh --test)")
    # verify refuses an ExecStart binary that does not exist: point it at the built one.
    binary = server_command()[-1]
    text = UNIT.read_text().replace(f"ExecStart={INSTALLED_BINARY} ", f"ExecStart={binary} ")
    assert binary in text
    checked = tmp_path / "giaoban.service"
    checked.write_text(text)

    def verify(path: Path) -> list[str]:
        result = subprocess.run([analyze, "verify", "--man=no", str(path)], capture_output=True, text=True,
                                timeout=60)
        # verify also reports units this one pulls in (network-online.target); only lines about
        # this file count, and it exits 0 even for unknown keys, so warnings are the verdict.
        about = [line for line in (result.stdout + result.stderr).splitlines() if path.name in line]
        if result.returncode != 0:
            about.append(f"exit status {result.returncode}: {result.stderr.strip()}")
        return about

    assert verify(checked) == []
    # And the check has teeth: a misspelt key and a bad value in a copy are both reported.
    broken = tmp_path / "broken" / "giaoban.service"
    broken.parent.mkdir()
    broken.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=stricter\nProtectHomes=yes"))
    complaints = "\n".join(verify(broken))
    assert "ProtectHomes" in complaints and "stricter" in complaints, complaints


def test_the_unit_runs_giaoban_serve_unprivileged_and_confined(unit):
    service = unit["Service"]
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    assert argv[:2] == [INSTALLED_BINARY, "serve"] and "--config" in argv, argv
    assert one(unit, "Service", "User") == "giaoban" and one(unit, "Service", "Group") == "giaoban"
    assert one(unit, "Service", "StateDirectory") == "giaoban"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(unit, "Service", "Restart") == "on-failure"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert one(unit, "Service", key) == "yes", key
    assert one(unit, "Service", "ProtectSystem") == "strict"
    assert set(one(unit, "Service", "RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX",
                                                                            "AF_NETLINK"}
    # No capability: the documented ports are above 1024 (a drop-in adds CAP_NET_BIND_SERVICE for 443).
    assert "AmbientCapabilities" not in service and service["CapabilityBoundingSet"] == [""]
    # Stop margin: the server bounds its own drain by security.shutdown_timeout_s.
    shutdown = int(re.search(r"^shutdown_timeout_s = (\d+)", (REPO / "conf/giaoban.toml").read_text(), re.M)[1])
    assert seconds(one(unit, "Service", "TimeoutStopSec")) > shutdown
    # Logs go to stderr, hence the journal: no log directory, no StandardError redirection.
    assert "LogsDirectory" not in service and "StandardError" not in service


# ---------------------------------------------------------------------------- the guide's install lines


def guide_install_commands() -> list[str]:
    """The shell lines of docs/deployment.md's "systemd" section (continuations joined, comments dropped)."""
    text = GUIDE.read_text()
    section = re.search(r"^## systemd\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, "docs/deployment.md has no '## systemd' section"
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section[1], re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


class Root:
    """A temporary root: the guide's absolute paths mapped into it."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def __call__(self, path: str) -> Path:
        return self.base / path.lstrip("/")

    def command(self, line: str) -> str:
        for prefix in PREFIXES:
            line = re.sub(rf"(?<![\w.]){re.escape(prefix)}(?=[/\s\"|]|$)", str(self(prefix)), line)
        return line


def install_as_documented(root: Root, certificate: tuple[Path, Path]) -> list[str]:
    """Runs the guide's install, cp and sed lines in the temporary root; returns those it ran."""
    ran = []
    tls_dir = certificate[0].parent
    for line in guide_install_commands():
        if line.split()[0] not in ("install", "cp", "sed"):
            continue  # useradd, systemctl, journalctl, giaoban token: below or not here
        command = root.command(line.replace(RELEASE_BINARY, server_command()[-1]))
        # The group exists only on the installed machine; the test user owns the key.
        command = command.replace(" -g giaoban", "")
        for directory in STOCK_DIRECTORIES:
            root(directory).mkdir(parents=True, exist_ok=True)
        subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=tls_dir if "giaoban.crt" in line or
                       "giaoban.key" in line else REPO, check=True, capture_output=True, text=True, timeout=60)
        ran.append(line)
    return ran


class UnitProcess:
    """`giaoban serve` started the way the unit starts it, in the temporary root."""

    def __init__(self, unit: dict, root: Root, log_name: str) -> None:
        self.unit, self.root = unit, root
        self.argv = [str(root(arg)) if arg.startswith(PREFIXES) else arg
                     for arg in shlex.split(one(unit, "Service", "ExecStart"))]
        self.argv[0] = str(root(INSTALLED_BINARY))
        self.cwd = root(one(unit, "Service", "WorkingDirectory"))
        ARTIFACTS.joinpath("logs").mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / "logs" / f"{log_name}.log"
        self.proc = None

    def start(self) -> None:
        # systemd starts a service with a clean environment: no GIAOBAN_* overrides.
        env = {key: value for key, value in os.environ.items() if not key.startswith("GIAOBAN_")}
        # StateDirectory=: systemd makes it before the start, owned by User=, mode StateDirectoryMode=.
        state = self.root("/var/lib/" + one(self.unit, "Service", "StateDirectory"))
        state.mkdir(parents=True, exist_ok=True)
        state.chmod(int(one(self.unit, "Service", "StateDirectoryMode"), 8))
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def reload(self) -> None:
        """ExecReload, as systemd runs it: $MAINPID replaced by the main process's id."""
        argv = [arg.replace("$MAINPID", str(self.proc.pid)) for arg in shlex.split(one(self.unit, "Service",
                                                                                         "ExecReload"))]
        subprocess.run(argv, check=True, timeout=10)

    def stop(self) -> int:
        """KillSignal, then the exit status within TimeoutStopSec (systemd would SIGKILL after)."""
        self.proc.send_signal(signal.Signals[one(self.unit, "Service", "KillSignal")])
        try:
            return self.proc.wait(seconds(one(self.unit, "Service", "TimeoutStopSec")))
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within TimeoutStopSec after KillSignal\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc is not None:
            self._log.close()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def set_key(config: Path, section: str, key: str, value: str) -> None:
    """Sets one key of the installed configuration, as the administrator edits it (comment kept)."""
    lines = config.read_text().splitlines(keepends=True)
    current = None
    for index, line in enumerate(lines):
        header = re.match(r"\[(\w+)\]", line)
        if header:
            current = header[1]
        match = re.match(rf'({key}\s*=\s*)("[^"]*"|[^\s#]+)(.*)$', line, re.S)
        if current == section and match:
            lines[index] = match[1] + value + match[3]
            config.write_text("".join(lines))
            return
    pytest.fail(f"no {section}.{key} line in {config}")


@pytest.fixture
def installed(tmp_path):
    """The guide's layout in a temporary root, with a test certificate; yields (root, cert)."""
    root = Root(tmp_path / "root")
    tls = tmp_path / "tls"
    tls.mkdir()
    cert, key = make_certificate(tls, "giaoban")  # the openssl line of the guide's HTTPS section
    ran = install_as_documented(root, (cert, key))
    assert any(line.startswith("sed ") for line in ran) and any(line.startswith("cp ") for line in ran), ran
    config = root("/etc/giaoban/giaoban.toml")
    # The administrator's edits for this host (here: free ports on loopback).
    http_port, udp_port = free_ports()
    set_key(config, "http", "port", str(http_port))
    set_key(config, "media", "udp_port", str(udp_port))
    yield root, config, http_port, cert


def wait_healthy(server: UnitProcess, url: str, verify) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if not server.alive():
            pytest.fail(f"the server exited with status {server.proc.returncode} at start\n{server.log_tail()}")
        try:
            resp = requests.get(url + "/healthz", timeout=2, verify=verify)
            if resp.status_code == 200 and resp.text.strip() == "ok":
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"not healthy after {STARTUP_TIMEOUT:.0f} s\n{server.log_tail()}")
        time.sleep(0.2)


def test_the_documented_install_serves_reloads_its_certificate_and_stops_cleanly(unit, installed):
    root, config, http_port, cert = installed
    # The installed configuration keeps every path absolute and the data in StateDirectory.
    text = config.read_text()
    state = "/var/lib/" + one(unit, "Service", "StateDirectory")
    assert f'secret_file = "{root(state)}/token.secret"' in text
    assert f'sqlite_path = "{root(state)}/giaoban.sqlite"' in text
    assert f'directory_file = "{root("/etc/giaoban/province.json")}"' in text
    assert not re.search(r'= "(var|conf)/', text), "a relative path is left in the installed configuration"
    set_key(config, "http", "tls_certificate", f'"{root("/etc/giaoban/tls/giaoban.crt")}"')
    set_key(config, "http", "tls_private_key", f'"{root("/etc/giaoban/tls/giaoban.key")}"')
    assert stat.S_IMODE(root("/etc/giaoban/tls/giaoban.key").stat().st_mode) == 0o640

    server = UnitProcess(unit, root, "test_deployment")
    url = f"https://127.0.0.1:{http_port}"
    try:
        server.start()
        wait_healthy(server, url, str(cert))
        # The console comes from WorkingDirectory's web/, the data goes to StateDirectory only.
        assert requests.get(url + "/console.html", verify=str(cert), timeout=5).status_code == 200
        secret = root(state) / "token.secret"
        wait_for(secret.exists, 5, what="the token secret in StateDirectory")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert (root(state) / "giaoban.sqlite").exists()
        assert not (server.cwd / "var").exists(), "the server wrote into its (read-only) working directory"
        # The guide's token line, on the installed configuration.
        token_line = next(line for line in guide_install_commands() if line.startswith("giaoban token"))
        argv = [str(root(INSTALLED_BINARY))] + [root.command(arg) for arg in shlex.split(token_line)[1:]]
        minted = subprocess.run(argv, cwd="/", capture_output=True, text=True, timeout=20)
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip().splitlines()[-1]
        resp = requests.get(url + "/version", headers={"Authorization": f"Bearer {token}"}, verify=str(cert),
                            timeout=5)
        assert resp.status_code == 200, resp.text

        # Renewal: new files in place, then ExecReload (systemctl reload giaoban).
        first = served_certificate(http_port)
        renewed_cert, renewed_key = make_certificate(cert.parent, "renewed")
        shutil.copy(renewed_cert, root("/etc/giaoban/tls/giaoban.crt"))
        shutil.copy(renewed_key, root("/etc/giaoban/tls/giaoban.key"))
        server.reload()
        wait_for(lambda: der_fingerprint(served_certificate(http_port)) != der_fingerprint(first), 10,
                 what="the renewed certificate after ExecReload")
        assert server.alive()
        assert requests.get(url + "/healthz", verify=str(renewed_cert), timeout=5).text.strip() == "ok"

        # Stop: KillSignal, and the server drains and exits 0 within TimeoutStopSec.
        assert server.stop() == 0, server.log_tail()
    finally:
        server.kill()


def test_reload_on_a_plain_http_install_keeps_serving(unit, installed):
    """Without TLS there is nothing to re-read, but `systemctl reload` must not end the server."""
    root, config, http_port, _ = installed
    server = UnitProcess(unit, root, "test_deployment_plain")
    url = f"http://127.0.0.1:{http_port}"
    try:
        server.start()
        wait_healthy(server, url, True)
        server.reload()
        time.sleep(1)
        assert server.alive(), f"ExecReload ended the server\n{server.log_tail()}"
        assert requests.get(url + "/healthz", timeout=5).text.strip() == "ok"
        assert "no TLS certificate to reload" in server.log_tail()
        assert server.stop() == 0, server.log_tail()
    finally:
        server.kill()
