"""Incident ingest is durable: an answered report survives SIGKILL of the server.

Several threads post incident reports (JSON and CAP 1.2, with some retries of identifiers
already sent) while the main thread SIGKILLs the server in the middle of the burst. The
server is restarted on the same database (a SQLite file, or a PostgreSQL database on a server
the test starts); every report that was answered 201 or 200 must be listed with the id it was
given, and no (sender, identifier) may appear twice.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

import pytest
import requests

from conftest import Giaoban, wait_for

CAP_SAMPLE = (Path(__file__).resolve().parent.parent / "GiaobanIncidentsTests" / "Fixtures"
              / "cap-ql1a-accident.xml").read_text(encoding="utf-8")
CAP_IDENTIFIER = "CSGT-DNI-CAM-QL1A-1836-20261129-0815-0001"

THREADS = 6
PER_THREAD = 120          # upper bound of reports per thread
KILL_AFTER_ACKS = 150     # SIGKILL once this many reports were answered
BURST_DEADLINE = 30.0     # seconds; the burst never runs longer


def json_report(identifier: str, n: int) -> dict:
    return {
        "identifier": identifier, "type": "Tai nạn giao thông", "severity": "Severe",
        "urgency": "Immediate", "certainty": "Observed",
        "location": {"lat": 10.953 + n * 1e-5, "lon": 107.011},
        "time": "2026-11-29T08:14:10+07:00", "text": f"Va chạm số {n} trên QL1A",
        "road": "QL1A", "km": 1836.5,
    }


def post(server: Giaoban, token: str, identifier: str, n: int, session: requests.Session) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if n % 5 == 0:
        headers["Content-Type"] = "application/cap+xml"
        body = CAP_SAMPLE.replace(CAP_IDENTIFIER, identifier).encode()
        return session.post(server.url("/api/incidents"), data=body, headers=headers, timeout=5)
    return session.post(server.url("/api/incidents"), json=json_report(identifier, n), headers=headers, timeout=5)


def list_all(server: Giaoban, token: str) -> list[dict]:
    items, after = [], 0
    for _ in range(1000):
        resp = requests.get(server.url(f"/api/incidents?limit=100&after={after}"),
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert resp.status_code == 200, f"GET /api/incidents -> {resp.status_code}: {resp.text[:200]!r}"
        page = resp.json()
        items += page["incidents"]
        if page["next_after"] is None:
            return items
        assert page["next_after"] > after, "next_after does not advance"
        after = page["next_after"]
    pytest.fail("pagination did not end after 1000 pages")


@pytest.fixture(scope="module")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="giaoban-incidents-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start(name: str, workdir: Path, request, env: Optional[dict[str, str]] = None) -> Giaoban:
    server = Giaoban(name, workdir)
    # The bursts measure durability, not the per-camera rate limit (security.incidents_per_minute).
    server.extra_env = {"GIAOBAN_SECURITY_INCIDENTS_PER_MINUTE": "1000000", **(env or {})}
    request.node._giaoban = server
    server.start()
    wait_for(server.secret_file.exists, 5, what="the token secret")
    return server


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_answered_incidents_survive_sigkill(backend, workdir, request):
    workdir = workdir / backend
    workdir.mkdir()
    env = {}
    if backend == "postgresql":
        postgresql = request.getfixturevalue("postgresql")
        env = postgresql.environment(postgresql.create_database())
    server = start(f"test_incident_durability_{backend}", workdir, request, env)
    wait_for(lambda: f"backend={backend} " in server.log_path.read_text(errors="replace"), 5,
             what=f"the log line saying the {backend} storage is open")
    try:
        token = server.token("cam-ql1a-km1836", "camera")
        acked: dict[str, int] = {}       # identifier -> id answered
        statuses: dict[int, int] = {}
        errors: list[str] = []
        cut_off: list[str] = []          # reports in flight when the server died
        lock = threading.Lock()
        stop = threading.Event()
        deadline = time.monotonic() + BURST_DEADLINE

        def worker(t: int) -> None:
            session = requests.Session()
            for i in range(PER_THREAD):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                # Every 7th report retries an identifier this thread already sent.
                n = i - 3 if i % 7 == 6 else i
                identifier = f"burst-{t}-{n}"
                try:
                    resp = post(server, token, identifier, n, session)
                except requests.RequestException:
                    with lock:
                        cut_off.append(identifier)
                    return  # the server is gone: this report was never answered
                with lock:
                    statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                    if resp.status_code in (200, 201):
                        answer = resp.json()
                        if answer.get("created") != (resp.status_code == 201):
                            errors.append(f"{identifier}: {resp.status_code} with {answer}")
                        previous = acked.setdefault(identifier, answer["id"])
                        if previous != answer["id"]:
                            errors.append(f"{identifier}: id {answer['id']} after {previous}")
                    else:
                        errors.append(f"{identifier}: {resp.status_code} {resp.text.strip()[:120]}")

        threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acked) >= KILL_AFTER_ACKS or not any(t.is_alive() for t in threads),
                 BURST_DEADLINE, interval=0.01, what=f"{KILL_AFTER_ACKS} answered reports")
        server.proc.kill()           # SIGKILL: no shutdown, no flush
        server.proc.wait(5)
        stop.set()
        for thread in threads:
            thread.join(10)
        assert not any(t.is_alive() for t in threads), "a posting thread did not finish"
        assert not errors, "unexpected answers during the burst:\n" + "\n".join(errors[:20])
        assert statuses.get(201, 0) >= KILL_AFTER_ACKS // 2, f"too few reports created: {statuses}"
        assert statuses.get(200, 0) > 0, f"no retry was answered 200: {statuses}"
        assert cut_off, "the burst ended before the kill: nothing was in flight"
        print(f"burst: answers {statuses}, {len(acked)} identifiers answered, {len(cut_off)} reports cut off")
    finally:
        server.stop()

    restarted = start(f"test_incident_durability_{backend}_restart", workdir, request, env)
    try:
        # Cameras only report; the command center reads.
        reader = restarted.token("officer-1", "observer")
        listed = list_all(restarted, reader)
        by_identifier: dict[str, list[int]] = {}
        for incident in listed:
            by_identifier.setdefault(incident["identifier"], []).append(incident["id"])
        duplicated = {k: v for k, v in by_identifier.items() if len(v) > 1}
        assert not duplicated, f"incidents stored twice: {list(duplicated.items())[:10]}"
        ids = [incident["id"] for incident in listed]
        assert ids == sorted(ids), "the listing is not in id order"
        missing = {k: v for k, v in acked.items() if by_identifier.get(k) != [v]}
        assert not missing, f"{len(missing)} answered incidents lost or renumbered after SIGKILL: {list(missing.items())[:10]}"
        assert all(i["source"] == "cam-ql1a-km1836" for i in listed)
        assert any(i["format"] == "cap" and i["road"] == "QL1A" for i in listed), "no CAP report listed"
        print(f"after restart: {len(listed)} incidents listed, every answered one among them")

        # A retry after the restart is recognised: same id, 200, created false.
        identifier, expected_id = next(iter(acked.items()))
        n = int(identifier.rsplit("-", 1)[1])
        resp = post(restarted, token, identifier, n, requests.Session())
        assert resp.status_code == 200, f"retry after restart -> {resp.status_code}: {resp.text[:200]!r}"
        answer = resp.json()
        assert (answer["id"], answer["created"]) == (expected_id, False), answer
        one = requests.get(restarted.url(f"/api/incidents/{expected_id}"),
                           headers={"Authorization": f"Bearer {reader}"}, timeout=5)
        assert one.status_code == 200 and one.json()["identifier"] == identifier
    finally:
        restarted.stop()


def assert_plain(resp: requests.Response, status: int, *words: str) -> None:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:200]!r}"
    assert resp.headers.get("Content-Type", "").startswith("text/plain")
    for word in words:
        assert word in resp.text, f"{word!r} not in {resp.text!r}"


def test_ingest_refusals(workdir, request):
    server = start("test_incident_refusals", workdir, request)
    try:
        url = server.url("/api/incidents")
        camera = {"Authorization": f"Bearer {server.token('cam-ql1a-km1836', 'camera')}"}
        commune = {"Authorization": f"Bearer {server.token('xa-hung-thinh', 'commune')}"}
        report = json_report("refusal-1", 1)
        assert_plain(requests.post(url, json=report, timeout=5), 401, "Authorization")
        assert_plain(requests.post(url, json=report, headers=commune, timeout=5), 403, "commune")
        assert requests.get(url, headers=commune, timeout=5).status_code == 200
        bad = dict(report, severity="Catastrophic")
        assert_plain(requests.post(url, json=bad, headers=camera, timeout=5), 400, "severity", "Catastrophic")
        no_lat = dict(report, location={"lon": 107.0})
        assert_plain(requests.post(url, json=no_lat, headers=camera, timeout=5), 400, "location.lat")
        cap = CAP_SAMPLE.replace("<severity>Severe</severity>", "<severity>Huge</severity>")
        assert_plain(requests.post(url, data=cap.encode(), headers={**camera, "Content-Type": "application/xml"},
                                   timeout=5), 400, "info.severity")
        assert_plain(requests.post(url, data=b"not xml", headers={**camera, "Content-Type": "application/cap+xml"},
                                   timeout=5), 400, "XML")
        assert_plain(requests.post(url, data=b"x", headers={**camera, "Content-Type": "text/plain"}, timeout=5),
                     415, "application/json")
        huge = b"<alert>" + b" " * (2 * 1024 * 1024) + b"</alert>"
        try:
            resp = requests.post(url, data=huge, headers={**camera, "Content-Type": "application/cap+xml"}, timeout=10)
            assert_plain(resp, 413, "max_body_bytes")
        except requests.ConnectionError:
            pass  # the server may close the connection before reading the whole body
        assert_plain(requests.get(url + "?limit=0", headers=commune, timeout=5), 400, "limit")
        assert_plain(requests.get(url + "/999999", headers=commune, timeout=5), 404, "999999")
        assert_plain(requests.get(url, headers=camera, timeout=5), 403, "camera")
        created = requests.post(url, json=report, headers=camera, timeout=5)
        assert created.status_code == 201 and created.json()["created"] is True
        assert created.headers.get("Location") == f"/api/incidents/{created.json()['id']}"
    finally:
        server.stop()
