"""Run the aiodataops benchmarks and print markdown tables: ``./dev bench [--quick|--full] [--only SECTION ...]``.

The emulator runs in its own process (``_emulator_proc.py``), and every measured point runs in a fresh worker
process (``_worker.py``), so client and server do not share one core and no peak carries over from one point to the
next. Sections (each the same work, one PUT per service then GETs until RUNNING, against the same emulator):

- ``overhead``: raw aiohttp vs the SDK (``update_and_wait`` under a semaphore, and ``fleet.apply`` at a fixed
  concurrency and ``auto``): CPU and wall;
- ``command``: the ``aiodataops fleet apply`` command end to end vs ``fleet.apply`` (with and without a journal);
- ``scale``: 100 / 1,000 / 10,000 services at one concurrency: throughput, peak RSS, peak tasks;
- ``sweep``: concurrency 1..512 for one fleet size;
- ``threads``: 100 ms of emulator latency, the SDK vs a synchronous client in a thread pool of 10;
- ``polling``: polls per service and the overshoot past the true settle instant, against the settle time;
- ``model``: the same two figures from ``PollPolicy``'s own arithmetic at real settle times (10 s to 10 min);
- ``capacity``: the emulator's own requests per second;
- ``pace``: issue 13, fixed concurrency vs ``auto`` and today's polling vs learned under a rate limit the client is
  not told (``pace.py``, with its own rate-limited emulator).

Every poll uses the SDK's own default ``PollPolicy()`` shape (read from it, not restated here: growth, full
jitter) with its durations scaled by 1/10 (first 0.1 s, floor 0.05 s, cap 1.5 s with today's defaults), and the
emulator's settle times are scaled alike: a 1 s settle here stands for 10 s with the defaults. Overshoot and polls
per service do not depend on that scale, only on the ratio. The polling and model sections also show growth 1.5
(the default before issue 6) for comparison.

Results go to stdout (markdown) and ``benchmarks/results/bench-<mode>-<time>.json``. Every loop is bounded in count
and time, and everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any, Self

from aiodataops._polling import PollPolicy

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"
EMULATOR = HERE / "_emulator_proc.py"
RESULTS = HERE / "results"

#: The SDK's default poll policy: every scenario (raw, sync, SDK) polls with its shape, so they do the same work.
DEFAULT_POLICY = PollPolicy()
#: The growth factor the SDK used before issue 6, kept as a comparison row in the polling and model sections.
OLD_GROWTH = 1.5


def scaled_policy(scale: float, growth: float | None = None) -> str:
    """``FIRST,GROWTH,MAX,MIN`` for the workers: the default ``PollPolicy`` with every duration multiplied by
    ``scale`` (and another growth factor if given)."""
    p = DEFAULT_POLICY
    g = p.growth if growth is None else growth
    return f"{p.first_delay * scale:g},{g:g},{p.max_delay * scale:g},{p.min_delay * scale:g}"


#: The default PollPolicy scaled by 1/10.
SCALED_POLICY = scaled_policy(0.1)
#: The same shape scaled by 1/500: for sections where no settle time is waited on (a PUT, then one GET).
FAST_POLICY = scaled_policy(0.002)

#: The policies the polling section compares: the SDK's default, and growth 1.5 (the default before issue 6).
POLL_POLICIES = [
    (f"default (growth {DEFAULT_POLICY.growth:g})", SCALED_POLICY),
    (f"growth {OLD_GROWTH:g} (old default)", scaled_policy(0.1, OLD_GROWTH)),
]
#: Growth factors the policy model compares (the default PollPolicy otherwise), and the settle times it uses.
MODEL_GROWTHS = tuple(dict.fromkeys((DEFAULT_POLICY.growth, OLD_GROWTH, 1.2)))
MODEL_SETTLES = (10, 30, 60, 120, 300, 600)

#: (label, settle seconds, concurrency, services, poll policy): one GET per service, where the per-service costs
#: weigh most; a 10 s settle (scaled 1/10); and a 2 minute settle (scaled 1/50: 2.4 s, polls from 20 ms capped at
#: 0.3 s), like a real Data Ops update (they take minutes). The polls per service follow from the default policy.
OVERHEAD_WORKLOADS = {
    "1 poll": ("1 poll/service (c=64)", 0.05, 64, 1000, SCALED_POLICY),
    "10 s": ("settle 10 s (c=500)", 1.0, 500, 1000, SCALED_POLICY),
    "2 min": ("settle 2 min (c=200)", 2.4, 200, 200, scaled_policy(0.02)),
}


MODES: dict[str, dict[str, Any]] = {
    "quick": {
        "overhead": {
            "repeats": 2,
            "workloads": ["1 poll", "2 min"],
            "scenarios": ["raw", "sdk-wait", "sdk", "sdk-auto"],
        },
        "command": {"repeats": 2, "services": 2000, "concurrency": 64},
        "scale": {"sizes": [100, 1000, 10_000], "concurrency": 256, "scenarios": ["raw", "sdk"]},
        "sweep": {"services": 1000, "concurrencies": [1, 8, 64, 512], "scenarios": ["sdk"]},
        "threads": {
            "latency": 0.1,
            "settle": 0.3,
            "sync_services": 100,
            "services": 1000,
            "points": [("sdk", 128), ("sdk", 256), ("raw", 256)],
        },
        "polling": {"services": 100, "settles": [1.0, 4.0], "fixed": []},
        "model": {"runs": 1000},
        "capacity": {"seconds": 3.0, "concurrency": 64},
    },
    "full": {
        "overhead": {
            "repeats": 5,
            "workloads": ["1 poll", "10 s", "2 min"],
            "scenarios": ["raw", "sdk-wait", "sdk", "sdk-auto"],
        },
        "command": {"repeats": 3, "services": 6000, "concurrency": 64},
        "scale": {"sizes": [100, 1000, 10_000], "concurrency": 256, "scenarios": ["raw", "sdk-wait", "sdk"]},
        "sweep": {
            "services": 1000,
            "concurrencies": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
            "scenarios": ["raw", "sdk"],
        },
        "threads": {
            "latency": 0.1,
            "settle": 0.3,
            "sync_services": 1000,
            "services": 1000,
            "points": [("sdk", 16), ("sdk", 64), ("sdk", 100), ("sdk", 128), ("sdk", 256), ("raw", 256)],
        },
        "polling": {"services": 200, "settles": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0], "fixed": [1.0, 4.0, 16.0]},
        "model": {"runs": 10_000},
        "capacity": {"seconds": 8.0, "concurrency": 64},
    },
}
SECTIONS = ("overhead", "command", "threads", "scale", "sweep", "polling", "model", "capacity", "pace")
#: No single worker may run longer than this (seconds); a point that does is reported as failed.
POINT_TIMEOUT = 600.0


# -- processes ----------------------------------------------------------------------------------------------------


class EmulatorProcess:
    """The emulator in its own process, with the control port of ``_emulator_proc.py``."""

    def __init__(self, *, services: int, update: float, latency: float | None = None) -> None:
        self.args = [
            sys.executable,
            str(EMULATOR),
            "--services",
            str(services),
            "--data-ops",
            "10",
            "--update",
            f"{update},{update}",
            "--max-seconds",
            "1800",
        ]
        if latency:
            self.args += ["--latency", f"{latency},{latency}"]
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in __exit__

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._stderr)
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 120)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            self._stderr.seek(0)
            self.__exit__(None, None, None)
            raise RuntimeError(f"the emulator did not start: {self._stderr.read().decode(errors='replace')[-2000:]}")
        self.info = json.loads(line)
        return self

    def __exit__(self, *_: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    def control(self, path: str, data: dict[str, Any] | None = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.info["control_url"] + path, data=body, method="POST" if data is not None else "GET"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def env(self) -> dict[str, str]:
        return {**os.environ, "BENCH_ACCESS_KEY": self.info["access_key"], "BENCH_SECRET_KEY": self.info["secret_key"]}


_POINT_SEQ = [0]

#: Scenario labels that run a ``_worker.py`` scenario with extra flags: ``concurrency="auto"`` (the default of
#: ``fleet.apply`` and of the command), a journal (the command always keeps one), and the command itself.
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "sdk-auto": ("sdk", ["--auto"]),
    "sdk-journal": ("sdk", ["--journal"]),
    "cli-auto": ("cli", ["--auto"]),
}


def run_point(
    emu: EmulatorProcess,
    scenario: str,
    services: int,
    concurrency: int,
    *,
    policy: str = SCALED_POLICY,
    fixed: bool = False,
    detect: bool = False,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """Run one worker against ``emu`` and return its JSON plus the emulator's side of the same interval."""
    _POINT_SEQ[0] += 1
    tag = f"bench-{os.getpid()}-{_POINT_SEQ[0]}"
    worker_scenario, flags = VARIANTS.get(scenario, (scenario, []))
    args = [
        sys.executable,
        str(WORKER),
        "--scenario",
        worker_scenario,
        "--base-url",
        emu.base_url,
        "--control-url",
        emu.info["control_url"],
        "--services",
        str(services),
        "--concurrency",
        str(concurrency),
        "--policy",
        policy,
        "--tag",
        tag,
        "--seed",
        str(_POINT_SEQ[0]),
        *flags,
        *(extra or []),
    ]
    if fixed:
        args.append("--fixed")
    if detect:
        args.append("--detect")
    emu.control("/reset", {})
    before = emu.control("/stats")
    started = time.monotonic()
    try:
        done = subprocess.run(args, env=emu.env(), capture_output=True, timeout=POINT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return {"scenario": scenario, "services": services, "concurrency": concurrency, "error": "timed out"}
    after = emu.control("/stats")
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-1500:]
        print(f"  ! {scenario} n={services} c={concurrency} failed:\n{tail}", file=sys.stderr)
        return {"scenario": scenario, "services": services, "concurrency": concurrency, "error": tail}
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    result["scenario"] = scenario
    result["process_seconds"] = time.monotonic() - started
    result["emu_requests"] = after["requests"]
    result["emu_by_op"] = after["by_op"]
    result["emu_cpu"] = after["cpu"] - before["cpu"]
    result["emu_max_in_flight"] = after["max_in_flight"]
    if detect:
        settled = emu.control("/settled")
        detected = result.pop("detected")
        overshoots = [detected[sid] - settled[sid] for sid in detected if sid in settled]
        result["overshoots"] = overshoots
    gets = after["by_op"].get("get_service", {})
    result["gets"] = sum(gets.values())
    puts = after["by_op"].get("update_service", {})
    result["puts"] = sum(puts.values())
    status = "ok" if not result.get("failed") else f"{result['failed']} FAILED {result.get('failures')}"
    print(
        f"  {scenario:9} n={services:<6} c={concurrency:<4} wall {result['wall']:6.2f}s cpu {result['cpu']:6.2f}s "
        f"rss {result['rss_peak_kb'] / 1024:6.1f}MB tasks {result['peak_tasks']:<6} {status}",
        file=sys.stderr,
    )
    return result


