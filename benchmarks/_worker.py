"""One benchmark point in a fresh process: update N services and poll each until RUNNING, then print JSON.

``python benchmarks/_worker.py --scenario raw|sync|sdk|sdk-wait|cli|capacity --base-url URL --control-url URL
--services N --concurrency C [--policy FIRST,GROWTH,MAX,MIN] [--tag TEXT] [--detect]`` (``--policy`` defaults to
the SDK's own ``PollPolicy()`` scaled by 1/10).

Every scenario does the same work against the same emulator: a GET and one PUT (``{"description": TAG}``) per
service, then GETs with the same backoff until a read at least as new as the 202 says RUNNING.

- ``raw``: hand-written aiohttp, signed with ``aiodataops._signing``, an ``asyncio.Semaphore`` and a ``gather``
  (one task per service): the client-side limit.
- ``sync``: ``http.client`` with keep-alive in a thread pool of ``--threads`` (default 10): a synchronous SDK, or
  Terraform's default parallelism.
- ``sdk``: ``DataOpsClient`` + ``client.fleet.apply(pairs, concurrency=C)``.
- ``sdk-wait``: ``DataOpsClient`` + ``client.services.update_and_wait`` under a semaphore and a gather, shaped like
  ``raw``: the client and waiting layers without the fleet engine.
- ``cli``: the ``aiodataops fleet apply`` command, run in this process through ``aiodataops.cli.main`` (a JSON
  plan of the ids, ``--yes``, a journal, plain progress lines to standard error): plan parsing, the journal,
  progress and the summary included.
- ``capacity``: GET services as fast as C connections allow for ``--seconds``: the emulator's capacity.

``raw`` and ``sync`` read each service before its PUT, as ``fleet.apply`` converges (``sdk-wait`` does not: it is
compared per request). ``--auto`` runs ``sdk`` and ``cli`` with ``concurrency="auto"``; ``--journal`` gives
``sdk`` a journal.

The credentials come from ``BENCH_ACCESS_KEY`` / ``BENCH_SECRET_KEY`` (the emulator's throwaway test pair).
The JSON holds wall and CPU seconds of the measured part only (imports and the id fetch are outside), the peak
RSS of the process and its RSS before the run, the most tasks (or threads) seen at once, the outcome counts and,
with ``--detect``, the ``time.monotonic()`` instant each service's settle was detected.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiodataops._signing import Credentials, now_ms, signed_headers

SETTLED = frozenset({"RUNNING", "ACTIVE"})
FAILED = frozenset({"ERROR", "FAILED"})


class Policy:
    """The poll backoff every scenario uses: the numbers of ``PollPolicy`` (full jitter between min and ceiling)."""

    def __init__(self, first: float, growth: float, top: float, floor: float, *, jitter: bool = True) -> None:
        self.first, self.growth, self.top, self.floor, self.jitter = first, growth, top, floor, jitter

    def delay(self, n: int, rng: random.Random) -> float:
        ceiling = min(self.top, self.first * self.growth ** min(n, 200))
        if not self.jitter:
            return ceiling
        return rng.uniform(min(self.floor, ceiling), ceiling)


def _rss_now_kb() -> int:
    try:
        with Path("/proc/self/statm").open() as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return 0


def _peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class TaskCounter:
    """Counts live asyncio tasks through a task factory: exact, and O(1) per task (sampling ``all_tasks()`` walks
    every task, which cost the one-task-per-service scenarios up to 15% of their CPU at 10,000 services)."""

    def __init__(self) -> None:
        self.live = 0
        self.peak = 0

    def _done(self, _: object) -> None:
        self.live -= 1

    def install(self) -> None:
        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            task = asyncio.Task(coro, loop=loop, **kwargs)
            self.live += 1
            self.peak = max(self.peak, self.live)
            task.add_done_callback(self._done)
            return task

        asyncio.get_running_loop().set_task_factory(factory)


class ThreadSampler:
    """Samples ``threading.active_count()`` from a daemon thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            # Not counting the sampler itself.
            self.peak = max(self.peak, threading.active_count() - 1)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# -- scenarios ----------------------------------------------------------------------------------------------------


