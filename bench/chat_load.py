"""Quick chat load run against a running Kindred server (loopback only, bounded).

    python manage.py bench_setup --users 200 --groups 10 --out var/bench.json
    python bench/chat_load.py var/bench.json --rate 50 --duration 20

Opens one WebSocket per bench user, sends `--rate` messages per second in total (spread
over random senders) for `--duration` seconds, then waits for stragglers and reports:
connected clients, delivered / expected, lost, duplicated, out of order, and delivery
latency percentiles (sender clock to receiver clock, same machine). It stops itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

import websockets


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


class Client:
    def __init__(self, user: dict, base_url: str):
        self.user = user
        self.base = urlparse(base_url)
        self.ws = None
        self.received: dict[str, float] = {}
        self.duplicates = 0
        self.out_of_order = 0
        self.last_id = 0
        self.acks = 0

    async def connect(self) -> None:
        url = f"ws://{self.base.netloc}/ws/groups/{self.user['group']}/chat/?after=0"
        self.ws = await websockets.connect(
            url,
            origin=f"{self.base.scheme}://{self.base.netloc}",
            additional_headers={"Cookie": self.user["cookie"]},
            open_timeout=20,
            max_size=2**20,
        )

    async def listen(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "message.new":
                    message = frame["message"]
                    key = message["client_id"]
                    if key in self.received:
                        self.duplicates += 1
                        continue
                    self.received[key] = time.time()
                    if message["id"] < self.last_id:
                        self.out_of_order += 1
                    self.last_id = max(self.last_id, message["id"])
                elif frame["type"] == "message.ack":
                    self.acks += 1
        except websockets.ConnectionClosed:
            return

    async def send(self, client_id: str) -> bool:
        try:
            await self.ws.send(json.dumps({"type": "message.send", "client_id": client_id,
                                           "body": f"load test {client_id}"}))
        except websockets.ConnectionClosed:
            return False
        return True


async def run(args) -> dict:
    setup = json.loads(Path(args.setup).read_text())
    users = setup["users"][: args.clients] if args.clients else setup["users"]
    clients = [Client(u, setup["base_url"]) for u in users]
    started = time.time()
    results = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    connected = [c for c, r in zip(clients, results, strict=True) if r is None]
    connect_seconds = time.time() - started
    listeners = [asyncio.create_task(c.listen()) for c in connected]
    await asyncio.sleep(args.settle)  # let catch-up and presence traffic finish first
    by_group: dict[str, list[Client]] = defaultdict(list)
    for c in connected:
        by_group[c.user["group"]].append(c)
    sent: dict[str, tuple[float, str]] = {}
    interval = 1.0 / args.rate
    closed = 0
    deadline = time.monotonic() + args.duration
    next_at = time.monotonic()
    while time.monotonic() < deadline and connected:
        sender = random.choice(connected)
        client_id = uuid.uuid4().hex
        at = time.time()
        if await sender.send(client_id):
            sent[client_id] = (at, sender.user["group"])
        else:
            connected.remove(sender)
            closed += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.sleep(args.drain)
    for c in connected:
        await c.ws.close()
    await asyncio.gather(*listeners, return_exceptions=True)

    expected = delivered = lost = 0
    latencies: list[float] = []
    for client_id, (at, group) in sent.items():
        for c in by_group[group]:
            expected += 1
            got = c.received.get(client_id)
            if got is None:
                lost += 1
            else:
                delivered += 1
                latencies.append((got - at) * 1000)
    return {
        "clients": len(clients),
        "connected": len(connected),
        "connect_seconds": round(connect_seconds, 2),
        "groups": len(by_group),
        "closed_by_server": closed,
        "sent": len(sent),
        "rate_per_s": args.rate,
        "expected_deliveries": expected,
        "delivered": delivered,
        "lost": lost,
        "duplicated": sum(c.duplicates for c in connected),
        "out_of_order": sum(c.out_of_order for c in connected),
        "deliveries_per_s": round(delivered / args.duration, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1) if latencies else None,
            "mean": round(statistics.fmean(latencies), 1) if latencies else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("setup", help="JSON written by manage.py bench_setup")
    parser.add_argument("--clients", type=int, default=0, help="use only the first N users")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second in all")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before sending")
    parser.add_argument("--drain", type=float, default=3.0, help="seconds to wait at the end")
    args = parser.parse_args()
    if args.duration > 600 or args.rate > 5000:
        parser.error("bounded runs only: duration <= 600 s and rate <= 5000/s")
    host = urlparse(json.loads(Path(args.setup).read_text())["base_url"]).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("load runs talk to loopback only")
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