# -- figures ------------------------------------------------------------------------------------------------------


def services_per_s(r: dict[str, Any]) -> float:
    return int(r["services"]) / float(r["wall"])


def requests_per_s(r: dict[str, Any]) -> float:
    return int(r["emu_requests"]) / float(r["wall"])


def cpu_ms_per_service(r: dict[str, Any]) -> float:
    return 1000 * float(r["cpu"]) / int(r["services"])


def cpu_us_per_request(r: dict[str, Any]) -> float:
    return 1e6 * float(r["cpu"]) / max(1, int(r["emu_requests"]))


def polls_per_service(r: dict[str, Any]) -> float:
    return float(r["gets"]) / int(r["services"])


def mb(kb: float) -> float:
    return kb / 1024


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    lines[1] = "|---" + lines[1][5:]
    return "\n".join(lines)


def ok(r: dict[str, Any]) -> bool:
    return "error" not in r and not r.get("failed")


# -- sections -----------------------------------------------------------------------------------------------------


def section_overhead(emu: EmulatorProcess, cfg: dict[str, Any], out: dict[str, Any]) -> str:
    scenarios = cfg["scenarios"]
    rows = []
    out["overhead"] = {}
    for key in cfg["workloads"]:
        label, settle, concurrency, services, policy = OVERHEAD_WORKLOADS[key]
        emu.control("/config", {"update_duration": [settle, settle]})
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in scenarios}
        for _ in range(cfg["repeats"]):
            for scenario in scenarios:  # interleaved, so drift on the shared machine hits every scenario alike
                runs[scenario].append(run_point(emu, scenario, services, concurrency, policy=policy))
        out["overhead"][label] = runs
        # Per request: the scenarios' poll counts differ a little (jitter, event-loop lag), and per request is what
        # compares at equal polls (CPU per service = CPU per request x (1 + polls)).
        best = {s: min((r for r in rs if ok(r)), key=cpu_us_per_request, default=None) for s, rs in runs.items()}
        raw = best["raw"]
        for scenario in scenarios:
            r = best[scenario]
            if r is None or raw is None:
                rows.append([label, scenario, services, "failed", *[""] * 10])
                continue
            spread = [cpu_us_per_request(x) for x in runs[scenario] if ok(x)]
            rows.append(
                [
                    label,
                    scenario,
                    r["services"],
                    r["wall"],
                    services_per_s(r),
                    requests_per_s(r),
                    polls_per_service(r),
                    cpu_ms_per_service(r),
                    cpu_us_per_request(r),
                    f"{min(spread):.0f}-{max(spread):.0f}",
                    f"**{cpu_us_per_request(r) / cpu_us_per_request(raw):.2f}x**",
                    f"{r['wall'] / raw['wall']:.2f}x",
                    mb(r["rss_peak_kb"]),
                    r["peak_tasks"],
                ]
            )
        for scenario, target in (("sdk", "cpu_ratio"), ("sdk-auto", "cpu_ratio_auto"), ("sdk-wait", "cpu_ratio_wait")):
            found = best.get(scenario)
            if found and raw:
                out["targets"].setdefault(target, {})[label] = cpu_us_per_request(found) / cpu_us_per_request(raw)
    head = (
        f"### Overhead: no added latency; best of {cfg['repeats']} interleaved runs by CPU per request (range "
        "over the runs shown)\n\n"
    )
    return head + table(
        [
            "workload",
            "scenario",
            "services",
            "wall s",
            "services/s",
            "requests/s",
            "polls/service",
            "CPU ms/service",
            "CPU µs/request",
            "µs/request range",
            "CPU vs raw",
            "wall vs raw",
            "peak RSS MB",
            "peak tasks",
        ],
        rows,
    )


