"""The console's password sign-in, admin view and audit view (docs/console.md) in headless Chromium.

The server runs with `security.access_token_lifetime_s = 6`. A chair signs in with a password
through the form and stays signed in across several access-token expiries without a visible
interruption: the refresh token is rotated each time, the event socket stays online, a hub
call after the expiry succeeds, and a reload holding an expired access token is renewed on its
first 401. Disabling the chair (`giaoban accounts disable`) brings its console back to the
sign-in form with the disabled message within 10 s. An admin lists the accounts, adds a camera
account, creates an API key that is shown once (and works), revokes it, and reads the
`auth.signin` rows in the audit view and as CSV.
Screenshots go to artifacts/interop/console-signin-*.png.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import Giaoban, running, unique_stream, wait_for
from test_accounts_cli import accounts
from test_console_chromium import click, describe, incident, open_console, post, wait_js
from test_whip_whep_chromium import chromium, screenshot  # noqa: F401 - the fixture

pytestmark = [pytest.mark.chromium]

ACCESS_LIFETIME_S = 6
# Issue #20: thrown out within seconds; the console learns it from its event socket (closed
# within about 3 s of the change, docs/accounts.md) and reloads to the sign-in form.
DISABLED_BUDGET_S = 10
DISABLED_EN = "Your account has been disabled. Contact an administrator."


@pytest.fixture(scope="module")
def server(request):
    workdir = Path(tempfile.mkdtemp(prefix="giaoban-console-signin-"))
    giaoban = Giaoban("test_console_signin", workdir)
    giaoban.extra_env = {"GIAOBAN_SECURITY_ACCESS_TOKEN_LIFETIME_S": str(ACCESS_LIFETIME_S)}
    with running(request, giaoban):
        wait_for(giaoban.secret_file.exists, 5, what="the token secret")
        yield giaoban


def add_account(server, subject: str, role: str, password: str | None, *extra: str) -> None:
    args = ["accounts", "add", "--subject", subject, "--role", role, "--name", f"Cán bộ {subject}", *extra]
    if password is not None:
        path = server.workdir / f"{subject}.password"
        path.write_text(password + "\n")
        args += ["--password-file", str(path)]
    added = accounts(server, *args)
    assert added.returncode == 0, added.stdout + added.stderr


def sign_in_with_password(page, server, subject: str, password: str, view: str = "chair") -> None:
    open_console(page, server, "en")
    wait_js(page, "return !document.getElementById('signin').hidden", 10, "the sign-in form")
    page.find_element("id", "signin-subject").send_keys(subject)
    page.find_element("id", "signin-password").send_keys(password)
    click(page, "#password-form button[type=submit]")
    wait_js(page, f"return document.body.dataset.view === '{view}'", 15, "the console after the password sign-in")
    wait_js(page, "return document.getElementById('events-state').dataset.state === 'online'", 10, "the event socket")


STATE_SCRIPT = """return {signin: !document.getElementById('signin').hidden, view: document.body.dataset.view || null,
  events: document.getElementById('events-state').dataset.state, access: sessionStorage.getItem('giaoban.token'),
  refresh: sessionStorage.getItem('giaoban.refresh'),
  errors: [...document.querySelectorAll('[role=status][data-kind=error],[role=alert]')].map(e => e.textContent).filter(Boolean)}"""


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_password_sign_in_survives_token_expiry_and_a_disabled_account_is_thrown_out(server, chromium, artifacts):  # noqa: F811
    add_account(server, "quan-tri-tinh", "admin", "mat khau quan tri 2026")
    add_account(server, "truc-ban-an", "chair", "mat khau truc ban 2026")
    page = chromium()
    try:
        sign_in_with_password(page, server, "truc-ban-an", "mat khau truc ban 2026")
        first = page.execute_script(STATE_SCRIPT)
        assert first["refresh"] and first["access"], first
        assert "truc-ban-an" in page.find_element("id", "who").text

        # Across at least two access-token lifetimes: always signed in, the socket never down,
        # no error shown; the tokens change under the page.
        refresh_tokens, access_tokens, samples = [first["refresh"]], [first["access"]], 0
        deadline = time.monotonic() + 2.5 * ACCESS_LIFETIME_S
        while time.monotonic() < deadline:
            state = page.execute_script(STATE_SCRIPT)
            samples += 1
            assert not state["signin"] and state["view"] == "chair", f"sign-in form shown: {state}\n{describe(page)}"
            assert state["events"] == "online", f"event socket {state['events']}: {describe(page)}"
            assert not state["errors"], state["errors"]
            if state["refresh"] and state["refresh"] != refresh_tokens[-1]:
                refresh_tokens.append(state["refresh"])
            if state["access"] and state["access"] != access_tokens[-1]:
                access_tokens.append(state["access"])
            time.sleep(0.25)
        print(json.dumps({"samples": samples, "refresh_tokens": len(refresh_tokens), "access_tokens": len(access_tokens)}))
        assert len(refresh_tokens) >= 3 and len(set(refresh_tokens)) == len(refresh_tokens), refresh_tokens
        assert len(access_tokens) >= 3, access_tokens

        # The first access token is dead by now; the console's calls still go through.
        old = requests.get(server.url("/api/meetings"), headers=bearer(first["access"]), timeout=10)
        assert old.status_code == 401 and "expired" in old.text, (old.status_code, old.text)
        page.find_element("id", "meeting-title").send_keys("Giao ban sau khi gia hạn")
        click(page, "#meeting-schedule")
        wait_js(page, "return document.getElementById('meeting-select').textContent.includes('Giao ban sau khi gia hạn')", 10,
                "the meeting scheduled with a renewed token")
        resp = post(server, "/api/incidents", server.token("cam-ql51-km24", "camera"), incident(unique_stream("signin")))
        assert resp.status_code == 201, resp.text
        selector = f'#incident-list li[data-incident-id="{resp.json()["id"]}"]'
        wait_js(page, f"return document.querySelector('{selector}')", 5, "the incident pushed on the event socket")

        # A reload holding an expired access token: the first 401 renews it, the incident list reloads.
        page.execute_script("sessionStorage.setItem('giaoban.token', arguments[0]); location.reload()", first["access"])
        wait_js(page, f"return document.body.dataset.view === 'chair' && document.querySelector('{selector}')", 15,
                "the incident list after a reload with an expired access token")
        renewed = page.execute_script(STATE_SCRIPT)
        assert renewed["access"] != first["access"] and renewed["refresh"] not in refresh_tokens, renewed
        admin = requests.post(server.url("/api/auth/signin"), json={"subject": "quan-tri-tinh", "password": "mat khau quan tri 2026"},
                              timeout=10)
        assert admin.status_code == 200 and admin.json()["expires_in"] == ACCESS_LIFETIME_S, admin.text
        refreshes = requests.get(server.url("/api/audit?subject=truc-ban-an&action=auth.refresh"),
                                 headers=bearer(admin.json()["access_token"]), timeout=10).json()["entries"]
        assert len(refreshes) >= 3 and all(e["result"] == "ok" for e in refreshes), refreshes
        screenshot(page, artifacts, "console-signin-renewed")

        disabled = accounts(server, "accounts", "disable", "truc-ban-an")
        assert disabled.returncode == 0, disabled.stderr
        started = time.monotonic()
        notice = wait_js(page, "return !document.getElementById('signin').hidden && !document.body.dataset.view &&"
                               " document.getElementById('signin-notice').textContent", DISABLED_BUDGET_S,
                         "the sign-in form with the disabled message")
        elapsed = time.monotonic() - started
        print(json.dumps({"disabled_to_signin_s": round(elapsed, 2)}))
        assert notice == DISABLED_EN, notice
        left = page.execute_script("return [sessionStorage.getItem('giaoban.token'), sessionStorage.getItem('giaoban.refresh')]")
        assert left == [None, None], left
        screenshot(page, artifacts, "console-signin-disabled")
    finally:
        screenshot(page, artifacts, "console-signin-end")


def test_admin_view_lists_accounts_issues_a_key_once_and_the_audit_view_shows_sign_ins(server, chromium, artifacts):  # noqa: F811
    add_account(server, "quan-tri-2", "admin", "mat khau quan tri hai 2026")
    page = chromium()
    try:
        sign_in_with_password(page, server, "quan-tri-2", "mat khau quan tri hai 2026")
        assert page.find_element("id", "tab-admin").is_displayed() and page.find_element("id", "tab-audit").is_displayed()
        click(page, "#tab-admin")
        wait_js(page, "return document.querySelector('#accounts tr[data-subject=\"quan-tri-2\"]')", 10, "the accounts table")

        camera = "cam-ct01-km30"  # a camera of conf/province.json: its key may report incidents
        page.find_element("id", "account-subject").send_keys(camera)
        page.find_element("id", "account-name").send_keys("Camera CT01 km 30")
        page.execute_script("document.getElementById('account-role').value = 'camera'")
        click(page, "#account-form button[type=submit]")
        row = wait_js(page, f"const r = document.querySelector('#accounts tr[data-subject=\"{camera}\"]'); return r && r.textContent",
                      10, "the new camera account in the table")
        assert "camera" in row and "no password" in row, row
        listed = requests.get(server.url("/api/accounts"), headers=bearer(server.token("quan-tri-script", "admin")), timeout=10)
        assert any(a["subject"] == camera and a["role"] == "camera" for a in listed.json()["accounts"]), listed.text

        page.execute_script(f"document.getElementById('key-subject').value = '{camera}'")
        page.find_element("id", "key-label").send_keys("CT01 km 30")
        click(page, "#key-form button[type=submit]")
        key = wait_js(page, "return !document.getElementById('key-shown').hidden && document.getElementById('key-secret').value",
                      10, "the new key shown once")
        assert key.startswith("gbk_"), key
        assert "shown this once" in page.find_element("id", "key-once").text
        key_id = wait_js(page, "const r = document.querySelector('#keys tbody tr'); return r && r.dataset.keyId", 10, "the key table")
        assert key.startswith(f"gbk_{key_id}_"), (key, key_id)
        assert key not in page.find_element("id", "key-table").text
        # The key acts as its camera account.
        resp = post(server, "/api/incidents", key, incident(unique_stream("key")))
        assert resp.status_code == 201, resp.text
        screenshot(page, artifacts, "console-signin-admin-key")

        # Shown once: the next visit of the view no longer holds it.
        click(page, "#tab-meeting")
        click(page, "#tab-admin")
        assert page.execute_script("return document.getElementById('key-shown').hidden")
        assert page.execute_script("return document.getElementById('key-secret').value") == ""
        assert key not in page.page_source

        page.execute_script("window.confirm = () => true")
        click(page, f'#keys button[data-action="revoke"][data-subject="{key_id}"]')
        wait_js(page, f"const r = document.querySelector('#keys tr[data-key-id=\"{key_id}\"]'); return r && r.textContent.includes('revoked')",
                10, "the key revoked")
        wait_for(lambda: post(server, "/api/incidents", key, incident(unique_stream("revoked"))).status_code == 401, 5,
                 what="the revoked key refused")

        click(page, "#tab-audit")
        wait_js(page, "return document.querySelector('#audit-rows tr[data-action=\"auth.signin\"]')", 10, "the audit rows")
        page.find_element("id", "audit-subject").send_keys("quan-tri-2")
        page.find_element("id", "audit-action").send_keys("auth.signin")
        click(page, "#audit-form button[type=submit]")
        rows = wait_js(page, """const rows = [...document.querySelectorAll('#audit-rows tbody tr')].map(r => [...r.cells].map(c => c.textContent));
                                return rows.length && rows.every(r => r[2] === 'quan-tri-2' && r[5] === 'auth.signin') && rows;""", 10,
                       "the admin's sign-in rows, filtered")
        assert rows[0][8] == "ok", rows
        click(page, "#audit-csv")
        href = wait_js(page, "const a = document.getElementById('audit-csv-link'); return !a.hidden && a.href", 10, "the CSV download")
        text = page.execute_async_script(
            "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done, e => done(String(e)));",
            href)
        lines = text.strip().splitlines()
        assert lines[0].startswith("id,at,time"), text[:200]
        assert len(lines) == len(rows) + 1 and all("auth.signin" in line and "quan-tri-2" in line for line in lines[1:]), text
        screenshot(page, artifacts, "console-signin-audit")
    finally:
        screenshot(page, artifacts, "console-signin-admin-end")