async def run_raw(
    ids: list[str], args: argparse.Namespace, creds: Credentials, detected: dict[str, float]
) -> dict[str, Any]:
    import aiohttp  # noqa: PLC0415 -- each scenario imports only what it uses, so RSS is its own
    import orjson  # noqa: PLC0415 -- see above

    policy: Policy = args.policy_obj
    rng = random.Random(args.seed)
    body = orjson.dumps({"description": args.tag})
    base = args.base_url
    failures: list[str] = []
    polls = 0

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
        semaphore = asyncio.Semaphore(args.concurrency)

        async def one(sid: str) -> None:
            nonlocal polls
            url = f"{base}/v1/data-ops-services/{sid}"
            async with semaphore:
                # Read first, as fleet.apply converges: a service that already holds the update is not sent it.
                async with session.get(url, headers=signed_headers("GET", url, now_ms(), creds)) as response:
                    raw = await response.read()
                    if response.status != 200:
                        failures.append(f"GET {response.status}")
                        return
                if orjson.loads(raw).get("description") == args.tag:
                    return
                headers = signed_headers("PUT", url, now_ms(), creds)
                headers["Content-Type"] = "application/json"
                async with session.put(url, data=body, headers=headers) as response:
                    raw = await response.read()
                    if response.status != 202:
                        failures.append(f"PUT {response.status}")
                        return
                floor = orjson.loads(raw)["modified_dt"]
                n = 0
                while True:
                    await asyncio.sleep(policy.delay(n, rng))
                    n += 1
                    async with session.get(url, headers=signed_headers("GET", url, now_ms(), creds)) as response:
                        raw = await response.read()
                        status = response.status
                    polls += 1
                    if status != 200:
                        failures.append(f"GET {status}")
                        return
                    read = orjson.loads(raw)
                    # Same-format ISO-8601 stamps compare as strings: a read older than the 202 never counts.
                    if read["modified_dt"] < floor:
                        continue
                    state = read["state"].upper()
                    if state in SETTLED:
                        detected[sid] = time.monotonic()
                        return
                    if state in FAILED:
                        failures.append(state)
                        return

        await asyncio.gather(*(one(sid) for sid in ids))
    return {"ok": len(ids) - len(failures), "failed": len(failures), "failures": failures[:5], "polls": polls}