#: The command section's scenarios, and what each is compared with besides raw: the command with fleet.apply at the
#: same concurrency (fixed, auto), and fleet.apply with a journal (the command always keeps one) with fleet.apply.
COMMAND_SCENARIOS = {
    "raw": None,
    "sdk": None,
    "sdk-journal": "sdk",
    "cli": "sdk",
    "sdk-auto": None,
    "cli-auto": "sdk-auto",
}


def section_command(emu: EmulatorProcess, cfg: dict[str, Any], out: dict[str, Any]) -> str:
    """The ``aiodataops fleet apply`` command end to end against ``fleet.apply`` (issue 13, item 4): one poll per
    service, where the per-service costs (plan, journal, progress lines, report, summary) weigh most."""
    label, settle, _, _, policy = OVERHEAD_WORKLOADS["1 poll"]
    services, concurrency = cfg["services"], cfg["concurrency"]
    emu.control("/config", {"update_duration": [settle, settle]})
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in COMMAND_SCENARIOS}
    for _ in range(cfg["repeats"]):
        for scenario in COMMAND_SCENARIOS:  # interleaved, so drift on the shared machine hits every scenario alike
            runs[scenario].append(run_point(emu, scenario, services, concurrency, policy=policy))
    out["command"] = runs
    best = {s: min((r for r in rs if ok(r)), key=cpu_us_per_request, default=None) for s, rs in runs.items()}
    raw = best["raw"]
    rows = []
    for scenario, against in COMMAND_SCENARIOS.items():
        r = best[scenario]
        if r is None or raw is None:
            rows.append([scenario, services, "failed", *[""] * 9])
            continue
        base = best.get(against) if against else None
        spread = [cpu_us_per_request(x) for x in runs[scenario] if ok(x)]
        vs = f"**{cpu_us_per_request(r) / cpu_us_per_request(base):.2f}x** {against}" if base else ""
        whole = f"{r['cpu_process'] / base['cpu_process']:.2f}x" if base else ""
        rows.append(
            [
                scenario,
                r["services"],
                r["wall"],
                requests_per_s(r),
                polls_per_service(r),
                cpu_us_per_request(r),
                f"{min(spread):.0f}-{max(spread):.0f}",
                f"{cpu_us_per_request(r) / cpu_us_per_request(raw):.2f}x",
                vs,
                r["cpu_process"],
                whole,
            ]
        )
        if base and scenario.startswith("cli"):
            out["targets"].setdefault("command_ratio", {})[scenario] = cpu_us_per_request(r) / cpu_us_per_request(base)
    head = (
        f"### The command: `aiodataops fleet apply` vs `fleet.apply`, {label.split(' (')[0]}, concurrency "
        f"{concurrency} or auto; best of {cfg['repeats']} interleaved runs by CPU per request\n\n"
    )
    return head + table(
        [
            "scenario",
            "services",
            "wall s",
            "requests/s",
            "GETs/service",
            "CPU µs/request",
            "µs/request range",
            "CPU vs raw",
            "CPU vs",
            "process CPU s (imports included)",
            "process CPU vs",
        ],
        rows,
    )


