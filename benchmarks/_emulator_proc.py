"""Serve one emulator in its own process for the benchmarks, with a small unsigned control port beside it.

``run.py`` starts this script, reads the one JSON line it prints (base URL, control URL, the emulator's throwaway
test key pair) and stops it with SIGTERM. The control port (loopback only) answers:

- ``GET /ids?n=N``: the first N service ids, so workers do not spend measured time listing;
- ``GET /stats``: requests answered (total and by operation and status), the peak of requests in flight, this
  process's CPU seconds and peak RSS;
- ``POST /reset``: clear the counters;
- ``POST /config``: ``{"update_duration": [min, max]}`` changes how long the next updates take, ``{"rate_limit":
  R, "rate_burst": B}`` the rate limit per key (``Emulator.reconfigure``);
- ``GET /settled``: ``{service_id: t}`` for every service updated since the reset, the ``time.monotonic()``
  instant its latest accepted update truly settles (``Emulator.settles_at``).

Both processes read the same system-wide CLOCK_MONOTONIC (Linux), so a worker's detection instant minus the settle
instant is the poll overshoot, free of any network or scheduling guess.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import sys
import time

from aiohttp import web

from aiodataops.emulator import Emulator, EmulatorConfig, Latency


def _pair(text: str) -> tuple[float, float]:
    parts = [float(p) for p in text.split(",")]
    return (parts[0], parts[-1])


def _control_app(emu: Emulator) -> web.Application:
    async def ids(request: web.Request) -> web.Response:
        n = int(request.query.get("n", "0")) or None
        return web.json_response(emu.service_ids()[:n])

    async def stats(_: web.Request) -> web.Response:
        counters = emu.counters
        by_op: dict[str, dict[str, int]] = {}
        for (operation, status), count in counters.requests.items():
            by_op.setdefault(operation, {})[str(status)] = count
        return web.json_response(
            {
                "requests": sum(counters.requests.values()),
                "by_op": by_op,
                "max_in_flight": counters.max_in_flight,
                "cpu": time.process_time(),
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "now": time.monotonic(),
            }
        )

    async def reset(_: web.Request) -> web.Response:
        emu.counters.reset()
        return web.json_response({"ok": True})

    async def config(request: web.Request) -> web.Response:
        data = await request.json()
        if "update_duration" in data:
            low, high = (float(v) for v in data["update_duration"])
            emu.reconfigure(update_duration=(low, high))
        if "rate_limit" in data:
            emu.reconfigure(rate_limit=data["rate_limit"], rate_burst=data.get("rate_burst"))
        return web.json_response({"ok": True})

    async def settle_times(_: web.Request) -> web.Response:
        # Every service updated since the last reset: the instant its latest accepted change ends.
        return web.json_response({sid: emu.settles_at(sid) for sid in emu.counters.accepted_puts_per_service})

    app = web.Application()
    app.router.add_get("/ids", ids)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    app.router.add_post("/config", config)
    app.router.add_get("/settled", settle_times)
    return app


async def _serve(args: argparse.Namespace) -> None:
    latency = Latency.uniform(*args.latency) if args.latency else None
    config = EmulatorConfig(
        data_ops=args.data_ops,
        services=args.services,
        seed=args.seed,
        update_duration=args.update,
        stale_read_seconds=args.stale,
        latency=latency,
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        latency_per_in_flight=args.latency_per_in_flight,
        # The request log is not read here; keeping it small keeps the emulator's memory flat.
        log_limit=1000,
    )
    emu = Emulator(config)
    async with emu:
        runner = web.AppRunner(_control_app(emu), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(
            json.dumps(
                {
                    "base_url": emu.base_url,
                    "control_url": f"http://127.0.0.1:{port}",
                    # The emulator's own throwaway test key pair (DEFAULT_CREDENTIALS): it signs nothing anywhere else.
                    "access_key": emu.credentials.access_key,
                    "secret_key": emu.credentials.secret_key,
                    "services": len(emu.store.services),
                }
            ),
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # A bounded life: an orphaned emulator ends by itself.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.max_seconds)
        await runner.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--data-ops", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--update", type=_pair, default=(0.1, 0.1), metavar="MIN,MAX", help="seconds an update stays UPDATING"
    )
    parser.add_argument("--stale", type=float, default=0.0, help="stale-read window after a 202, seconds")
    parser.add_argument(
        "--latency",
        type=_pair,
        default=None,
        metavar="MIN,MAX",
        help="added latency on every operation, seconds (uniform)",
    )
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second per key (429 beyond)")
    parser.add_argument("--rate-burst", type=float, default=None, help="the rate limit's bucket size")
    parser.add_argument(
        "--latency-per-in-flight",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="added latency per other request in flight at the server (latency that grows with load)",
    )
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="stop by itself after this long")
    args = parser.parse_args()
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
