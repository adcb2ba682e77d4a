"""Taking access back while connected (docs/accounts.md): an admin disables an account over the
API while its holder publishes media over WHIP and holds the event WebSocket; within 5 s the
socket is closed with 1008 and the reason, the relay has dropped the media peer, and new
requests get 401. An API key revoked by the admin stops working; the admin's actions are in the
audit trail with the client's address, and the chain verifies."""
import asyncio
import time

import pytest
import requests
import websockets

from conftest import run_async, unique_stream, wait_for
from test_accounts_cli import accounts
from webrtc_client import BackgroundPublisher

pytestmark = pytest.mark.media


def test_disable_drops_socket_and_media_within_5_s(giaoban) -> None:
    wait_for(giaoban.healthy, 20, what="the server to answer /healthz")
    admin = {"Authorization": f"Bearer {giaoban.token('quan-tri', 'admin')}"}
    created = requests.post(giaoban.url("/api/accounts"), headers=admin, timeout=10,
                            json={"subject": "can-bo-an", "display_name": "Cán bộ An", "role": "chair",
                                  "password": "mat khau cua An 2026"})
    assert created.status_code == 201, created.text
    token = requests.post(giaoban.url("/api/auth/signin"), timeout=10,
                          json={"subject": "can-bo-an", "password": "mat khau cua An 2026"}).json()["access_token"]
    peers = lambda: giaoban.metrics().get("giaoban_peers", 0)  # noqa: E731
    base = peers()

    async def hold_socket() -> tuple[int, str, float]:
        url = giaoban.url(f"/api/events?access_token={token}").replace("http://", "ws://")
        async with websockets.connect(url) as socket:
            await asyncio.wait_for(socket.recv(), 10)  # hello
            # Disable now, from another thread's point of view: over the API, as the admin.
            started = time.monotonic()
            answer = await asyncio.to_thread(requests.patch, giaoban.url("/api/accounts/can-bo-an"), headers=admin,
                                             json={"enabled": False}, timeout=10)
            assert answer.status_code == 200, answer.text
            try:
                while True:
                    await asyncio.wait_for(socket.recv(), 10)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else 0, closed.rcvd.reason if closed.rcvd else "", started

    with BackgroundPublisher(giaoban.url(f"/whip/{unique_stream('revoked')}"), token):
        wait_for(lambda: peers() >= base + 1, 15, what="the publisher's peer on the relay")
        code, reason, started = run_async(hold_socket(), 30)
        assert (code, reason) == (1008, "the account is disabled")
        assert time.monotonic() - started < 5, "the socket outlived the revocation by 5 s"
        wait_for(lambda: peers() <= base, 5, what="the disabled account's media peer to be dropped")
        assert time.monotonic() - started < 5.5
    refused = requests.get(giaoban.url("/api/meetings"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 401 and "disabled" in refused.text


def test_revoked_api_key_is_refused(giaoban) -> None:
    wait_for(giaoban.healthy, 20, what="the server to answer /healthz")
    admin = {"Authorization": f"Bearer {giaoban.token('quan-tri', 'admin')}"}
    assert accounts(giaoban, "accounts", "add", "--subject", "tram-kiem-tra", "--role", "observer").returncode == 0
    issued = requests.post(giaoban.url("/api/keys"), headers=admin, json={"subject": "tram-kiem-tra", "label": "wall screen"},
                           timeout=10)
    assert issued.status_code == 201, issued.text
    key = issued.json()["key"]
    listed = requests.get(giaoban.url("/api/keys"), headers=admin, timeout=10)
    assert issued.json()["id"] in listed.text and key not in listed.text
    bearer = {"Authorization": f"Bearer {key}"}
    read = requests.get(giaoban.url("/api/incidents"), headers=bearer, timeout=10)
    assert read.status_code == 200, read.text
    assert requests.post(giaoban.url("/api/briefings"), headers=bearer, json={}, timeout=10).status_code == 403, \
        "an observer's key acts with more than the observer role"
    assert requests.delete(giaoban.url(f"/api/keys/{issued.json()['id']}"), headers=admin, timeout=10).status_code == 204
    again = requests.get(giaoban.url("/api/incidents"), headers=bearer, timeout=10)
    assert again.status_code == 401 and "revoked" in again.text

    rows = requests.get(giaoban.url("/api/audit?action=key.revoke"), headers=admin, timeout=10).json()["entries"]
    assert rows and rows[0]["remote"] == "127.0.0.1" and rows[0]["subject"] == "quan-tri"
    verified = accounts(giaoban, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