def run_sync(
    ids: list[str], args: argparse.Namespace, creds: Credentials, detected: dict[str, float]
) -> dict[str, Any]:
    policy: Policy = args.policy_obj
    parts = urllib.parse.urlsplit(args.base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps({"description": args.tag}).encode()
    local = threading.local()
    failures: list[str] = []
    polls = [0]
    lock = threading.Lock()

    def request(method: str, url: str, payload: bytes | None) -> tuple[int, bytes]:
        headers = signed_headers(method, url, now_ms(), creds)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        path = url[len(args.base_url) :]
        for attempt in range(2):
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(host, port, timeout=60)
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def one(sid: str) -> None:
        rng = random.Random(f"{args.seed}-{sid}")
        url = f"{args.base_url}/v1/data-ops-services/{sid}"
        status, raw = request("GET", url, None)
        if status != 200:
            with lock:
                failures.append(f"GET {status}")
            return
        if json.loads(raw).get("description") == args.tag:
            return
        status, raw = request("PUT", url, body)
        if status != 202:
            with lock:
                failures.append(f"PUT {status}")
            return
        floor = json.loads(raw)["modified_dt"]
        n = 0
        while True:
            time.sleep(policy.delay(n, rng))
            n += 1
            status, raw = request("GET", url, None)
            with lock:
                polls[0] += 1
            if status != 200:
                with lock:
                    failures.append(f"GET {status}")
                return
            read = json.loads(raw)
            if read["modified_dt"] < floor:
                continue
            state = read["state"].upper()
            if state in SETTLED:
                detected[sid] = time.monotonic()
                return
            if state in FAILED:
                with lock:
                    failures.append(state)
                return

    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for future in [pool.submit(one, sid) for sid in ids]:
            future.result()
    return {"ok": len(ids) - len(failures), "failed": len(failures), "failures": failures[:5], "polls": polls[0]}


def _sdk_policy(args: argparse.Namespace) -> Any:
    from aiodataops._polling import PollPolicy  # noqa: PLC0415 -- each scenario imports only what it uses

    p: Policy = args.policy_obj
    return PollPolicy(
        first_delay=p.first, growth=p.growth, max_delay=p.top, min_delay=p.floor, jitter=p.jitter, deadline=600.0
    )


async def run_sdk(
    ids: list[str], args: argparse.Namespace, creds: Credentials, detected: dict[str, float]
) -> dict[str, Any]:
    from aiodataops._client import DataOpsClient  # noqa: PLC0415 -- each scenario imports only what it uses
    from aiodataops._models import ServiceUpdate  # noqa: PLC0415 -- see above
    from aiodataops.fleet import Outcome, TargetEnded  # noqa: PLC0415 -- see above

    update = ServiceUpdate(description=args.tag)

    def on_event(event: object) -> None:
        if isinstance(event, TargetEnded) and event.outcome is Outcome.SUCCEEDED:
            detected[event.service_id] = time.monotonic()

    # concurrency="auto": the connection pool sized as the command sizes it (``cli/_fleet.py``), the limit adaptive.
    pool = max(32, args.max_concurrency) if args.auto else args.concurrency
    policy = _sdk_policy(args)
    async with DataOpsClient(endpoint=args.base_url, credentials=creds, concurrency=pool, poll=policy) as client:
        report = await client.fleet.apply(
            [(sid, update) for sid in ids],
            concurrency="auto" if args.auto else args.concurrency,
            max_concurrency=args.max_concurrency,
            journal=str(Path(args.workdir) / "run.jsonl") if args.journal else None,
            on_event=on_event if args.detect else None,
        )
    failed = [item for item in report.items if item.outcome is not Outcome.SUCCEEDED]
    return {
        "ok": len(report.items) - len(failed),
        "failed": len(failed),
        "failures": [f"{item.outcome}: {item.error}" for item in failed[:5]],
        "polls": sum(item.polls for item in report.items),
    }


async def run_sdk_wait(
    ids: list[str], args: argparse.Namespace, creds: Credentials, detected: dict[str, float]
) -> dict[str, Any]:
    from aiodataops._client import DataOpsClient  # noqa: PLC0415 -- each scenario imports only what it uses
    from aiodataops._errors import DataOpsError  # noqa: PLC0415 -- see above
    from aiodataops._models import ServiceUpdate  # noqa: PLC0415 -- see above

    update = ServiceUpdate(description=args.tag)
    failures: list[str] = []
    async with DataOpsClient(
        endpoint=args.base_url, credentials=creds, concurrency=args.concurrency, poll=_sdk_policy(args)
    ) as client:
        semaphore = asyncio.Semaphore(args.concurrency)

        async def one(sid: str) -> None:
            async with semaphore:
                try:
                    await client.services.update_and_wait(sid, update)
                except DataOpsError as exc:
                    failures.append(type(exc).__name__)
                    return
                detected[sid] = time.monotonic()

        await asyncio.gather(*(one(sid) for sid in ids))
    return {"ok": len(ids) - len(failures), "failed": len(failures), "failures": failures[:5], "polls": None}


def prepare_cli(ids: list[str], args: argparse.Namespace, creds: Credentials) -> list[str]:
    """The command line of ``aiodataops fleet apply`` for these services, its plan written; set-up, not measured.

    The command has no poll flag: its client is given the run's (scaled) poll policy through ``client_from_args``,
    the one thing patched, so that it polls as the other scenarios do.
    """
    # Imported here, outside the measured part, as the other scenarios' imports are.
    from aiodataops.cli import _fleet  # noqa: PLC0415 -- each scenario imports only what it uses

    policy = _sdk_policy(args)
    original = _fleet.client_from_args

    def with_policy(parsed: argparse.Namespace, **options: Any) -> Any:
        return original(parsed, poll=policy, **options)

    _fleet.client_from_args = with_policy  # type: ignore[assignment]
    work = Path(args.workdir)
    plan = work / "plan.json"
    plan.write_text(json.dumps({"update": {"description": args.tag}, "targets": ids}))
    os.environ["SCP_ACCESS_KEY"] = creds.access_key
    os.environ["SCP_SECRET_KEY"] = creds.secret_key
    argv = ["fleet", "apply", str(plan), "--endpoint", args.base_url, "--yes", "--journal", str(work / "run.jsonl")]
    argv += ["--max-concurrency", str(args.max_concurrency)]
    argv += ["--concurrency", "auto" if args.auto else str(args.concurrency)]
    return argv


def run_cli(
    ids: list[str], args: argparse.Namespace, _creds: Credentials, _detected: dict[str, float]
) -> dict[str, Any]:
    from aiodataops.cli import main as cli_main  # noqa: PLC0415 -- imported by prepare_cli already

    status = cli_main(args.cli_argv)
    # The summary went to stdout before this worker's JSON line, which run.py takes from the last line.
    sys.stdout.flush()
    failed = 0 if status == 0 else len(ids)
    return {"ok": len(ids) - failed, "failed": failed, "failures": [f"exit {status}"] if failed else [], "polls": None}


async def run_capacity(
    ids: list[str], args: argparse.Namespace, creds: Credentials, _detected: dict[str, float]
) -> dict[str, Any]:
    import aiohttp  # noqa: PLC0415 -- each scenario imports only what it uses

    base = args.base_url
    deadline = time.monotonic() + args.seconds
    done = 0
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:

        async def hammer(k: int) -> None:
            nonlocal done, errors
            i = k
            # Bounded twice: by the deadline and by a hard count.
            while time.monotonic() < deadline and i < 10_000_000:
                url = f"{base}/v1/data-ops-services/{ids[i % len(ids)]}"
                async with session.get(url, headers=signed_headers("GET", url, now_ms(), creds)) as response:
                    await response.read()
                    if response.status == 200:
                        done += 1
                    else:
                        errors += 1
                i += args.concurrency

        await asyncio.gather(*(hammer(k) for k in range(args.concurrency)))
    return {"ok": done, "failed": errors, "failures": [], "polls": None}


AsyncScenario = Callable[[list[str], argparse.Namespace, Credentials, dict[str, float]], Awaitable[dict[str, Any]]]

SCENARIOS: dict[str, Any] = {
    "raw": run_raw,
    "sync": run_sync,
    "sdk": run_sdk,
    "sdk-wait": run_sdk_wait,
    "capacity": run_capacity,
    "cli": run_cli,
}
#: Scenarios run without an event loop of the worker's own (the thread pool; the command, which runs its own).
SYNC_SCENARIOS = frozenset({"sync", "cli"})


def _fetch_ids(control_url: str, n: int) -> list[str]:
    with urllib.request.urlopen(f"{control_url}/ids?n={n}", timeout=30) as response:
        ids: list[str] = json.loads(response.read())
    if len(ids) < n:
        raise SystemExit(f"the emulator has {len(ids)} services, {n} asked")
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--control-url", required=True)
    parser.add_argument("--services", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--policy", default=None, help="FIRST,GROWTH,MAX,MIN seconds (default: PollPolicy() / 10)")
    parser.add_argument("--fixed", action="store_true", help="no jitter: wait exactly the ceiling")
    parser.add_argument("--tag", default="bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=3.0, help="capacity: how long to hammer")
    parser.add_argument("--detect", action="store_true", help="report each service's detection instant")
    parser.add_argument("--profile", default=None, help="write a pyinstrument HTML profile of the run here")
    parser.add_argument("--auto", action="store_true", help="sdk, cli: concurrency auto (the adaptive limit)")
    parser.add_argument("--max-concurrency", type=int, default=256, help="sdk, cli: the cap of concurrency auto")
    parser.add_argument("--journal", action="store_true", help="sdk: keep a journal, as the command always does")
    args = parser.parse_args()
    if args.policy is None:
        from aiodataops._polling import PollPolicy  # noqa: PLC0415 -- only when no policy is given

        d = PollPolicy()
        args.policy = f"{d.first_delay / 10},{d.growth},{d.max_delay / 10},{d.min_delay / 10}"
    first, growth, top, floor = (float(x) for x in args.policy.split(","))
    args.policy_obj = Policy(first, growth, top, floor, jitter=not args.fixed)
    creds = Credentials(os.environ["BENCH_ACCESS_KEY"], os.environ["BENCH_SECRET_KEY"])
    ids = _fetch_ids(args.control_url, args.services)
    workdir = tempfile.TemporaryDirectory()
    args.workdir = workdir.name
    if args.scenario == "cli":
        args.cli_argv = prepare_cli(ids, args, creds)
    detected: dict[str, float] = {}
    scenario = SCENARIOS[args.scenario]

    profiler = None
    if args.profile:
        from pyinstrument import Profiler  # noqa: PLC0415 -- optional, only when profiling

        profiler = Profiler(async_mode="disabled")

    rss_before = _rss_now_kb()
    times0, cpu0, wall0 = os.times(), time.process_time(), time.perf_counter()
    if profiler:
        profiler.start()
    if args.scenario in SYNC_SCENARIOS:
        sampler = ThreadSampler()
        sampler.start()
        result = SCENARIOS[args.scenario](ids, args, creds, detected)
        sampler.stop()
        peak_units = sampler.peak
    else:
        tasks = TaskCounter()

        async def measured() -> dict[str, Any]:
            tasks.install()
            # The task running this coroutine was made before the factory: count it by hand.
            tasks.live = tasks.peak = 1
            run_async: AsyncScenario = scenario
            return await run_async(ids, args, creds, detected)

        result = asyncio.run(measured())
        peak_units = tasks.peak
    wall, cpu, times1 = time.perf_counter() - wall0, time.process_time() - cpu0, os.times()
    if profiler:
        profiler.stop()
        Path(args.profile).write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False), file=sys.stderr)
    out = {
        "scenario": args.scenario,
        "services": args.services,
        "concurrency": args.concurrency if args.scenario != "sync" else args.threads,
        "wall": wall,
        "cpu": cpu,
        "cpu_user": times1.user - times0.user,
        "cpu_sys": times1.system - times0.system,
        # The whole process, start-up and imports included: what a user's shell would see the command cost.
        "cpu_process": times1.user + times1.system,
        "rss_before_kb": rss_before,
        "rss_peak_kb": _peak_rss_kb(),
        "peak_tasks": peak_units,
        **result,
    }
    if args.detect:
        out["detected"] = detected
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
