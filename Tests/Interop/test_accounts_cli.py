"""Accounts end to end (docs/accounts.md): `giaoban accounts` writes the running server's
database, a person signs in with a password over HTTP, refreshes, and is refused within
seconds once `giaoban accounts disable` ran; a `giaoban token` of a subject without an account
keeps working; every step is in an intact audit trail."""
import os
import subprocess
import time
from pathlib import Path

import requests

from conftest import REPO, server_command, wait_for


def accounts(server, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GIAOBAN_BIN", None)
    env.update(GIAOBAN_STORAGE_SQLITE_PATH=str(server.sqlite_path), GIAOBAN_AUTH_SECRET_FILE=str(server.secret_file))
    return subprocess.run(server_command() + list(args) + ["--config", "conf/giaoban.toml"], cwd=REPO, env=env,
                          input=stdin, capture_output=True, text=True, timeout=30)


def test_sign_in_refresh_and_disable(giaoban) -> None:
    wait_for(giaoban.healthy, 20, what="the server to answer /healthz")
    added = accounts(giaoban, "accounts", "add", "--subject", "can-bo-an", "--role", "chair", "--commune", "xa-a",
                     "--name", "Cán bộ An", "--password-stdin", stdin="mat khau cua An 2026\n")
    assert added.returncode == 0, added.stderr
    assert accounts(giaoban, "accounts", "add", "--subject", "can-bo-an", "--role", "chair").returncode == 1
    listed = accounts(giaoban, "accounts", "list")
    assert "can-bo-an\tchair\txa-a\tenabled\tCán bộ An" in listed.stdout, listed.stdout

    wrong = requests.post(giaoban.url("/api/auth/signin"), json={"subject": "can-bo-an", "password": "sai"}, timeout=10)
    assert wrong.status_code == 401
    signed = requests.post(giaoban.url("/api/auth/signin"), json={"subject": "can-bo-an", "password": "mat khau cua An 2026"},
                           timeout=10)
    assert signed.status_code == 200, signed.text
    tokens = signed.json()
    assert tokens["expires_in"] == 600
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(giaoban.url("/api/meetings"), headers=bearer, timeout=10).status_code == 200
    refreshed = requests.post(giaoban.url("/api/auth/refresh"), json={"refresh_token": tokens["refresh_token"]}, timeout=10)
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != tokens["refresh_token"]

    script = {"Authorization": f"Bearer {giaoban.token('script', 'chair')}"}
    disabled = accounts(giaoban, "accounts", "disable", "can-bo-an")
    assert disabled.returncode == 0, disabled.stderr
    started = time.monotonic()
    wait_for(lambda: requests.get(giaoban.url("/api/meetings"), headers=bearer, timeout=10).status_code == 401, 5,
             what="the disabled account's access token to be refused")
    assert time.monotonic() - started < 5
    assert requests.get(giaoban.url("/api/meetings"), headers=script, timeout=10).status_code == 200
    again = requests.post(giaoban.url("/api/auth/refresh"), json={"refresh_token": refreshed.json()["refresh_token"]}, timeout=10)
    assert again.status_code == 401

    verified = accounts(giaoban, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
