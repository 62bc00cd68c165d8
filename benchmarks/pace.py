"""Adaptive pace (issue 13): fixed concurrency vs ``auto``, today's polling vs learned, under a rate limit not told.

``./dev bench [--quick|--full] --only pace`` (its ``pace`` section), or ``.venv/bin/python benchmarks/pace.py
[--quick|--full]``. The emulator runs in its own
process (``_emulator_proc.py``) with a rate limit per key (``--rate-limit``, a token bucket, 429 with
``Retry-After`` beyond), 50 ms of latency and settles of a few seconds; the client (this process) is never told the
limit. Each scenario updates the same services once through ``fleet.apply``, with the default ``PollPolicy`` scaled
by 1/10 as ``run.py`` does (a 3 s settle here stands for 30 s).

Figures per scenario: wall time; the bound (the requests the scenario needed, i.e. answered without a 429, over the
server's rate, less the bucket's burst, or the slowest settle if longer: no client can finish that work sooner);
wall / bound; the share of requests throttled; polls per service; the mean and p95 overshoot past the true settle
instant (both processes read CLOCK_MONOTONIC); client CPU per request; and, for ``auto``, the mean and peak of the
adaptive limit. A second server rate runs ``auto`` again, unchanged, to show that it follows another limit. The
``model`` table replays ``PollPolicy`` and the learned schedule at real settle times (10 s to 10 min, +-10%) without
any server.

A third scenario (``--full``, or ``--load``) has no rate limit but latency that grows with load: each request waits
``LOAD_LATENCY`` more for every other request in flight at the server (``--latency-per-in-flight``), as a server near
saturation answers slower. Its bound is the requests needed times that per-request cost (the server's throughput
as in-flight grows without end), or the slowest settle. ``--services``, ``--only`` and ``--polling`` narrow a run
(the 400-service spot check: ``--full --only auto,256 --polling learned``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import EmulatorProcess, machine, table

from aiodataops import DataOpsClient, PollPolicy, ServiceUpdate
from aiodataops._signing import Credentials
from aiodataops.fleet import FleetEvent, TargetEnded
from aiodataops.fleet._learned_polling import LearnedPollPolicy, SettleTimes

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SCALE = 0.1
LATENCY = 0.05
#: ``--limiter name=value,...``: attributes set on the adaptive limiter of every ``auto`` run (ablations).
TUNING: dict[str, float] = {}
#: ``--max-concurrency N``: the cap of ``auto`` (and the pool) instead of the default 256.
MAX_CONCURRENCY: int | None = None
#: Added latency per other request in flight at the server, in the latency-grows-with-load scenario.
LOAD_LATENCY = 0.002

MODES: dict[str, dict[str, Any]] = {
    "quick": {
        "services": 150,
        "rate": 200.0,
        "settle": (2.0, 4.0),
        "concurrencies": [16, 64, 256, "auto"],
        "second_rate": 50.0,
        "second_services": 60,
        "load_services": 0,
        "model_runs": 300,
    },
    "full": {
        "services": 400,
        "rate": 200.0,
        "settle": (2.0, 4.0),
        "concurrencies": [10, 16, 64, 256, "auto"],
        "second_rate": 50.0,
        "second_services": 150,
        "load_services": 150,
        "model_runs": 2000,
    },
}


def scaled(policy: PollPolicy, scale: float) -> PollPolicy:
    return PollPolicy(
        first_delay=policy.first_delay * scale,
        growth=policy.growth,
        max_delay=policy.max_delay * scale,
        min_delay=policy.min_delay * scale,
        deadline=policy.deadline,
    )


async def one_run(
    emu: EmulatorProcess,
    ids: list[str],
    concurrency: int | str,
    *,
    learned: bool,
    rate: float,
    tag: str,
    settle_high: float,
    per_request: float | None = None,
) -> dict[str, Any]:
    """One fleet run; returns its figures (``per_request``: the bound's seconds per request, else 1 / ``rate``)."""
    emu.control("/reset", {})
    await anyio.sleep(1.0)  # the token bucket refills between scenarios
    ended: dict[str, float] = {}

    def note(event: FleetEvent) -> None:
        if isinstance(event, TargetEnded):
            ended[event.item.data_ops_service_id] = time.monotonic()

    credentials = Credentials(emu.info["access_key"], emu.info["secret_key"])
    update = ServiceUpdate(description=f"pace {tag}")
    cpu0 = time.process_time()
    trace: list[tuple[float, int, int, int]] = []
    answers: list[tuple[float, bool]] = []  # (when, throttled) of every attempt's end, for the timeline
    pool = max(256, MAX_CONCURRENCY or 0)
    async with DataOpsClient(emu.base_url, credentials, concurrency=pool, poll=scaled(PollPolicy(), SCALE)) as client:
        t0 = time.monotonic()
        if concurrency == "auto":
            traced = client.adaptive_limiter()
            for name, value in TUNING.items():  # --limiter: an ablation, never the default
                setattr(traced, name, type(getattr(traced, name))(value))
            traced.listeners.append(
                lambda: trace.append(
                    (round(time.monotonic() - t0, 3), traced.current, traced.in_flight, traced.waiting)
                )
            )
            succeeded, throttled_by_server = traced.succeeded, traced.throttled_by_server

            def on_success(permit: Any) -> None:
                answers.append((time.monotonic() - t0, False))
                succeeded(permit)

            def on_throttle(permit: Any, retry_after: float | None = None) -> None:
                answers.append((time.monotonic() - t0, True))
                throttled_by_server(permit, retry_after)

            traced.succeeded = on_success  # type: ignore[method-assign]
            traced.throttled_by_server = on_throttle  # type: ignore[method-assign]
        report = await client.fleet.apply(
            [(sid, update) for sid in ids],
            concurrency=concurrency,  # type: ignore[arg-type]
            learned_polling=learned,
            max_failures=None,
            **({"max_concurrency": MAX_CONCURRENCY} if MAX_CONCURRENCY else {}),  # type: ignore[arg-type]
            on_event=note,
        )
        wall = time.monotonic() - t0
        limiter = client.adaptive_limiter() if concurrency == "auto" else None
    cpu = time.process_time() - cpu0
    stats = emu.control("/stats")
    settled = emu.control("/settled")
    total = stats["requests"]
    throttled = sum(n for op in stats["by_op"].values() for status, n in op.items() if status == "429")
    gets = sum(stats["by_op"].get("get_service", {}).values())
    late = sorted(ended[sid] - settled[sid] for sid in ids if sid in ended and settled.get(sid) is not None)
    needed = total - throttled
    # No client finishes sooner than the server can answer the requests the work needed (past the bucket's burst
    # of one second's worth, full at the start), nor sooner than the slowest settle (plus a PUT and a poll).
    if per_request is None:
        bound = max((needed - rate) / rate, settle_high + 2 * LATENCY)
    else:
        bound = max(needed * per_request, settle_high + 2 * LATENCY)
    return {
        "concurrency": concurrency,
        "learned": learned,
        "rate": rate,
        "services": len(ids),
        "succeeded": report.counts["succeeded"],
        "wall": wall,
        "bound": bound,
        "requests": total,
        "throttled": throttled,
        "throttled_share": throttled / total if total else 0.0,
        "polls_per_service": gets / len(ids),
        "overshoot_mean": statistics.fmean(late) if late else None,
        "overshoot_p95": late[int(0.95 * (len(late) - 1))] if late else None,
        "cpu_us_per_request": cpu / total * 1e6 if total else None,
        "mean_limit": report.mean_concurrency,
        "peak_limit": limiter.peak_in_flight if limiter is not None else None,
        "peak_services": report.peak_in_flight,
        "cuts": limiter.cuts if limiter is not None else None,
        "limit_trace": trace,
        # Per 250 ms of the run: requests answered, and throttled.
        "timeline": [
            [
                sum(1 for t, th in answers if i / 4 <= t < (i + 1) / 4 and not th),
                sum(1 for t, th in answers if i / 4 <= t < (i + 1) / 4 and th),
            ]
            for i in range(int(4 * wall) + 1)
        ]
        if answers
        else [],
    }


def live_row(r: dict[str, Any]) -> list[Any]:
    return [
        f"{r['concurrency']}",
        "learned" if r["learned"] else "policy",
        f"{r['rate']:g}/s" if r["rate"] else f"+{LOAD_LATENCY * 1000:g} ms per in flight",
        f"{r['succeeded']}/{r['services']}",
        f"{r['wall']:.1f}",
        f"{r['bound']:.1f}",
        f"{r['wall'] / r['bound']:.2f}x" if r["bound"] else "-",
        f"{100 * r['throttled_share']:.1f}%",
        f"{r['polls_per_service']:.1f}",
        f"{r['overshoot_mean']:.2f}" if r["overshoot_mean"] is not None else "-",
        f"{r['overshoot_p95']:.2f}" if r["overshoot_p95"] is not None else "-",
        f"{r['cpu_us_per_request']:.0f}" if r["cpu_us_per_request"] else "-",
        f"{r['mean_limit']:.1f} / {r['peak_limit']}" if r["peak_limit"] is not None else "-",
    ]


LIVE_HEADERS = [
    "concurrency",
    "polling",
    "server rate",
    "ok",
    "wall s",
    "bound s",
    "wall/bound",
    "throttled",
    "polls/service",
    "overshoot mean s",
    "p95 s",
    "client CPU us/req",
    "auto limit mean / peak in flight",
]


def model(runs: int) -> list[list[Any]]:
    """Replay today's policy and the learned schedule (50 settles learned) at real settle times, +-10%."""
    policy = PollPolicy()
    rows = []
    rng = random.Random(13)
    for settle in (10.0, 60.0, 120.0, 600.0):
        settles = SettleTimes()
        for _ in range(50):
            settles.add(settle * rng.uniform(0.9, 1.1))
        learned = LearnedPollPolicy.learning(policy, settles)
        figures = {}
        for name, each in (("policy", policy), ("learned", learned)):
            polls = late = 0.0
            for trial in range(runs):
                truth = settle * rng.uniform(0.9, 1.1)
                trial_rng = random.Random(trial)
                now, step, count = 0.0, 0, 0
                while now < truth:
                    now += each.pause(step, now, rng=trial_rng)
                    step += 1
                    count += 1
                polls += count / runs
                late += (now - truth) / runs
            figures[name] = (polls, late)
        (pp, pl), (lp, ll) = figures["policy"], figures["learned"]
        rows.append([f"{settle:g}", f"{pp:.1f}", f"{pl:.2f}", f"{lp:.1f}", f"{ll:.2f}", f"{lp / pp:.2f}"])
    return rows


async def main_async(mode: dict[str, Any], out: dict[str, Any], only: list[str], polling: list[bool]) -> None:
    low, high = mode["settle"]
    results = out["live"]
    concurrencies = [c for c in mode["concurrencies"] if str(c) in only] if only else mode["concurrencies"]
    if mode["services"] and concurrencies:
        emu = EmulatorProcess(services=mode["services"], update=low, latency=LATENCY)
        emu.args += ["--update", f"{low},{high}", "--rate-limit", str(mode["rate"])]
        with emu:
            ids = emu.control(f"/ids?n={mode['services']}")
            for concurrency in concurrencies:
                for learned in polling:
                    tag = f"{concurrency}-{learned}-{time.monotonic()}"
                    print(f"  concurrency {concurrency}, learned {learned}...", file=sys.stderr)
                    results.append(
                        await one_run(
                            emu, ids, concurrency, learned=learned, rate=mode["rate"], tag=tag, settle_high=high
                        )
                    )
            if mode["second_services"] and (not only or "auto" in only):
                emu.control("/config", {"rate_limit": mode["second_rate"]})
                second = ids[: mode["second_services"]]
                for learned in polling:
                    print(f"  auto at {mode['second_rate']:g}/s, learned {learned}...", file=sys.stderr)
                    tag = f"second-{learned}-{time.monotonic()}"
                    results.append(
                        await one_run(
                            emu, second, "auto", learned=learned, rate=mode["second_rate"], tag=tag, settle_high=high
                        )
                    )
    if mode["load_services"]:
        # No rate limit: latency that grows with load is the only signal.
        emu = EmulatorProcess(services=mode["load_services"], update=low, latency=LATENCY)
        emu.args += ["--update", f"{low},{high}", "--latency-per-in-flight", str(LOAD_LATENCY)]
        with emu:
            ids = emu.control(f"/ids?n={mode['load_services']}")
            for concurrency in [c for c in (16, 64, 256, "auto") if not only or str(c) in only]:
                print(f"  latency grows with load, concurrency {concurrency}...", file=sys.stderr)
                tag = f"load-{concurrency}-{time.monotonic()}"
                results.append(
                    await one_run(
                        emu,
                        ids,
                        concurrency,
                        learned=True,
                        rate=0.0,
                        tag=tag,
                        settle_high=high,
                        per_request=LOAD_LATENCY,
                    )
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="mode", action="store_const", const="quick", help="fewer services and points")
    group.add_argument("--full", dest="mode", action="store_const", const="full", help="every scenario of issue 13")
    parser.add_argument("--services", type=int, help="services at the first server rate (default: the mode's)")
    parser.add_argument("--only", help="comma-separated concurrencies to run, e.g. auto,256 (default: the mode's)")
    parser.add_argument("--polling", choices=("both", "policy", "learned"), default="both")
    parser.add_argument("--load", action="store_true", help="also the latency-grows-with-load scenario (150 services)")
    parser.add_argument("--no-model", action="store_true", help="skip the poll-policy model table")
    parser.add_argument("--max-concurrency", type=int, help="the cap of auto, and the pool (default 256)")
    parser.add_argument("--no-load", action="store_true", help="skip the latency-grows-with-load scenario")
    parser.add_argument("--limiter", default="", metavar="NAME=VALUE,...", help="set limiter attributes (ablation)")
    parser.set_defaults(mode="quick")
    args = parser.parse_args()
    mode = dict(MODES[args.mode])
    if args.services is not None:
        mode["services"] = args.services
    if args.load:
        mode["load_services"] = mode["load_services"] or 150
    if args.no_load:
        mode["load_services"] = 0
    global MAX_CONCURRENCY  # noqa: PLW0603 -- set once, from the command line, before any run
    MAX_CONCURRENCY = args.max_concurrency
    for item in filter(None, args.limiter.split(",")):
        name, _, value = item.partition("=")
        TUNING[name] = float(value)
    only = args.only.split(",") if args.only else []
    polling = {"both": [False, True], "policy": [False], "learned": [True]}[args.polling]
    started = time.monotonic()
    out: dict[str, Any] = {"mode": args.mode, "machine": machine(), "config": mode, "live": [], "tuning": TUNING}
    anyio.run(main_async, mode, out, only, polling)
    out["model"] = [] if args.no_model else model(mode["model_runs"])
    out["seconds"] = time.monotonic() - started
    m = out["machine"]
    load_after = os.getloadavg()
    header = (
        f"Machine: {m['cores']} cores ({m['cpu'] or 'unknown CPU'}), Python {m['python']}; commit "
        f"{m['commit'] or '?'}; load average before {m['load_before'][0]:.2f}, after {load_after[0]:.2f}; mode "
        f"{args.mode}, {out['seconds']:.0f} s in all. Emulator: {mode['services']} services, rate limit "
        f"{mode['rate']:g}/s per key (burst 1 s), {LATENCY * 1000:.0f} ms latency, settles "
        f"{mode['settle'][0]:g}-{mode['settle'][1]:g} s; polls: PollPolicy() x {SCALE:g}."
    )
    model_table = table(
        ["settle s", "policy polls", "policy overshoot s", "learned polls", "learned overshoot s", "polls ratio"],
        out["model"],
    )
    tables = [header, table(LIVE_HEADERS, [live_row(r) for r in out["live"]])]
    report = "\n\n".join([*tables, model_table] if out["model"] else tables)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"pace-{args.mode}-{stamp}.json"
    out["markdown"] = report
    path.write_text(json.dumps(out, indent=1))
    print(f"\n(JSON: {path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