def section_scale(emu: EmulatorProcess, cfg: dict[str, Any], out: dict[str, Any]) -> str:
    # No settle time: every service is a PUT and (mostly) one GET, so the run measures work, not waiting.
    emu.control("/config", {"update_duration": [0.0, 0.0]})
    c = cfg["concurrency"]
    results = {s: [run_point(emu, s, n, c, policy=FAST_POLICY) for n in cfg["sizes"]] for s in cfg["scenarios"]}
    out["scale"] = results
    rows = []
    for scenario, rs in results.items():
        by_n = {r["services"]: r for r in rs if ok(r)}
        for r in rs:
            if not ok(r):
                rows.append([scenario, r["services"], "failed", *[""] * 7])
                continue
            growth = mb(r["rss_peak_kb"] - r["rss_before_kb"])
            ref = by_n.get(1000)
            vs = f"{r['rss_peak_kb'] / ref['rss_peak_kb']:.2f}x" if ref else ""
            rows.append(
                [
                    scenario,
                    r["services"],
                    r["wall"],
                    services_per_s(r),
                    requests_per_s(r),
                    cpu_ms_per_service(r),
                    mb(r["rss_peak_kb"]),
                    growth,
                    vs,
                    r["peak_tasks"],
                ]
            )
        if scenario == "sdk" and 1000 in by_n and 10_000 in by_n:
            a, b = by_n[1000], by_n[10_000]
            out["targets"]["rss_ratio"] = b["rss_peak_kb"] / a["rss_peak_kb"]
            out["targets"]["rss_growth_ratio"] = (b["rss_peak_kb"] - b["rss_before_kb"]) / max(
                1, a["rss_peak_kb"] - a["rss_before_kb"]
            )
    head = (
        f"### Scale: concurrency {c}, no settle time (a PUT and one GET per service), one fresh process per point\n\n"
    )
    return head + table(
        [
            "scenario",
            "services",
            "wall s",
            "services/s",
            "requests/s",
            "CPU ms/service",
            "peak RSS MB",
            "RSS growth MB",
            "RSS vs 1,000",
            "peak tasks",
        ],
        rows,
    )


