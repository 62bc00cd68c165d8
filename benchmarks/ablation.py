"""Where the SDK's CPU per request goes: raw aiohttp with the SDK's pieces added one at a time.

``.venv/bin/python benchmarks/ablation.py [--services N] [--concurrency C] [--repeats K]``

Each variant does the ``raw`` scenario's work (PUT one update per service, then GET until RUNNING, settle time 0,
so one GET per service) in one fresh process, against an emulator in another, and reports CPU microseconds per
request (best of K interleaved runs). The variants add, cumulatively:

1. ``raw``: aiohttp with default timeouts, headers signed by hand, ``orjson.loads`` of each answer;
2. ``+timeouts``: the SDK's ``ClientTimeout`` (total, connect, sock_connect, sock_read);
3. ``+middleware``: signing in an aiohttp client middleware, static headers on the session (the SDK's transport);
4. ``+models``: each answer structured into the ``Service`` model through the one cattrs converter;
5. ``transport``: the SDK's own ``Transport.request`` + ``structure`` (everything the resources do, minus waiting);
6. ``sdk-wait`` and ``sdk``: the whole SDK (``update_and_wait``; ``fleet.apply``), as in ``run.py``.

``--settle S`` gives every update a settle time (so several polls per service) instead of none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

VARIANTS = ("raw", "+timeouts", "+middleware", "+models", "transport")
WHOLE = ("sdk-wait", "sdk")


async def _variant(name: str, base: str, ids: list[str], concurrency: int) -> None:
    import aiohttp  # noqa: PLC0415 -- loaded in the child only
    import orjson  # noqa: PLC0415 -- see above

    from aiodataops._models import Service  # noqa: PLC0415 -- see above
    from aiodataops._signing import CLIENT_TYPE, Credentials, now_ms, sign, signed_headers  # noqa: PLC0415
    from aiodataops._timeouts import Timeouts  # noqa: PLC0415 -- see above
    from aiodataops._wire import structure  # noqa: PLC0415 -- see above

    creds = Credentials(os.environ["BENCH_ACCESS_KEY"], os.environ["BENCH_SECRET_KEY"])
    level = VARIANTS.index(name)
    body = orjson.dumps({"description": f"ablation-{name}-{time.time()}"})
    semaphore = asyncio.Semaphore(concurrency)

    if name == "transport":
        from aiodataops._transport import Transport  # noqa: PLC0415 -- see above

        async with Transport(base, creds, concurrency=concurrency) as transport:

            async def one_t(sid: str) -> None:
                async with semaphore:
                    path = f"/v1/data-ops-services/{sid}"
                    answer = await transport.request("PUT", path, body=body)
                    structure(answer.json(), Service, raw=answer.body)
                    while True:
                        await asyncio.sleep(0.005)
                        answer = await transport.request("GET", path)
                        read: Service = structure(answer.json(), Service, raw=answer.body)
                        if read.state == "RUNNING":
                            return

            await asyncio.gather(*(one_t(s) for s in ids))
        return

    async def signer(request: Any, handler: Any) -> Any:
        ts = now_ms()
        request.headers["Scp-Timestamp"] = str(ts)
        request.headers["Scp-Signature"] = sign(request.method, str(request.url), ts, creds)
        return await handler(request)

    kwargs: dict[str, Any] = {"connector": aiohttp.TCPConnector(limit=concurrency)}
    if level >= 1:
        kwargs["timeout"] = Timeouts().to_aiohttp()
    if level >= 2:
        kwargs["middlewares"] = (signer,)
        kwargs["headers"] = {
            "Accept": "application/json",
            "Accept-Language": "en-US",
            "Scp-Accesskey": creds.access_key,
            "Scp-ClientType": CLIENT_TYPE,
            "Scp-Api-Version": "data-ops 1.1",
        }
        kwargs["cookie_jar"] = aiohttp.DummyCookieJar()
    async with aiohttp.ClientSession(**kwargs) as session:

        def headers(method: str, url: str) -> dict[str, str] | None:
            return None if level >= 2 else signed_headers(method, url, now_ms(), creds)

        async def one(sid: str) -> None:
            url = f"{base}/v1/data-ops-services/{sid}"
            async with semaphore:
                h = headers("PUT", url) or {}
                async with session.put(url, data=body, headers={**h, "Content-Type": "application/json"}) as r:
                    raw = await r.read()
                data = orjson.loads(raw)
                if level >= 3:
                    structure(data, Service, raw=raw)
                while True:
                    await asyncio.sleep(0.005)
                    async with session.get(url, headers=headers("GET", url)) as r:
                        raw = await r.read()
                    data = orjson.loads(raw)
                    state = structure(data, Service, raw=raw).state if level >= 3 else data["state"]
                    if state == "RUNNING":
                        return

        await asyncio.gather(*(one(s) for s in ids))


def child(args: argparse.Namespace) -> int:
    import urllib.request  # noqa: PLC0415 -- child only

    with urllib.request.urlopen(f"{args.control_url}/ids?n={args.services}", timeout=30) as response:
        ids = json.loads(response.read())
    times0, wall0 = os.times(), time.perf_counter()
    asyncio.run(_variant(args.child, args.base_url, ids, args.concurrency))
    times1 = os.times()
    print(
        json.dumps(
            {
                "user": times1.user - times0.user,
                "sys": times1.system - times0.system,
                "wall": time.perf_counter() - wall0,
            }
        )
    )
    return 0


def main() -> int:
    import run  # noqa: PLC0415 -- the parent reuses the harness

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--settle", type=float, default=0.0, help="seconds each update takes (0: one poll)")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=(*VARIANTS, *WHOLE),
        default=[*VARIANTS, *WHOLE],
        help="run only these variants (raw is always run: it is the reference)",
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--control-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    best: dict[str, tuple[float, float]] = {}
    with run.EmulatorProcess(services=args.services, update=args.settle) as emu:
        for _ in range(args.repeats):
            for name in dict.fromkeys(["raw", *args.variants]):
                emu.control("/reset", {})
                if name in VARIANTS:
                    done = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            name,
                            "--base-url",
                            emu.base_url,
                            "--control-url",
                            emu.info["control_url"],
                            "--services",
                            str(args.services),
                            "--concurrency",
                            str(args.concurrency),
                        ],
                        env=emu.env(),
                        capture_output=True,
                        timeout=600,
                        check=True,
                    )
                    child_times = json.loads(done.stdout)
                    user, system = child_times["user"], child_times["sys"]
                    requests = emu.control("/stats")["requests"]
                else:
                    r = run.run_point(
                        emu, name, args.services, args.concurrency, policy="0.005,1,0.005,0.005", fixed=True
                    )
                    user, system, requests = r["cpu_user"], r["cpu_sys"], r["emu_requests"]
                us = (1e6 * user / max(1, requests), 1e6 * system / max(1, requests))
                # Best by user time: the Python work; system time is the kernel's loopback TCP, shared by all.
                best[name] = min(best.get(name, us), us)
                print(
                    f"  {name:12} user {us[0]:4.0f} + sys {us[1]:4.0f} µs/request ({requests} requests)",
                    file=sys.stderr,
                )
    raw_user = best["raw"][0]
    print(
        f"CPU per request, best of {args.repeats} by user time, {args.services} services, "
        f"concurrency {args.concurrency}, settle {args.settle} s, a poll every 5 ms:\n"
    )
    rows = []
    previous = None
    for name, (user, system) in best.items():
        step = f"{user - previous:+.0f} µs" if previous is not None else ""
        rows.append([name, user, system, user + system, f"{user / raw_user:.2f}x", step])
        previous = user
    print(run.table(["variant", "user µs/request", "sys µs/request", "total", "user vs raw", "user step"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
