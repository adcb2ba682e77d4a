#!/usr/bin/env python3
"""A userspace impaired link for UDP: loss, delay with jitter, and an optional rate limit.

Stands where `tc netem` would (docs/impaired-link.md says why it is not netem): it listens on
one address (e.g. 127.0.0.2:40000, the relay's `media.announced_address`) and forwards every
datagram to the relay (e.g. 127.0.0.1:40000). Like a NAT it opens one upstream socket per client
address, so the relay sees each client as its own peer, and it sends the relay's replies back
to the client they belong to. Each direction (`up`: client -> relay, `down`: relay -> client)
drops a share of the datagrams at random (STUN, DTLS, RTP and RTCP alike, as a lossy link
does), holds each one for `delay ± jitter` ms (so datagrams may overtake one another, as on a
real jittery link) and, with a rate, queues them behind a token bucket (tail drop past the
queue limit). With `--clean-until-usr1` the client addresses first seen before the process
gets SIGUSR1 pass unimpaired: a station on a good link (the command post on the provincial
LAN) beside the impaired ones that join after it.

    impaired_link.py --listen 127.0.0.2:40000 --target 127.0.0.1:40000 \\
        --loss 0.05 --delay-ms 40 --jitter-ms 10 --stats /tmp/link.json

Counters (forwarded, dropped, queue overflows, bytes, per direction; clients seen) are
written as JSON to `--stats` every second and at exit (SIGTERM, SIGINT, or `--duration`), and
printed to stdout at exit. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from typing import Optional

IDLE_MAPPING_S = 60.0  # an upstream socket nobody used for this long is closed, as a NAT would


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


class Direction:
    """The impairment of one direction: loss, delay and jitter, and an optional token bucket."""

    def __init__(self, name: str, loss: float, delay_ms: float, jitter_ms: float, distribution: str,
                 rate_kbps: float, queue_ms: float, rng: random.Random) -> None:
        self.name = name
        self.loss = loss
        self.delay = delay_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.distribution = distribution
        self.rate = rate_kbps * 1000.0 / 8.0  # bytes per second; 0: unlimited
        self.queue = queue_ms / 1000.0
        self.rng = rng
        self.next_free = 0.0  # when the rate-limited line is free again (monotonic seconds)
        self.counts = {"received": 0, "forwarded": 0, "dropped": 0, "overflow": 0, "bytes": 0, "bytesDropped": 0}

    def hold(self, size: int, now: float) -> Optional[float]:
        """Seconds to hold a datagram of `size` bytes before sending it, or None to drop it."""
        self.counts["received"] += 1
        if self.loss > 0 and self.rng.random() < self.loss:
            self.counts["dropped"] += 1
            self.counts["bytesDropped"] += size
            return None
        wait = 0.0
        if self.rate > 0:
            start = max(now, self.next_free)
            if start - now > self.queue:
                self.counts["overflow"] += 1
                self.counts["bytesDropped"] += size
                return None
            self.next_free = start + size / self.rate
            wait = self.next_free - now
        if self.distribution == "normal":
            jitter = self.rng.gauss(0.0, self.jitter / 2.0)  # jitter is two standard deviations
            jitter = max(-self.jitter * 2, min(self.jitter * 2, jitter))
        else:
            jitter = self.rng.uniform(-self.jitter, self.jitter)
        self.counts["forwarded"] += 1
        self.counts["bytes"] += size
        return max(0.0, wait + self.delay + jitter)

    def summary(self) -> dict:
        out = dict(self.counts)
        out["lossShare"] = round(self.counts["dropped"] / self.counts["received"], 5) if self.counts["received"] else 0.0
        return out


class ImpairedLink:
    """Listens on `listen`, forwards to `target` through one upstream socket per client."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], up: Direction, down: Direction,
                 upstream_host: str, clean: bool = False) -> None:
        self.listen = listen
        self.target = target
        self.up = up
        self.down = down
        self.upstream_host = upstream_host
        self.admitting_clean = clean  # new client addresses pass unimpaired until SIGUSR1
        self.args_clean = clean
        self.clean = Direction("clean", 0, 0, 0, "uniform", 0, 0, random.Random(0))
        self.order: list[dict] = []  # every client address in the order first seen, with its counts
        self.downstream: Optional[asyncio.DatagramTransport] = None
        self.mappings: dict[tuple[str, int], list] = {}  # client -> [transport, last used]
        self.clients_seen = 0
        self.mappings_expired = 0
        self.started = time.monotonic()
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        link = self

        class Facing(asyncio.DatagramProtocol):  # the clients' side
            def datagram_received(self, data: bytes, addr) -> None:
                link.from_client(data, addr)

        self.downstream, _ = await self.loop.create_datagram_endpoint(Facing, local_addr=self.listen)

    def from_client(self, data: bytes, client: tuple[str, int]) -> None:
        now = time.monotonic()
        mapping = self.mappings.get(client)
        if mapping is None:
            impaired = not self.admitting_clean
            entry = {"client": f"{client[0]}:{client[1]}", "impaired": impaired, "up": 0, "down": 0}
            # transport (once opened), last used, datagrams waiting for it, counts, up and down impairment
            mapping = [None, now, [], entry, self.up if impaired else self.clean, self.down if impaired else self.clean]
            self.mappings[client] = mapping
            self.order.append(entry)
            self.clients_seen += 1
            asyncio.ensure_future(self.open_mapping(client, mapping))
        mapping[1] = now
        mapping[3]["up"] += 1
        delay = mapping[4].hold(len(data), now)
        if delay is None:
            return
        if delay > 0:
            self.loop.call_later(delay, self.send_up, mapping, data)
        else:
            self.send_up(mapping, data)

    async def open_mapping(self, client: tuple[str, int], mapping: list) -> None:
        link = self

        class Upstream(asyncio.DatagramProtocol):  # the relay's side, for one client
            def datagram_received(self, data: bytes, addr) -> None:
                link.from_relay(data, client, mapping)

        transport, _ = await self.loop.create_datagram_endpoint(Upstream, local_addr=(self.upstream_host, 0))
        mapping[0] = transport
        for data in mapping[2]:
            transport.sendto(data, self.target)
        mapping[2].clear()

    def send_up(self, mapping: list, data: bytes) -> None:
        if mapping[0] is None:
            mapping[2].append(data)
        elif not mapping[0].is_closing():
            mapping[0].sendto(data, self.target)

    def from_relay(self, data: bytes, client: tuple[str, int], mapping: list) -> None:
        now = time.monotonic()
        mapping[1] = now
        mapping[3]["down"] += 1
        delay = mapping[5].hold(len(data), now)
        if delay is None:
            return
        if delay > 0:
            self.loop.call_later(delay, self.send_down, data, client)
        else:
            self.send_down(data, client)

    def send_down(self, data: bytes, client: tuple[str, int]) -> None:
        if self.downstream is not None and not self.downstream.is_closing():
            self.downstream.sendto(data, client)

    def stop_admitting_clean(self) -> None:
        self.admitting_clean = False

    def expire(self) -> None:
        now = time.monotonic()
        for client, mapping in list(self.mappings.items()):
            if now - mapping[1] > IDLE_MAPPING_S and mapping[0] is not None:
                mapping[0].close()
                del self.mappings[client]
                self.mappings_expired += 1

    def summary(self) -> dict:
        return {
            "listen": f"{self.listen[0]}:{self.listen[1]}",
            "target": f"{self.target[0]}:{self.target[1]}",
            "seconds": round(time.monotonic() - self.started, 1),
            "clientsSeen": self.clients_seen,
            "mappings": len(self.mappings),
            "mappingsExpired": self.mappings_expired,
            "clients": self.order[:100],
            "clean": self.clean.summary(),
            "up": self.up.summary(),
            "down": self.down.summary(),
            "settings": {"loss": self.up.loss, "delayMs": self.up.delay * 1000, "jitterMs": self.up.jitter * 1000,
                         "distribution": self.up.distribution, "rateKbps": self.up.rate * 8 / 1000,
                         "cleanUntilUsr1": self.args_clean},
        }

    def close(self) -> None:
        for mapping in self.mappings.values():
            if mapping[0] is not None:
                mapping[0].close()
        if self.downstream is not None:
            self.downstream.close()