def section_sweep(emu: EmulatorProcess, cfg: dict[str, Any], out: dict[str, Any]) -> str:
    emu.control("/config", {"update_duration": [0.0, 0.0]})
    n = cfg["services"]
    results = {s: [run_point(emu, s, n, c, policy=FAST_POLICY) for c in cfg["concurrencies"]] for s in cfg["scenarios"]}
    out["sweep"] = results
    rows = []
    for scenario, rs in results.items():
        for r in rs:
            if not ok(r):
                rows.append([scenario, r["concurrency"], "failed", *[""] * 6])
                continue
            rows.append(
                [
                    scenario,
                    r["concurrency"],
                    r["wall"],
                    services_per_s(r),
                    requests_per_s(r),
                    cpu_ms_per_service(r),
                    mb(r["rss_peak_kb"]),
                    mb(r["rss_peak_kb"] - r["rss_before_kb"]),
                    r["peak_tasks"],
                ]
            )
    head = f"### Concurrency sweep: {n:,} services, no settle time, polls scaled 1/500 (first 2 ms): request-bound\n\n"
    return head + table(
        [
            "scenario",
            "concurrency",
            "wall s",
            "services/s",
            "requests/s",
            "CPU ms/service",
            "peak RSS MB",
            "RSS growth MB",
            "peak tasks",
        ],
        rows,
    )


