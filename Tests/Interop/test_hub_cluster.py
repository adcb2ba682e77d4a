"""Two `giaoban serve` nodes sharing one PostgreSQL database: an incident posted over HTTP on
node 1 reaches a commune's event WebSocket on node 2, live, through LISTEN/NOTIFY
(docs/postgresql.md, "Hub events across nodes")."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import requests
import websockets

from conftest import run_async
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
