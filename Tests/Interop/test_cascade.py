"""A relay under a parent relay (docs/cascade.md): aiortc publishes to the parent over WHIP;
aiortc watchers on the child relay decode it, served from one trunk (one WHEP session of the
child on the parent, authorized by an API key of an account there). A trunk nobody watches is
closed; a trunk whose parent is killed and started again (the publisher back) is
re-established, and a watcher on the child decodes through it."""
from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import threading
import time
import tempfile
import urllib.parse
from pathlib import Path

import pytest
import requests

from conftest import Giaoban, run_async, server_command, unique_stream, wait_for
from test_accounts_cli import accounts
from test_whip_whep_aiortc import assert_media
from test_whip_whep_chromium import MIN_FRAMES, chromium, wait_page  # noqa: F401 - the fixture
from webrtc_client import BackgroundPublisher, watch

pytestmark = pytest.mark.media


def peers(server: Giaoban) -> float:
    return server.metrics().get("giaoban_peers", 0)


def trunk_lines(server: Giaoban, words: str) -> int:
    return server.log_path.read_text(errors="replace").count(words)


def test_child_relay_serves_a_parent_stream_through_one_trunk(request) -> None:
    root = Path(tempfile.mkdtemp(prefix="giaoban-cascade-"))
    (root / "parent").mkdir()
    (root / "child").mkdir()
    parent = Giaoban("test_cascade_parent", root / "parent")
    child = Giaoban("test_cascade_child", root / "child")
    request.node._giaoban = child
    try:
        parent.start()
        wait_for(parent.secret_file.exists, 5, what="the parent's token secret")
        # The child's key on the parent: an API key of an observer account made for it.
        assert accounts(parent, "accounts", "add", "--subject", "relay-huyen-a", "--role", "observer").returncode == 0
        admin = {"Authorization": f"Bearer {parent.token('quan-tri', 'admin')}"}
        issued = requests.post(parent.url("/api/keys"), headers=admin, json={"subject": "relay-huyen-a", "label": "child relay"},
                               timeout=10)
        assert issued.status_code == 201, issued.text
        key_file = root / "child" / "parent.key"
        key_file.write_text(issued.json()["key"] + "\n")
        key_file.chmod(0o600)
        child.extra_env = {"GIAOBAN_CASCADE_PARENT": parent.base_url, "GIAOBAN_CASCADE_KEY_FILE": str(key_file),
                           "GIAOBAN_CASCADE_IDLE_S": "2"}
        child.start()

        stream = unique_stream("briefing")
        chair = parent.token("chi-huy", "chair")
        missing = requests.post(child.url(f"/whep/{stream}"), data=b"v=0\r\n",
                                headers={"Authorization": f"Bearer {child.token('xa-1', 'commune')}", "Content-Type": "application/sdp"},
                                timeout=20)
        assert missing.status_code in (400, 404), missing.text

        with BackgroundPublisher(parent.url(f"/whip/{stream}"), chair):
            wait_for(lambda: peers(parent) >= 1, 10, what="the publisher on the parent")

            async def two_watchers() -> list[dict]:
                return await asyncio.gather(*(watch(child.url(f"/whep/{stream}"), child.token(f"xa-{n}", "commune"), 6.0)
                                              for n in (1, 2)))

            summaries = run_async(two_watchers(), 60)
            for summary in summaries:
                assert_media(summary)
            assert trunk_lines(child, "trunk connected") == 1, "two watchers on the child share one trunk"
            # The trunk closes once nobody on the child watches (cascade.idle_s = 2).
            wait_for(lambda: trunk_lines(child, "trunk closed: nobody here watches the stream") == 1, 15,
                     what="the idle trunk to close")
            wait_for(lambda: peers(parent) == 1, 10, what="the parent to drop the trunk's session")

            # A watcher again: a new trunk; then the parent dies under it.
            late = run_async(watch(child.url(f"/whep/{stream}"), child.token("xa-3", "commune"), 4.0), 40)
            assert_media(late)

        # A watcher holds the trunk open while the parent is killed and started again on the
        # same ports (its database keeps the key), its publisher back: the trunk is
        # re-established, and a new watcher on the child decodes through it.
        with BackgroundPublisher(parent.url(f"/whip/{stream}"), chair):
            held: dict = {}
            holder = threading.Thread(target=lambda: held.update(
                run_async(watch(child.url(f"/whep/{stream}"), child.token("xa-4", "commune"), 30.0), 60)))
            holder.start()
            wait_for(lambda: trunk_lines(child, "trunk connected") == 2, 20, what="the holder's trunk")
            wait_for(lambda: child.metrics().get("giaoban_trunks_connected") == 1, 10, what="/metrics: one trunk connected")
            assert child.metrics().total("giaoban_trunk_packets_total") > 50
            parent.proc.send_signal(signal.SIGKILL)
            parent.proc.wait(10)
        parent.start()
        with BackgroundPublisher(parent.url(f"/whip/{stream}"), chair):
            wait_for(lambda: trunk_lines(child, "trunk re-established") == 1, 30, what="the trunk to come back")
            assert child.metrics().total("giaoban_trunk_reconnects_total") == 1
            again = run_async(watch(child.url(f"/whep/{stream}"), child.token("xa-5", "commune"), 5.0), 40)
            assert_media(again)
            holder.join(60)
        assert held.get("video_frames", 0) > 0, held
        assert trunk_lines(child, "trunk connected") == 2, "the break re-established the trunk; no second one was made"
    finally:
        child.stop()
        parent.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_three_levels_cross_each_level_once(request) -> None:
    """Ministry → province → district: a watcher at the district pulls the ministry's stream
    through the province, which pulls it once for the district (and would for its other
    districts) — each level is crossed once."""
    root = Path(tempfile.mkdtemp(prefix="giaoban-cascade3-"))
    names = ["ministry", "province", "district"]
    relays: list[Giaoban] = []
    try:
        for level, name in enumerate(names):
            (root / name).mkdir()
            relay = Giaoban(f"test_cascade_{name}", root / name)
            if level > 0:
                above = relays[level - 1]
                key_file = root / name / "parent.key"
                # A token the level above signs is a bearer it accepts, like an API key.
                key_file.write_text(above.token(f"relay-{name}", "observer", ttl=3600) + "\n")
                key_file.chmod(0o600)
                relay.extra_env = {"GIAOBAN_CASCADE_PARENT": above.base_url, "GIAOBAN_CASCADE_KEY_FILE": str(key_file)}
            relay.start()
            wait_for(relay.secret_file.exists, 5, what=f"the {name}'s token secret")
            relays.append(relay)
        request.node._giaoban = relays[-1]
        ministry, province, district = relays
        stream = unique_stream("national")
        with BackgroundPublisher(ministry.url(f"/whip/{stream}"), ministry.token("bo-truong", "chair")):
            summary = run_async(watch(district.url(f"/whep/{stream}"), district.token("xa-9", "commune"), 6.0), 60)
            assert_media(summary)
            assert trunk_lines(district, "trunk connected") == 1 and trunk_lines(province, "trunk connected") == 1
            assert peers(ministry) == 2, "the ministry sends one copy down: its publisher and the province's trunk"
    finally:
        for relay in reversed(relays):
            relay.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def province(request, prefix: str):
    """A parent and two children that share their token secret (one province's relays):
    yields (parent, child1, child2), every one running; stops them at the end."""
    root = Path(tempfile.mkdtemp(prefix=f"giaoban-{prefix}-"))
    relays: list[Giaoban] = []
    try:
        for name in ("parent", "child1", "child2"):
            (root / name).mkdir()
            relays.append(Giaoban(f"test_cascade_{prefix}_{name}", root / name))
        parent, child1, child2 = relays
        parent.start()
        wait_for(parent.secret_file.exists, 5, what="the parent's token secret")
        key_file = root / "parent.key"
        key_file.write_text(parent.token("relay-huyen", "observer", ttl=3600) + "\n")
        key_file.chmod(0o600)
        shared = root / "children.secret"
        for child in (child1, child2):
            child.secret_file = shared
            child.extra_env = {"GIAOBAN_CASCADE_PARENT": parent.base_url, "GIAOBAN_CASCADE_KEY_FILE": str(key_file),
                               "GIAOBAN_AUTH_SECRET_FILE": str(shared)}
            child.start()
        request.node._giaoban = child2
        yield parent, child1, child2
    finally:
        for relay in reversed(relays):
            relay.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_watcher_fails_over_to_another_child_within_10_s(request) -> None:
    """Failover: `giaoban endpoint watch` watches on child 1 with child 2 as `--fallback-url`;
    child 1 is killed with SIGKILL: within 10 s the station watches from child 2 (its peer is
    there), and it decodes there until the end."""
    with province(request, "failover") as (parent, child1, child2):
        stream = unique_stream("failover")
        token = child1.token("xa-phuoc-thai", "commune", ttl=600)
        with BackgroundPublisher(parent.url(f"/whip/{stream}"), parent.token("chi-huy", "chair")):
            watcher = subprocess.Popen(
                server_command() + ["endpoint", "watch", "--url", child1.base_url, "--fallback-url", child2.base_url,
                                    "--stream", stream, "--token", token, "--duration", "22", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                wait_for(lambda: peers(child1) >= 2, 20, what="the station watching on child 1")
                time.sleep(3)
                child1.proc.send_signal(signal.SIGKILL)
                child1.proc.wait(10)
                killed_at = time.monotonic()
                wait_for(lambda: peers(child2) >= 2, 10, what="the station back, watching on child 2")
                back_after = time.monotonic() - killed_at
                out, err = watcher.communicate(timeout=60)
            finally:
                if watcher.poll() is None:
                    watcher.kill()
        assert watcher.returncode == 0, f"exit {watcher.returncode}\n{err[-2000:]}"
        summary = json.loads(out.strip().splitlines()[-1])
        print(f"failover: back on child 2 {back_after:.1f} s after the kill; {summary['framesDecoded']} frames decoded there")
        assert back_after < 10, f"back after {back_after:.1f} s"
        assert summary["failovers"] == 1 and summary["relay"] == child2.base_url, summary
        assert summary["framesDecoded"] >= 60, f"decoded on child 2: {summary}"
        assert "failing over to" in err


@pytest.mark.chromium
def test_a_browser_watcher_fails_over_to_another_child_within_10_s(request, chromium) -> None:  # noqa: F811
    """The same with headless Chromium on `whep.html?fallback=<child 2>` served by child 1: the
    page watches through child 1; child 1 is killed with SIGKILL; within 10 s the page decodes
    the stream from child 2 (its connection there, frames counting up again)."""
    with province(request, "browser-failover") as (parent, child1, child2):
        stream = unique_stream("failover-web")
        token = child1.token("xa-phuoc-thai", "commune", ttl=600)
        page = chromium()
        with BackgroundPublisher(parent.url(f"/whip/{stream}"), parent.token("chi-huy", "chair")):
            page.get(child1.url("/whep.html?" + urllib.parse.urlencode({"stream": stream, "token": token,
                                                                         "fallback": child2.base_url})))
            first = wait_page(page, lambda s: s.get("framesDecoded", 0) > MIN_FRAMES, 30, "the page decoding through child 1")
            assert first["relay"].startswith(child1.base_url) and first["failovers"] == 0, first
            child1.proc.send_signal(signal.SIGKILL)
            child1.proc.wait(10)
            killed_at = time.monotonic()
            back = wait_page(page, lambda s: s.get("failovers", 0) >= 1 and s.get("relay", "").startswith(child2.base_url)
                             and s.get("state") == "connected" and s.get("framesDecoded", 0) > 0, 10,
                             "the page decoding through child 2")
            back_after = time.monotonic() - killed_at
            more = wait_page(page, lambda s: s.get("framesDecoded", 0) > back["framesDecoded"] + MIN_FRAMES, 20,
                             "frames counting up on child 2")
        print(f"browser failover: decoding from child 2 {back_after:.1f} s after the kill; {more}")
        assert back_after < 10, f"back after {back_after:.1f} s"
        assert more["failovers"] == 1, more


def test_simulcast_is_pulled_only_as_far_as_a_watcher_needs(request) -> None:
    """`endpoint publish --simulcast 3` (160x90, 320x180, 640x360) on the parent. Each layer
    comes down its own trunk connection, pulled only while a watcher on the child can take it:
    a watcher whose link takes 200 kbit/s (`--max-bitrate 200`, REMB) alone makes the child pull
    the low layer only (`giaoban_trunk_layers` 1) and decodes 160x90. Then that watcher and one
    with no cap watch at once: the child pulls every layer (3), and each decodes its own size,
    160x90 and 640x360, from the same trunk. Alone again, the thin watcher has the upper layers
    let go."""
    root = Path(tempfile.mkdtemp(prefix="giaoban-cascade-sim-"))
    relays: list[Giaoban] = []
    publisher = None
    watchers: list[subprocess.Popen] = []
    try:
        for name in ("parent", "child"):
            (root / name).mkdir()
            relays.append(Giaoban(f"test_cascade_simulcast_{name}", root / name))
        parent, child = relays
        parent.start()
        wait_for(parent.secret_file.exists, 5, what="the parent's token secret")
        key_file = root / "parent.key"
        key_file.write_text(parent.token("relay-huyen", "observer", ttl=3600) + "\n")
        key_file.chmod(0o600)
        child.extra_env = {"GIAOBAN_CASCADE_PARENT": parent.base_url, "GIAOBAN_CASCADE_KEY_FILE": str(key_file)}
        child.start()
        request.node._giaoban = child
        stream = unique_stream("simtrunk")
        publisher = subprocess.Popen(
            server_command() + ["endpoint", "publish", "--url", parent.base_url, "--stream", stream,
                                "--token", parent.token("chi-huy", "chair"), "--duration", "60", "--width", "640", "--height", "360",
                                "--bitrate", "900", "--fps", "15", "--simulcast", "3", "--grain", "20", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: parent.metrics().total("giaoban_rtp_received_total") > 100, 20, what="the simulcast publisher")

        def watch_child(subject: str, seconds: int, *args: str) -> subprocess.Popen:
            watcher = subprocess.Popen(
                server_command() + ["endpoint", "watch", "--url", child.base_url, "--stream", stream,
                                    "--token", child.token(subject, "commune"), "--duration", str(seconds), *args, "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            watchers.append(watcher)
            return watcher

        def summary(watcher: subprocess.Popen) -> dict:
            out, err = watcher.communicate(timeout=60)
            assert watcher.returncode == 0, err[-1500:]
            return json.loads(out.strip().splitlines()[-1])

        def layers_pulled() -> float:
            return child.metrics().by_label("giaoban_trunk_layers", "stream").get(stream, 0)

        thin_alone = watch_child("xa-1", 10, "--max-bitrate", "200")
        # One layer: the parent's figures for the others exceed the watcher's REMB. (Right after
        # the publisher starts, the parent's figure of a layer may still be low: the child may
        # pull it, measure it and let it go after 5 s.)
        time.sleep(2)
        wait_for(lambda: layers_pulled() == 1, 7, what="one layer pulled for the thin watcher")
        thin = summary(thin_alone)
        print("thin watcher alone on the child:", json.dumps(thin, sort_keys=True))
        assert (thin["width"], thin["height"]) == (160, 90), thin
        assert thin["framesDecoded"] >= 20 and thin["decodeErrors"] == 0, thin

        thin_both = watch_child("xa-1", 12, "--max-bitrate", "200")
        full_both = watch_child("xa-2", 12)
        wait_for(lambda: layers_pulled() == 3, 10, what="every layer pulled for the watcher with no cap")
        thin, full = summary(thin_both), summary(full_both)
        print("thin and full watchers at once:", json.dumps(thin, sort_keys=True), json.dumps(full, sort_keys=True))
        assert (thin["width"], thin["height"]) == (160, 90), thin
        assert (full["width"], full["height"]) == (640, 360), full
        for watched in (thin, full):
            assert watched["framesDecoded"] >= 30 and watched["decodeErrors"] == 0, watched
        assert child.metrics().by_label("giaoban_trunk_reconnects_total", "stream").get(stream, 0) == 0

        # The thin watcher alone again: the layers nobody here takes are let go after 5 s.
        thin_again = watch_child("xa-1", 14, "--max-bitrate", "200")
        wait_for(lambda: layers_pulled() == 1, 11, what="the upper layers let go")
        time.sleep(3)  # and they stay let go (what was measured of them does not decay into a new pull)
        assert layers_pulled() == 1, child.metrics().by_label("giaoban_trunk_layers", "stream")
        thin = summary(thin_again)
        assert (thin["width"], thin["height"]) == (160, 90) and thin["decodeErrors"] == 0, thin
    finally:
        for process in [*watchers, publisher]:
            if process is not None and process.poll() is None:
                process.kill()
        for relay in reversed(relays):
            relay.stop()
        shutil.rmtree(root, ignore_errors=True)