def section_threads(cfg: dict[str, Any], out: dict[str, Any]) -> str:
    with EmulatorProcess(services=cfg["services"], update=cfg["settle"], latency=cfg["latency"]) as emu:
        sync = run_point(emu, "sync", cfg["sync_services"], 10)
        others = [run_point(emu, s, cfg["services"], c) for s, c in cfg["points"]]
    out["threads"] = {"sync": sync, "others": others}
    rows = []
    base = services_per_s(sync) if ok(sync) else None
    for r in [sync, *others]:
        if not ok(r):
            rows.append([r["scenario"], r["services"], r["concurrency"], "failed", "", "", ""])
            continue
        label = "sync, thread pool" if r["scenario"] == "sync" else r["scenario"]
        rows.append(
            [
                label,
                r["services"],
                r["concurrency"],
                r["wall"],
                services_per_s(r),
                requests_per_s(r),
                f"{services_per_s(r) / base:.1f}x" if base else "",
            ]
        )
    best_sdk = max((services_per_s(r) for r in others if r["scenario"] == "sdk" and ok(r)), default=None)
    out["targets"]["thread_pool_ratio"] = best_sdk / base if best_sdk and base else None
    head = (
        f"### Against a thread pool of 10: {cfg['latency'] * 1000:.0f} ms emulator latency on every request, "
        f"settle {cfg['settle']} s\n\n"
    )
    return head + table(
        ["scenario", "services", "concurrency", "wall s", "services/s", "requests/s", "vs thread pool"], rows
    )


def _overshoot_row(label: str, settle: float, r: dict[str, Any]) -> list[Any]:
    shots = sorted(r["overshoots"])
    mean = statistics.fmean(shots)
    p95 = shots[min(len(shots) - 1, int(0.95 * len(shots)))]
    early = sum(1 for s in shots if s < 0)
    return [
        label,
        settle,
        polls_per_service(r),
        1000 * mean,
        1000 * statistics.median(shots),
        1000 * p95,
        f"{100 * mean / settle:.1f}%",
        early,
    ]


def section_polling(emu: EmulatorProcess, cfg: dict[str, Any], out: dict[str, Any]) -> str:
    n = cfg["services"]
    rows = []
    results: list[dict[str, Any]] = []
    ratios: dict[str, dict[float, float]] = {}
    for settle in cfg["settles"]:
        emu.control("/config", {"update_duration": [settle, settle]})
        for label, policy in POLL_POLICIES:
            r = run_point(emu, "sdk", n, n, policy=policy, detect=True)
            r["settle"], r["policy_label"] = settle, label
            results.append(r)
            if ok(r) and r["overshoots"]:
                rows.append(_overshoot_row(f"sdk, {label}", settle, r))
                ratios.setdefault(label, {})[settle] = statistics.fmean(r["overshoots"]) / settle
        if settle in cfg["fixed"]:
            # Terraform's SCP providers poll every 3 s: scaled, a fixed 0.3 s interval.
            f = run_point(emu, "raw", n, n, policy="0.3,1,0.3,0.3", fixed=True, detect=True)
            f["settle"], f["policy_label"] = settle, "fixed 0.3 s"
            results.append(f)
            if ok(f) and f["overshoots"]:
                rows.append(_overshoot_row("raw, fixed 0.3 s interval (Terraform's 3 s)", settle, f))
    out["polling"] = results
    out["targets"]["overshoot"] = ratios
    head = (
        f"### Polling: {n} services at once per point; overshoot = detection instant - the emulator's true "
        "settle instant (same monotonic clock); times scaled 1/10 (1 s here = 10 s with the default policy)"
        "\n\n"
    )
    return head + table(
        [
            "poller",
            "settle s",
            "polls/service",
            "mean overshoot ms",
            "median ms",
            "p95 ms",
            "mean overshoot / settle",
            "early (must be 0)",
        ],
        rows,
    )


def section_model(cfg: dict[str, Any], out: dict[str, Any]) -> str:
    """Replay ``PollPolicy.delay`` (the SDK's own arithmetic, real time scale) against fixed settle times."""
    import random  # noqa: PLC0415 -- only this section draws

    runs = cfg["runs"]
    rows = []
    model: dict[str, dict[str, list[float]]] = {}
    for growth in MODEL_GROWTHS:
        policy = PollPolicy(growth=growth)
        cells = []
        for settle in MODEL_SETTLES:
            rng = random.Random(f"{growth}-{settle}")
            shots, polls = [], []
            for _ in range(runs):
                t, k = 0.0, 0
                while t < settle and k < 10_000:
                    t += policy.delay(k, rng=rng)
                    k += 1
                shots.append(t - settle)
                polls.append(k)
            ratio, mean_polls = statistics.fmean(shots) / settle, statistics.fmean(polls)
            model.setdefault(str(growth), {})[str(settle)] = [ratio, mean_polls]
            cells.append(f"{100 * ratio:.1f}% / {mean_polls:.1f}")
        label = f"{growth:g}" + (
            " (default)" if growth == DEFAULT_POLICY.growth else " (old default)" if growth == OLD_GROWTH else ""
        )
        rows.append([label, *cells])
    out["poll_model"] = model
    d = DEFAULT_POLICY
    head = (
        f"### Poll policy model: the default PollPolicy (first {d.first_delay:g} s, floor {d.min_delay:g} s, cap "
        f"{d.max_delay:g} s, full jitter) and other growth factors, replayed {runs:,} times per cell at real "
        "settle times (no network: network time adds one round trip to each overshoot). Cell: mean overshoot / "
        "settle time, then polls per service\n\n"
    )
    return head + table(["growth", *(f"settle {t} s" for t in MODEL_SETTLES)], rows)


