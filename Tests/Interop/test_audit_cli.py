"""`giaoban audit verify` on a real database file: tokens issued with the configuration are
recorded, an intact trail exits 0 with its row count, an edited or deleted row exits 1 and is
named (docs/audit.md)."""
import os
import sqlite3
import subprocess
from pathlib import Path

from conftest import REPO, server_command


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # GIAOBAN_BIN would be read as a configuration override (see conftest).
    env.pop("GIAOBAN_BIN", None)
    env.update(GIAOBAN_STORAGE_SQLITE_PATH=str(workdir / "giaoban.sqlite"),
               GIAOBAN_AUTH_SECRET_FILE=str(workdir / "auth-secret"))
    return subprocess.run(server_command() + list(args) + ["--config", "conf/giaoban.toml"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)


def issue(workdir: Path, count: int) -> None:
    for n in range(count):
        result = run(workdir, "token", "--subject", f"officer-{n}", "--role", "chair")
        assert result.returncode == 0, result.stderr
        assert "warning" not in result.stderr, result.stderr


def test_intact_then_edited(tmp_path: Path) -> None:
    empty = run(tmp_path, "audit", "verify")
    assert empty.returncode == 0 and "intact: 0 rows" in empty.stdout, empty
    issue(tmp_path, 3)
    intact = run(tmp_path, "audit", "verify")
    assert intact.returncode == 0 and "intact: 3 rows" in intact.stdout, intact
    with sqlite3.connect(tmp_path / "giaoban.sqlite") as db:
        rows = db.execute("SELECT subject, role, action, target, detail FROM audit_log ORDER BY id").fetchall()
        assert rows[0][1:] == ("cli", "token.issue", "token/officer-0", "role=chair ttl=86400"), rows
        db.execute("UPDATE audit_log SET target = 'token/someone-else' WHERE id = 2")
    edited = run(tmp_path, "audit", "verify")
    assert edited.returncode == 1, edited
    assert "row 2 was edited" in edited.stdout, edited.stdout


def test_deleted_middle_row(tmp_path: Path) -> None:
    issue(tmp_path, 4)
    with sqlite3.connect(tmp_path / "giaoban.sqlite") as db:
        db.execute("DELETE FROM audit_log WHERE id = 2")
    deleted = run(tmp_path, "audit", "verify")
    assert deleted.returncode == 1, deleted
    assert "row 3 does not follow row 1" in deleted.stdout, deleted.stdout
