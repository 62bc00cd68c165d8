"""In-process micro-benchmarks behind the profile in README.md: no network, one process, best of 5.

``.venv/bin/python benchmarks/micro.py``

- reading one service answer: ``orjson.loads``, the SDK's ``structure(.., Service)``, and the two fields a wait
  needs (``state`` and a parsed ``modified_dt``);
- the fleet engine's own cost per target: ``fleet.apply`` on a client whose calls cost nothing (each yields once),
  against a plain pool of workers and a semaphore-and-gather doing the same calls.
"""

from __future__ import annotations

import asyncio
import sys
import time
import timeit
from typing import Any

import anyio
import orjson

from aiodataops._accepted import Accepted, utc_now
from aiodataops._clock import SystemClock
from aiodataops._models import Service, ServiceUpdate
from aiodataops._polling import PollPolicy
from aiodataops._wire import parse_datetime, structure
from aiodataops.emulator import Emulator
from aiodataops.fleet import Fleet


def _body() -> dict[str, Any]:
    emu = Emulator(services=1)
    return emu.service_body(emu.service_ids()[0])


def reads() -> list[tuple[str, float]]:
    raw = orjson.dumps(_body())

    def per_call(fn: Any, n: int = 20_000) -> float:
        return 1e6 * min(timeit.repeat(fn, number=n, repeat=5)) / n

    def light() -> tuple[str, Any]:
        data = orjson.loads(raw)
        return data["state"], parse_datetime(data["modified_dt"])

    return [
        (f"orjson.loads of one service ({len(raw):,} bytes)", per_call(lambda: orjson.loads(raw))),
        ("orjson.loads + structure(.., Service)", per_call(lambda: structure(orjson.loads(raw), Service, raw=raw))),
        ("orjson.loads + state + parse_datetime(modified_dt)", per_call(light)),
    ]


class _Services:
    def __init__(self, answer: Service) -> None:
        self.answer = answer

    async def get(self, _: str) -> Service:
        await asyncio.sleep(0)
        return self.answer

    async def update(self, _: str, __: ServiceUpdate, **___: Any) -> Service:
        await asyncio.sleep(0)
        return self.answer

    async def put(self, sid: str, __: ServiceUpdate, **___: Any) -> Accepted[Service]:
        await asyncio.sleep(0)
        return Accepted(sid, "service", self.answer, utc_now())

    async def wait_accepted(self, _: Accepted[Service], **__: Any) -> Service:
        await asyncio.sleep(0)
        return self.answer

    def list(self, **_: Any) -> Any:
        raise NotImplementedError

    async def wait_settled(self, _: str, **__: Any) -> Service:
        await asyncio.sleep(0)
        return self.answer


class _Client:
    def __init__(self, services: _Services) -> None:
        self.services = services
        self.data_ops = None
        self.clock = SystemClock()
        self.poll_policy = PollPolicy()


def engine(n: int = 20_000, concurrency: int = 64) -> list[tuple[str, float]]:
    body = _body()
    body["state"] = "UPDATING"
    services = _Services(structure(body, Service))
    update = ServiceUpdate(description="micro")
    pairs = [(f"DOPS_SERVICE-{i:08d}", update) for i in range(n)]

    async def fleet() -> None:
        # The report stays inside: a big result of asyncio.run is repr()-ed at exit on Python 3.11.
        await Fleet(_Client(services)).apply(pairs, concurrency=concurrency)  # type: ignore[arg-type]

    async def workers() -> None:
        shared = iter(pairs)

        async def work() -> None:
            for sid, change in shared:
                accepted = await services.update(sid, change)
                await services.wait_settled(sid, after=accepted)

        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(work)

    async def gather() -> None:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(sid: str, change: ServiceUpdate) -> None:
            async with semaphore:
                accepted = await services.update(sid, change)
                await services.wait_settled(sid, after=accepted)

        await asyncio.gather(*(one(*pair) for pair in pairs))

    best: dict[str, float] = {}
    for _ in range(3):
        for name, fn in (("plain worker pool", workers), ("semaphore + gather", gather), ("fleet.apply", fleet)):
            started = time.process_time()
            asyncio.run(fn())
            best[name] = min(best.get(name, 1e9), 1e6 * (time.process_time() - started) / n)
    return [(f"{name}, {n:,} targets, concurrency {concurrency}: per target", us) for name, us in best.items()]


def main() -> int:
    print("| measurement | µs |\n|---|---:|")
    for name, us in [*reads(), *engine()]:
        print(f"| {name} | {us:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
