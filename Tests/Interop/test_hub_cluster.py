"""`giaoban serve` nodes sharing one PostgreSQL database: an incident posted over HTTP on
node 1 reaches communes' event WebSockets on the other nodes, live, through LISTEN/NOTIFY
(docs/postgresql.md, "Hub events across nodes"); one node runs the escalation timer and
another takes over when it is killed."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
import requests
import websockets

from conftest import run_async, wait_for
from test_hub_interop import report
from test_incident_durability import start


@pytest.fixture()
def workdirs():
    paths = [Path(tempfile.mkdtemp(prefix=f"giaoban-node{n}-")) for n in (1, 2)]
    yield paths
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def test_incident_on_node_1_reaches_a_commune_on_node_2(workdirs, postgresql, request):
    env = postgresql.environment(postgresql.create_database())
    nodes = []
    try:
        for n, workdir in enumerate(workdirs, start=1):
            nodes.append(start(f"test_hub_cluster_node{n}", workdir, request, {**env, "GIAOBAN_SERVER_NAME": f"node{n}"}))
        node1, node2 = nodes
        camera = node1.token("cam-ql51-km24", "camera")
        commune = node2.token("xa-phuoc-thai", "commune")
        url = f"ws://127.0.0.1:{node2.http_port}/api/events?access_token={commune}"

        async def scenario() -> dict:
            async with websockets.connect(url, open_timeout=10) as socket:
                hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
                assert hello["type"] == "hello" and hello["pending"] == 0, hello
                resp = await asyncio.to_thread(requests.post, node1.url("/api/incidents"), json=report("cluster-1"),
                                               headers={"Authorization": f"Bearer {camera}"}, timeout=10)
                assert resp.status_code == 201, resp.text
                while True:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    if message["type"] == "incident":
                        return message

        pushed = run_async(scenario(), 30)
        assert pushed["incident"]["identifier"] == "cluster-1"
        assert "listening for other nodes' hub events" in node2.log_path.read_text(errors="replace")
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture()
def three_workdirs():
    paths = [Path(tempfile.mkdtemp(prefix=f"giaoban-node{n}-")) for n in (1, 2, 3)]
    yield paths
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def leaders(nodes) -> list[int]:
    return [n for n, node in enumerate(nodes, start=1) if node.alive() and node.metrics().get("giaoban_escalation_leader", 0) == 1]


def test_three_nodes_incident_reaches_communes_on_two_others_and_one_escalation_leader(three_workdirs, postgresql, request):
    """Three nodes on one database: an incident posted on node 1 reaches a commune on node 2 and
    another on node 3 over their event WebSockets; exactly one node runs the escalation timer,
    and when that node is killed with SIGKILL another takes over within 5 s."""
    env = {**postgresql.environment(postgresql.create_database()), "GIAOBAN_HUB_ROUTING_RADIUS_M": "100000"}
    nodes = []
    try:
        for n, workdir in enumerate(three_workdirs, start=1):
            nodes.append(start(f"test_hub_cluster3_node{n}", workdir, request, {**env, "GIAOBAN_SERVER_NAME": f"node{n}"}))
        node1, node2, node3 = nodes
        camera = node1.token("cam-ql51-km24", "camera")
        urls = [f"ws://127.0.0.1:{node.http_port}/api/events?access_token={node.token(commune, 'commune')}"
                for node, commune in ((node2, "xa-phuoc-thai"), (node3, "xa-trang-bom"))]

        async def commune(url: str, connected: asyncio.Event) -> dict:
            async with websockets.connect(url, open_timeout=10) as socket:
                hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
                assert hello["type"] == "hello", hello
                connected.set()
                while True:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 15))
                    if message["type"] == "incident":
                        return message

        async def scenario() -> list[dict]:
            ready = [asyncio.Event(), asyncio.Event()]
            tasks = [asyncio.create_task(commune(url, event)) for url, event in zip(urls, ready)]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 15)
            resp = await asyncio.to_thread(requests.post, node1.url("/api/incidents"), json=report("cluster-3"),
                                           headers={"Authorization": f"Bearer {camera}"}, timeout=10)
            assert resp.status_code == 201, resp.text
            return await asyncio.gather(*tasks)

        for pushed in run_async(scenario(), 40):
            assert pushed["incident"]["identifier"] == "cluster-3"

        wait_for(lambda: len(leaders(nodes)) == 1, 10, what="one escalation leader among three nodes")
        time.sleep(1.5)
        assert len(leaders(nodes)) == 1, "two nodes run the escalation timer"
        leader = nodes[leaders(nodes)[0] - 1]
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait(10)
        killed_at = time.monotonic()
        wait_for(lambda: len(leaders(nodes)) == 1, 10, what="another node to take the escalation timer over")
        assert time.monotonic() - killed_at < 5, f"took {time.monotonic() - killed_at:.1f} s"
        successor = nodes[leaders(nodes)[0] - 1]
        assert "this node now runs the cluster's escalation timer" in successor.log_path.read_text(errors="replace")
    finally:
        for node in nodes:
            node.stop()