def section_capacity(emu: EmulatorProcess, cfg: dict[str, Any], out: dict[str, Any]) -> str:
    r = run_point(emu, "capacity", 1000, cfg["concurrency"], extra=["--seconds", str(cfg["seconds"])])
    out["capacity"] = r
    if not ok(r):
        return "### Emulator capacity\n\nfailed"
    rows = [
        [
            "GET service (signed, 1,000 ids)",
            cfg["concurrency"],
            r["wall"],
            r["emu_requests"] / r["wall"],
            f"{100 * r['emu_cpu'] / r['wall']:.0f}%",
            1e6 * r["emu_cpu"] / max(1, r["emu_requests"]),
            f"{100 * r['cpu'] / r['wall']:.0f}%",
            1e6 * r["cpu"] / max(1, r["emu_requests"]),
        ]
    ]
    head = "### Emulator capacity: one raw aiohttp client process hammering GETs\n\n"
    return head + table(
        [
            "load",
            "connections",
            "seconds",
            "requests/s",
            "emulator CPU busy",
            "emulator µs/request",
            "client CPU busy",
            "client µs/request",
        ],
        rows,
    )


# -- the run ------------------------------------------------------------------------------------------------------


def section_pace(mode: str, out: dict[str, Any]) -> str:
    """Issue 13's adaptive pace, in its own processes (``pace.py``: its own rate-limited emulator)."""
    done = subprocess.run(
        [sys.executable, str(HERE / "pace.py"), f"--{mode}"], capture_output=True, text=True, timeout=3600, check=False
    )
    out["pace"] = {"returncode": done.returncode, "stderr": done.stderr[-2000:]}
    if done.returncode != 0:
        return f"### Adaptive pace\n\nfailed (exit {done.returncode}):\n\n```\n{done.stderr[-2000:]}\n```"
    return "### Adaptive pace (issue 13)\n\n" + done.stdout.strip()


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), Path("/proc/cpuinfo").open() as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    versions = {}
    for name in ("aiohttp", "anyio", "attrs", "cattrs", "orjson", "yarl"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "commit": commit,
        "load_before": os.getloadavg(),
    }


