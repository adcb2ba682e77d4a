"""Every error status of the WHIP/WHEP contract, and CORS.

Each request has exactly one defect, so the expected status is unambiguous. Error bodies
must be text/plain with a one-line, non-empty reason.
"""

from __future__ import annotations

import re
import time
import urllib.parse

import pytest
import requests

from conftest import run_async, unique_stream
from webrtc_client import make_offer

SDP = "application/sdp"


@pytest.fixture(scope="module")
def offers() -> dict:
    return {
        "publish": run_async(make_offer("publish"), 20),
        "watch": run_async(make_offer("watch"), 20),
    }


def post(giaoban, kind: str, stream: str, body: str, token: str | None = None,
         content_type: str | None = SDP, authorization: str | None = None) -> requests.Response:
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(giaoban.url(f"/{kind}/{stream}"), data=body.encode(), headers=headers, timeout=10)


def assert_error(resp: requests.Response, status: int) -> str:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:200]!r}"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain"), f"error body has Content-Type {ctype!r}, not text/plain"
    reason = resp.text.strip()
    assert reason, f"{status} without a reason in the body"
    assert "\n" not in reason, f"reason is not one line: {reason!r}"
    return reason


def tamper_signature(token: str) -> str:
    header, payload, sig = token.split(".")
    middle = len(sig) // 2
    flipped = "A" if sig[middle] != "A" else "B"
    return ".".join([header, payload, sig[:middle] + flipped + sig[middle + 1:]])


def session_location(giaoban, resp: requests.Response) -> str:
    assert resp.status_code == 201, f"POST -> {resp.status_code}: {resp.text[:200]!r}"
    location = resp.headers.get("Location")
    assert location, "201 without Location"
    return urllib.parse.urljoin(giaoban.url("/"), location)


# ---------------------------------------------------------------------------- 401


@pytest.mark.parametrize("kind", ["whip", "whep"])
def test_missing_token_is_401(giaoban, offers, kind):
    offer = offers["publish" if kind == "whip" else "watch"]
    assert_error(post(giaoban, kind, unique_stream(), offer), 401)


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"])
def test_unusable_authorization_is_401(giaoban, offers, authorization):
    resp = post(giaoban, "whip", unique_stream(), offers["publish"], authorization=authorization)
    assert_error(resp, 401)


def test_bad_signature_is_401(giaoban, offers):
    token = tamper_signature(giaoban.token("mallory", "chair"))
    assert_error(post(giaoban, "whip", unique_stream(), offers["publish"], token), 401)


def test_expired_token_is_401(giaoban, offers):
    minted = giaoban.token_command("late", "chair", ttl=-3600)  # clear of any clock leeway
    if minted.returncode == 0 and minted.stdout.strip().count(".") == 2:
        token = minted.stdout.strip().splitlines()[-1]
    else:  # the token command refuses a negative ttl: let a 1 s token expire
        token = giaoban.token("late", "chair", ttl=1)
        time.sleep(2.5)
    reason = assert_error(post(giaoban, "whip", unique_stream(), offers["publish"], token), 401)
    print(f"expired token: {reason}")


# ---------------------------------------------------------------------------- 403


@pytest.mark.parametrize("role", ["observer", "camera"])
def test_role_that_may_not_publish_is_403(giaoban, offers, role):
    token = giaoban.token(f"{role}-1", role)
    assert_error(post(giaoban, "whip", unique_stream(), offers["publish"], token), 403)


# ---------------------------------------------------------------------------- 415, 400


@pytest.mark.parametrize("kind", ["whip", "whep"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_wrong_content_type_is_415(giaoban, offers, kind, content_type):
    offer = offers["publish" if kind == "whip" else "watch"]
    token = giaoban.token("admin-1", "admin")
    assert_error(post(giaoban, kind, unique_stream(), offer, token, content_type=content_type), 415)


@pytest.mark.parametrize("body", ["this is not SDP", "", "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nm=video"])
def test_malformed_sdp_is_400(giaoban, body):
    token = giaoban.token("chair-1", "chair")
    reason = assert_error(post(giaoban, "whip", unique_stream(), body, token), 400)
    print(f"malformed SDP {body[:20]!r}: {reason}")


# ---------------------------------------------------------------------------- 404, 405


def test_whep_of_unpublished_stream_is_404(giaoban, offers):
    token = giaoban.token("observer-1", "observer")
    assert_error(post(giaoban, "whep", unique_stream("nobody"), offers["watch"], token), 404)


@pytest.mark.parametrize("kind", ["whip", "whep"])
def test_delete_of_unknown_session_is_404(giaoban, kind):
    token = giaoban.token("admin-1", "admin")
    resp = requests.delete(giaoban.url(f"/{kind}/{unique_stream()}/no-such-session"),
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert_error(resp, 404)


def test_patch_is_405_and_delete_ends_the_session(giaoban, offers):
    token = giaoban.token("chair-2", "chair")
    stream = unique_stream()
    resp = post(giaoban, "whip", stream, offers["publish"], token)
    location = session_location(giaoban, resp)
    assert re.fullmatch(rf"/whip/{stream}/[^/?#]+", urllib.parse.urlparse(location).path), location

    patch = requests.patch(location, data=b"a=end-of-candidates\r\n",
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/trickle-ice-sdpfrag"}, timeout=10)
    assert patch.status_code == 405, f"PATCH -> {patch.status_code}: {patch.text[:200]!r}"

    auth = {"Authorization": f"Bearer {token}"}
    first = requests.delete(location, headers=auth, timeout=10)
    assert first.status_code == 200, f"DELETE -> {first.status_code}: {first.text[:200]!r}"
    again = requests.delete(location, headers=auth, timeout=10)
    assert_error(again, 404)


# ---------------------------------------------------------------------------- CORS


def _header_list(resp: requests.Response, name: str) -> set[str]:
    return {part.strip().lower() for part in resp.headers.get(name, "").split(",") if part.strip()}


@pytest.mark.parametrize("kind", ["whip", "whep"])
def test_cors_preflight(giaoban, kind):
    resp = requests.options(
        giaoban.url(f"/{kind}/{unique_stream()}"),
        headers={
            "Origin": "http://console.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert resp.status_code == 204, f"OPTIONS -> {resp.status_code}"
    assert resp.headers.get("Access-Control-Allow-Origin") == "*"
    allowed = _header_list(resp, "Access-Control-Allow-Headers")
    assert {"authorization", "content-type"} <= allowed, f"Access-Control-Allow-Headers: {allowed}"
    methods = _header_list(resp, "Access-Control-Allow-Methods")
    # POST is CORS-safelisted, DELETE is not: a page on another origin can only end its session
    # when DELETE is allowed.
    assert {"post", "delete"} <= methods, f"Access-Control-Allow-Methods: {methods}"


def test_cors_headers_on_created_session(giaoban, offers):
    token = giaoban.token("chair-3", "chair")
    stream = unique_stream()
    resp = requests.post(giaoban.url(f"/whip/{stream}"), data=offers["publish"].encode(),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": SDP,
                                  "Origin": "http://console.example"}, timeout=10)
    location = session_location(giaoban, resp)
    try:
        assert resp.headers.get("Access-Control-Allow-Origin") == "*"
        assert "location" in _header_list(resp, "Access-Control-Expose-Headers"), \
            "a page on another origin cannot read Location without Access-Control-Expose-Headers"
        assert resp.headers.get("Content-Type", "").startswith(SDP)
    finally:
        requests.delete(location, headers={"Authorization": f"Bearer {token}"}, timeout=10)