def write_stats(path: Optional[str], summary: dict) -> None:
    if not path:
        return
    temporary = f"{path}.tmp"
    with open(temporary, "w") as out:
        json.dump(summary, out, sort_keys=True)
    os.replace(temporary, path)  # readers never see half a file


async def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    make = lambda name: Direction(name, args.loss, args.delay_ms, args.jitter_ms, args.distribution,  # noqa: E731
                                  args.rate_kbps, args.queue_ms, random.Random(rng.random()))
    link = ImpairedLink(args.listen, args.target, make("up"), make("down"), args.upstream_host, args.clean_until_usr1)
    await link.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, link.stop_admitting_clean)
    if args.duration > 0:
        loop.call_later(args.duration, stop.set)
    print(f"impaired_link: {args.listen[0]}:{args.listen[1]} -> {args.target[0]}:{args.target[1]}, "
          f"loss {args.loss:.1%}, delay {args.delay_ms:g} ms ± {args.jitter_ms:g} ms ({args.distribution})"
          + (f", rate {args.rate_kbps:g} kbit/s" if args.rate_kbps > 0 else ""), file=sys.stderr, flush=True)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
            link.expire()
            write_stats(args.stats, link.summary())
    finally:
        summary = link.summary()
        link.close()
        write_stats(args.stats, summary)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=address, required=True, help="HOST:PORT the clients send to")
    parser.add_argument("--target", type=address, required=True, help="HOST:PORT of the relay")
    parser.add_argument("--upstream-host", default="127.0.0.1", help="address the upstream sockets bind to")
    parser.add_argument("--loss", type=float, default=0.05, help="share of datagrams dropped per direction (0-1)")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay per direction")
    parser.add_argument("--jitter-ms", type=float, default=10.0, help="± jitter around the delay")
    parser.add_argument("--distribution", choices=("uniform", "normal"), default="uniform",
                        help="jitter: uniform in ±jitter, or normal with sigma jitter/2 clamped to ±2 sigma")
    parser.add_argument("--rate-kbps", type=float, default=0.0, help="line rate per direction (0: unlimited)")
    parser.add_argument("--queue-ms", type=float, default=200.0, help="with a rate: queue length before tail drop")
    parser.add_argument("--clean-until-usr1", action="store_true",
                        help="client addresses first seen before SIGUSR1 pass unimpaired (stations on a clean link)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run (0: until SIGTERM)")
    parser.add_argument("--stats", default=None, help="JSON file of the counters, rewritten every second")
    args = parser.parse_args()
    if not 0 <= args.loss < 1:
        parser.error("--loss is a share between 0 and 1")
    summary = asyncio.run(run(args))
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