def targets_table(t: dict[str, Any]) -> str:
    def verdict(value: float | None, good: bool) -> str:
        return "" if value is None else ("met" if good else "**open**")

    def ratios(key: str) -> str:
        values = t.get(key) or {}
        return "; ".join(f"{label}: {value:.2f}x" for label, value in values.items()) or "not measured"

    cpu = t.get("cpu_ratio") or {}
    realistic = cpu.get(OVERHEAD_WORKLOADS["2 min"][0])
    worst = cpu.get(OVERHEAD_WORKLOADS["1 poll"][0])
    auto = t.get("cpu_ratio_auto") or {}
    auto_2min, auto_1 = auto.get(OVERHEAD_WORKLOADS["2 min"][0]), auto.get(OVERHEAD_WORKLOADS["1 poll"][0])
    rss, threads = t.get("rss_ratio"), t.get("thread_pool_ratio")
    rows = [
        [
            "SDK (fleet.apply) CPU per request vs raw aiohttp (converge read included in both), fixed concurrency",
            "<= 1.15x at 2 min, <= 1.3x at 1 poll",
            ratios("cpu_ratio"),
            (
                f"{verdict(realistic, realistic is not None and realistic <= 1.15)} at a 2 min settle; "
                f"{verdict(worst, worst is not None and worst <= 1.3)} at 1 poll/service"
            ),
        ],
        [
            "  the same, concurrency auto",
            "",
            ratios("cpu_ratio_auto"),
            (
                f"{verdict(auto_2min, auto_2min is not None and auto_2min <= 1.15)} at a 2 min settle; "
                f"{verdict(auto_1, auto_1 is not None and auto_1 <= 1.3)} at 1 poll/service"
            ),
        ],
        ["  SDK without the fleet engine (update_and_wait)", "", ratios("cpu_ratio_wait"), ""],
        [
            "the command (`fleet apply`) CPU per request vs fleet.apply, 1 poll/service",
            "<= 1.10x",
            ratios("command_ratio"),
            "; ".join(f"{verdict(v, v <= 1.10)} ({k})" for k, v in (t.get("command_ratio") or {}).items()),
        ],
        [
            "peak RSS at 10,000 services vs 1,000 (fleet.apply)",
            "<= 1.5x",
            "not measured" if rss is None else f"{rss:.2f}x (growth above imports: {t['rss_growth_ratio']:.2f}x)",
            verdict(rss, rss is not None and rss <= 1.5),
        ],
    ]
    for label, by_settle in (t.get("overshoot") or {}).items():
        long_ones = [v for settle, v in by_settle.items() if settle >= 1.0]
        worst_long = max(long_ones) if long_ones else None
        text = ", ".join(f"{100 * v:.1f}% at {settle:g} s" for settle, v in by_settle.items())
        rows.append(
            [
                f"mean poll overshoot / settle time, {label}",
                "<= 10%",
                text,
                f"{verdict(worst_long, worst_long is not None and worst_long <= 0.10)} for settles >= 1 s",
            ]
        )
    rows.append(
        [
            "SDK services/s vs thread pool of 10, 100 ms latency",
            ">= 10x",
            "not measured" if threads is None else f"{threads:.1f}x",
            verdict(threads, threads is not None and threads >= 10),
        ]
    )
    return "### Targets\n\n" + table(["target", "goal", "measured", "verdict"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="mode", action="store_const", const="quick", help="fewer points (default)")
    group.add_argument("--full", dest="mode", action="store_const", const="full", help="bigger fleets, more points")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--repeats", type=int, help="override the overhead section's repeats")
    parser.set_defaults(mode="quick")
    args = parser.parse_args()
    mode = MODES[args.mode]
    if args.repeats:
        mode["overhead"]["repeats"] = args.repeats
    sections = args.only or list(SECTIONS)
    started = time.monotonic()
    out: dict[str, Any] = {
        "mode": args.mode,
        "machine": machine(),
        "targets": {},
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    parts: list[str] = []
    builders = {
        "overhead": section_overhead,
        "command": section_command,
        "scale": section_scale,
        "sweep": section_sweep,
        "polling": section_polling,
        "capacity": section_capacity,
    }
    size = max(
        [
            *mode["scale"]["sizes"],
            mode["sweep"]["services"],
            mode["polling"]["services"],
            *(OVERHEAD_WORKLOADS[k][3] for k in mode["overhead"]["workloads"]),
            mode["command"]["services"],
        ]
    )
    needs_shared = any(name in builders for name in sections)
    if needs_shared:
        print(f"starting the emulator with {size:,} services...", file=sys.stderr)
    with EmulatorProcess(services=size, update=0.1) if needs_shared else contextlib.nullcontext() as emu:
        for name in SECTIONS:
            if name not in sections:
                continue
            print(f"[{name}]", file=sys.stderr)
            if name == "pace":
                parts.append(section_pace(args.mode, out))
            elif name == "threads":
                parts.append(section_threads(mode[name], out))
            elif name == "model":
                parts.append(section_model(mode[name], out))
            else:
                assert isinstance(emu, EmulatorProcess)
                parts.append(builders[name](emu, mode[name], out))
    out["seconds"] = time.monotonic() - started
    m = out["machine"]
    header = (
        f"Machine: {m['cores']} cores ({m['cpu'] or 'unknown CPU'}), Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; commit {m['commit'] or '?'}; load average before the run {m['load_before'][0]:.2f}; "
        f"mode {args.mode}, {out['seconds']:.0f} s in all."
    )
    report = "\n\n".join([header, *parts, targets_table(out["targets"])])
    print(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench-{args.mode}-{stamp}.json"
    out["markdown"] = report
    path.write_text(json.dumps(out, indent=1))
    print(f"\n(JSON: {path.relative_to(HERE.parent)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
