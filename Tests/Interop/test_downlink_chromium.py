"""Headless Chromium on one connection down (docs/protocol.md, "One connection down" and
"ICE restart"): web/room.html?downlink=1 receives the chair's video (aiortc) on a single
peer connection offered by the relay, follows the relay's new offers as a second publisher
comes and goes, publishes Chromium's fake camera, then restarts ICE on both connections;
media keeps flowing and no new DTLS handshake takes place."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
import requests

from test_meeting_room_chromium import RoomPublisher
from test_whip_whep_chromium import chromium, describe, screenshot, wait_page  # noqa: F401 - the fixture

pytestmark = [pytest.mark.chromium, pytest.mark.media]

MIN_FRAMES = 30
MEDIA_TIMEOUT = 30.0
RESTART_TIMEOUT = 20.0
DTLS_CONNECTED = "giaoban_dtls_connected_total"
DTLS_FAILED = "giaoban_dtls_failed_total"

RESTART_SCRIPT = """
const done = arguments[arguments.length - 1];
window.giaobanRestartIce().then(() => done({ ok: true }), (e) => done({ error: String(e) }));
"""


def frames_of(stats: dict, subject: str) -> int:
    return (stats.get("downlink") or {}).get("framesBySubject", {}).get(subject, 0)


def test_chromium_downlink_keeps_dtls_across_an_ice_restart(giaoban, chromium, artifacts):  # noqa: F811
    chair, commune, second = "officer-dlc", "xa-dlc", "xa-dlc-b"
    chair_token = giaoban.token(chair, "chair")
    resp = requests.post(giaoban.url("/api/meetings"), headers={"Authorization": f"Bearer {chair_token}"},
                         json={"title": "Giao ban: trình duyệt, một kết nối xuống",
                               "scheduled_at": "2026-12-01T07:30:00+07:00"}, timeout=10)
    assert resp.status_code == 201, resp.text
    meeting = resp.json()["id"]
    ws_url = giaoban.url(f"/api/meetings/{meeting}/room").replace("http://", "ws://") + f"?access_token={chair_token}"

    with RoomPublisher(ws_url) as publisher:
        assert publisher.answered.wait(20), f"no answer to the chair's publish: {publisher.error} {publisher.messages}"
        page = chromium()
        page.set_script_timeout(RESTART_TIMEOUT + 5)
        token = giaoban.token(commune, "commune")
        try:
            page.get(giaoban.url("/room.html?" + urllib.parse.urlencode({"meeting": meeting, "token": token,
                                                                         "downlink": 1})))
            got = wait_page(page, lambda s: frames_of(s, chair) > MIN_FRAMES, MEDIA_TIMEOUT,
                            "room page decoding the chair's video on the downlink")
            print("watching:", json.dumps(got, sort_keys=True))
            assert (got["frameWidth"], got["frameHeight"]) == (320, 240), got
            assert got["peerConnections"] == 1 and got["receivingConnections"] == 1, got
            down = got["downlink"]
            assert down["session"] and down["revisions"], down

            # A second publisher comes and goes: the relay offers again on the same connection.
            second_url = ws_url.replace(f"access_token={chair_token}", f"access_token={giaoban.token(second, 'commune')}")
            with RoomPublisher(second_url) as other:
                assert other.answered.wait(20), f"no answer to {second}'s publish: {other.error} {other.messages}"
                both = wait_page(page, lambda s: frames_of(s, second) > MIN_FRAMES, MEDIA_TIMEOUT,
                                 f"room page decoding {second}'s video too")
                assert both["peerConnections"] == 1 and both["receivingConnections"] == 1, both
                assert max(both["downlink"]["revisions"]) > max(down["revisions"]), both["downlink"]
                assert frames_of(both, chair) > frames_of(got, chair), both
                assert page.execute_script(f"return !!document.getElementById('video-{second}')"), "no video element"

                # Whom the page watches changes (the speaker moved away and back): the second
                # publisher's tracks go inactive, then come back on the same m-lines and SSRCs with
                # their numbering continued, and Chromium decodes them again.
                watch = ("const done = arguments[arguments.length - 1];"
                         "window.giaobanWatch(arguments[0]).then(() => done('ok'), (e) => done(String(e)));")
                decoded = frames_of(wait_page(page, lambda s: True, 5, "stats before"), second)
                assert page.execute_async_script(watch, [chair]) == "ok"
                wait_page(page, lambda s: second not in s["downlink"]["participants"], 15, f"an offer without {second}")
                time.sleep(1.0)
                assert page.execute_async_script(watch, [chair, second]) == "ok"
                again = wait_page(page, lambda s: frames_of(s, second) > decoded + MIN_FRAMES,
                                  MEDIA_TIMEOUT, f"room page decoding {second} again after watching it again")
                assert again["peerConnections"] == 1, again
                print("watched again:", json.dumps(again["downlink"], sort_keys=True))
                assert page.execute_async_script(watch, None) == "ok"
            gone = wait_page(page, lambda s: second not in s["downlink"]["participants"], 15,
                             f"an offer without {second} after {second} left")
            assert gone["downlink"]["session"] == down["session"] and gone["peerConnections"] == 1, gone
            assert page.execute_script(f"return !document.getElementById('video-{second}')"), f"{second}'s video stayed"

            # The page publishes Chromium's fake camera on its own stream.
            page.execute_script("window.giaobanPublish()")
            sent = wait_page(page, lambda s: (s.get("publish") or {}).get("state") == "connected"
                             and s["publish"].get("framesSent", 0) > 10, MEDIA_TIMEOUT, "the page publishing")
            assert sent["publish"]["session"], sent["publish"]
            assert sent["peerConnections"] == 2 and sent["receivingConnections"] == 1, sent
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    m["type"] == "roster" and any(p["subject"] == commune and p["publishing"] for p in m["participants"])
                    for m in list(publisher.messages)):
                time.sleep(0.2)
            assert any(m["type"] == "roster" and any(p["subject"] == commune and p["publishing"]
                                                     for p in m["participants"]) for m in list(publisher.messages)), \
                "the roster never showed the page publishing"

            # A network change: both connections restart ICE.
            before_metrics = giaoban.metrics()
            before = wait_page(page, lambda s: True, 5, "stats before the restart")
            result = page.execute_async_script(RESTART_SCRIPT) or {}
            assert result.get("ok"), f"restartIce: {result}\n{describe(page)}"
            after = wait_page(
                page,
                lambda s: s.get("framesDecoded", 0) > before["framesDecoded"] + MIN_FRAMES
                and frames_of(s, chair) > frames_of(before, chair) + MIN_FRAMES
                and (s.get("publish") or {}).get("framesSent", 0) > before["publish"]["framesSent"] + MIN_FRAMES,
                MEDIA_TIMEOUT, "decoding and sending after the ICE restart")
            print("after the restart:", json.dumps(after, sort_keys=True))
            after_metrics = giaoban.metrics()

            assert after["downlink"]["session"] == down["session"], (down["session"], after["downlink"]["session"])
            assert max(after["downlink"]["revisions"]) > max(before["downlink"]["revisions"]), \
                (before["downlink"]["revisions"], after["downlink"]["revisions"])
            assert after["publish"]["session"] == before["publish"]["session"], (before["publish"], after["publish"])
            for name, b, a in (("downlink", before["downlink"]["ice"], after["downlink"]["ice"]),
                               ("publish", before["publish"]["ice"], after["publish"]["ice"])):
                assert a["local"] != b["local"] and a["remote"] != b["remote"], f"{name} ICE not restarted: {b} → {a}"
            assert after["peerConnections"] == 2 and after["receivingConnections"] == 1, after
            assert after["state"] == "connected" and after["publish"]["state"] == "connected", after
            dtls = {name: (before_metrics.total(name), after_metrics.total(name)) for name in (DTLS_CONNECTED, DTLS_FAILED)}
            assert dtls[DTLS_CONNECTED][0] >= 2, f"the relay counted {dtls[DTLS_CONNECTED][0]} DTLS handshakes before"
            print("DTLS (before, after):", dtls)
            assert all(b == a for b, a in dtls.values()), f"DTLS handshakes during the ICE restart (before, after): {dtls}"
            assert publisher.error is None, publisher.error
        finally:
            screenshot(page, artifacts, "downlink-commune")
            try:
                page.execute_script("window.giaobanLeave && window.giaobanLeave()")
            except Exception:  # noqa: BLE001 - a page that already died
                pass
