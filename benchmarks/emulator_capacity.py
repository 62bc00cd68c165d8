"""How many requests per second the emulator serves, and what each costs it in CPU.

    .venv/bin/python benchmarks/emulator_capacity.py [--services 10000] [--seconds 5] [--concurrency 64]

Starts ``aiodataops emulator`` in its own process (10,000 services by default), then one aiohttp client process
(this one) sends signed requests as fast as ``--concurrency`` connections allow, for each mix in turn:

- ``get``: GET one service (the poll of a fleet rollout);
- ``list``: GET a page of 20 services, sorted and filtered by data ops (a cache hit between changes);
- ``mixed``: 1 PUT (an update; 409 while one is running counts as served) for 9 GETs.

It prints, per mix, the requests per second seen by the client and the emulator's CPU seconds per 1,000 requests
(from the server process's own CPU time): on a shared machine the client usually saturates first, so the second
figure is the emulator's real capacity: ``1000 / cpu_ms_per_1000`` requests per CPU-second.
Everything talks to 127.0.0.1; each mix is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time

import aiohttp
import psutil  # type: ignore[import-untyped]  # types-psutil is not a dependency; one Process call is used
from yarl import URL

from aiodataops._signing import Credentials, now_ms, signed_headers


def start_emulator(services: int) -> tuple[subprocess.Popen[str], str, Credentials]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiodataops",
            "emulator",
            "--port",
            "0",
            "--services",
            str(services),
            "--data-ops",
            "10",
            "--stale-read",
            "0",
            "--update-seconds",
            "0.05,0.2",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    fields: dict[str, str] = {}
    for _ in range(5):
        key, _, value = process.stdout.readline().partition(": ")
        fields[key.strip()] = value.strip()
    return process, fields["base URL"], Credentials(fields["access key"], fields["secret key"])


async def run_mix(
    mix: str, base: str, creds: Credentials, *, ids: list[str], names: list[str], seconds: float, concurrency: int
) -> tuple[int, dict[int, int]]:
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    rng = random.Random(0)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            count = 0
            while time.monotonic() < deadline and count < 1_000_000:
                count += 1
                service_id = ids[rng.randrange(len(ids))]
                method, url, body = "GET", f"{base}/v1/data-ops-services/{service_id}", None
                if mix == "list":
                    name = names[rng.randrange(len(names))]
                    url = (
                        f"{base}/v1/data-ops-services?data_ops_name={name}&page={rng.randrange(50)}&size=20"
                        "&sort=created_dt%3Adesc"
                    )
                elif mix == "mixed" and count % 10 == 0:
                    method, body = "PUT", json.dumps({"description": f"run {count}"}).encode()
                headers = signed_headers(method, url, now_ms(), creds)
                headers["Content-Type"] = "application/json"
                # encoded=True: send the very bytes that were signed (yarl would turn %3A into ':').
                async with session.request(method, URL(url, encoded=True), data=body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sum(statuses.values()), statuses


async def fetch_ids(base: str, creds: Credentials) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    names: set[str] = set()
    async with aiohttp.ClientSession() as session:
        for page in range(10_000):
            url = f"{base}/v1/data-ops-services?page={page}&size=1000"
            async with session.get(url, headers=signed_headers("GET", url, now_ms(), creds)) as response:
                body = await response.json()
            ids += [item["data_ops_service_id"] for item in body["contents"]]
            names |= {item["data_ops_name"] for item in body["contents"]}
            if (page + 1) * 1000 >= body["total_count"]:
                break
    return ids, sorted(names)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--mixes", default="get,list,mixed")
    args = parser.parse_args()
    started = time.perf_counter()
    process, base, creds = start_emulator(args.services)
    try:
        print(
            f"emulator up with {args.services} services in {time.perf_counter() - started:.2f} s "
            "(process start, imports and seeding)"
        )
        server = psutil.Process(process.pid)
        ids, names = await fetch_ids(base, creds)
        print("| mix | requests | client req/s | emulator CPU ms / 1000 req | req per emulator CPU-second | statuses |")
        print("|---|---|---|---|---|---|")
        for mix in args.mixes.split(","):
            cpu_before = sum(server.cpu_times()[:2])
            wall = time.perf_counter()
            total, statuses = await run_mix(
                mix, base, creds, ids=ids, names=names, seconds=args.seconds, concurrency=args.concurrency
            )
            wall = time.perf_counter() - wall
            cpu = sum(server.cpu_times()[:2]) - cpu_before
            print(
                f"| {mix} | {total} | {total / wall:,.0f} | {cpu * 1e6 / total:.0f} | "
                f"{total / cpu:,.0f} | {dict(sorted(statuses.items()))} |",
                flush=True,
            )
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
