"""``aiodataops demo``: a canary-batched fleet update of a few hundred emulated services, in about half a minute.

It starts the emulator in this process with a seeded fleet (300 services in 30 data ops by default) that misbehaves
on purpose: a few percent of updates end in ERROR, some PUTs are answered 429 with ``Retry-After``, some reads 503,
and reads right after an update are stale for a moment. Then it writes a plan (every service: one more worker
replica), and applies it through the real stack (``DataOpsClient`` over HTTP, signed requests, retries, settle
polling, the fleet engine with batches ``1, 10, 25%``, a bake between batches, a failure budget and a journal),
showing live progress on standard error. At the end it prints the summary: counts per outcome, the failed services
with their reasons, timings, the requests the emulator served by status and the faults it injected, and where the
plan, journal and report were written (a new temporary directory unless ``--dir`` says where).

Exit status: 0 when the run behaved as designed: it completed, every service of the fleet is in the report exactly
once, no service was sent its update twice, and every service that did not succeed is one whose update the
emulator made fail on purpose (its true state is ERROR). The injected failures are the point of the demo, so they
do not make it "fail"; anything else does (1). ``--strict`` applies the ``fleet apply`` rule instead: 1 as soon as
any service did not succeed. 2 bad usage, 130 interrupted (Ctrl-C: the first lets what is in flight settle).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import anyio
import attrs
import orjson
import yaml

from aiodataops import DataOpsClient, DataOpsError, PollPolicy, RetryPolicy
from aiodataops.cli._argtypes import positive_int
from aiodataops.cli._common import ExitCode
from aiodataops.cli._interrupts import run_interruptibly
from aiodataops.cli._output_files import write_report
from aiodataops.cli._progress import FleetProgress
from aiodataops.emulator import Emulator, FaultRule
from aiodataops.fleet import FleetReport, JournalError, Outcome, StopReason, load_plan

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops.fleet import EventCallback

__all__ = ["DemoResult", "DemoSettings", "register", "run_demo"]

#: The update every service gets: one more worker replica (the seeded services run three).
UPDATE: Final = {"service_workload": {"worker": {"replica": "4"}}}
BATCHES: Final = (1, 10, "25%")
#: How many failed updates one demo run shows before pointing at the report.
_SHOWN_FAILURES: Final = 20


@attrs.frozen(kw_only=True)
class DemoSettings:
    """The demo's fleet, misbehaviour and pace; ``time_scale`` multiplies every emulated duration and poll delay."""

    services: int = 300
    seed: int = 7
    concurrency: int = 50
    time_scale: float = 1.0
    #: Share of accepted updates the emulator ends in ERROR.
    error_rate: float = 0.04
    #: Share of PUTs answered 429 (with ``Retry-After``) and of reads answered 503.
    throttle_rate: float = 0.04
    unavailable_rate: float = 0.02
    #: Failures tolerated before no new service starts (``None``: a tenth of the fleet, at least three).
    failure_budget: int | None = None

    @property
    def data_ops(self) -> int:
        """Data ops in the seeded fleet: about ten services each."""
        return max(1, math.ceil(self.services / 10))

    @property
    def max_failures(self) -> int:
        """The failure budget: by default a tenth of the fleet and at least three, so the injected failures fit."""
        return self.failure_budget if self.failure_budget is not None else max(3, self.services // 10)

    @property
    def bake(self) -> float:
        """Seconds between canary batches."""
        return 0.5 * self.time_scale

    def emulator(self) -> Emulator:
        """The seeded, misbehaving emulator (not started)."""
        scale = self.time_scale
        return Emulator(
            data_ops=self.data_ops,
            services=self.services,
            seed=self.seed,
            update_duration=(0.5 * scale, 2.0 * scale),
            stale_read_seconds=0.3 * scale,
            error_rate=self.error_rate,
            faults=(
                FaultRule("update_service", "429", rate=self.throttle_rate, retry_after=round(1.0 * scale, 3)),
                FaultRule("get_service", "503", rate=self.unavailable_rate),
                FaultRule("list_services", "429", rate=0.1, retry_after=round(0.5 * scale, 3)),
            ),
        )

    def poll(self) -> PollPolicy:
        """Polls paced for the emulated durations (a real update takes minutes: the defaults suit that)."""
        scale = self.time_scale
        return PollPolicy(
            first_delay=0.3 * scale, growth=1.5, max_delay=1.2 * scale, min_delay=0.1 * scale, deadline=60.0
        )

    def retry(self) -> RetryPolicy:
        """The transport's retries, with their backoff paced like the rest."""
        defaults = RetryPolicy()
        return RetryPolicy(base=defaults.base * self.time_scale, cap=defaults.cap * self.time_scale)

    def plan(self) -> dict[str, Any]:
        """The plan: every service of the fleet gets ``UPDATE``."""
        return {"update": UPDATE, "targets": [{"select": {"data_ops_service_id": "*"}}]}


@attrs.frozen(kw_only=True)
class DemoResult:
    """What one demo run did: the fleet's report, what the emulator saw, and where the files are."""

    settings: DemoSettings
    report: FleetReport
    endpoint: str
    requests: dict[int, int]
    faults: dict[tuple[str, str], int]
    accepted_puts: dict[str, int]
    injected: frozenset[str]
    """Services whose failure the emulator caused on purpose (their true state is ERROR)."""
    directory: Path
    interrupted: bool = False

    @property
    def plan_path(self) -> Path:
        """The plan the demo applied."""
        return self.directory / "plan.yaml"

    @property
    def journal_path(self) -> Path:
        """The run's journal."""
        return self.directory / "journal.jsonl"

    @property
    def report_path(self) -> Path:
        """The run's JSON report."""
        return self.directory / "report.json"

    def problems(self) -> list[str]:
        """Why the run did not behave as designed (empty when it did)."""
        report = self.report
        found: list[str] = []
        if report.stopped is not StopReason.COMPLETED:
            found.append(f"the run stopped early ({report.stopped})")
        if report.error:
            found.append(f"the run reported an error: {report.error}")
        ids = [item.data_ops_service_id for item in report.items]
        if len(ids) != self.settings.services or len(set(ids)) != len(ids):
            found.append(
                f"the report holds {len(ids)} lines for {len(set(ids))} services, not the fleet's "
                f"{self.settings.services}"
            )
        twice = sorted(sid for sid, n in self.accepted_puts.items() if n > 1)
        if twice:
            found.append(f"{len(twice)} services were sent their update twice")
        unexpected = [
            i for i in report.items if i.outcome is not Outcome.SUCCEEDED and i.data_ops_service_id not in self.injected
        ]
        if unexpected:
            found.append(f"{len(unexpected)} services did not succeed for a reason the demo did not inject")
        return found

    def exit_status(self, *, strict: bool = False) -> int:
        """130 interrupted; with ``strict`` the fleet rule (0 only when all succeeded); else 0 when as designed."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if strict:
            return ExitCode.OK if self.report.ok else ExitCode.FAILED
        return ExitCode.FAILED if self.problems() else ExitCode.OK

    def to_dict(self, *, strict: bool = False) -> dict[str, Any]:
        """JSON data: the demo's settings, verdict, emulator counts, files, and the fleet report."""
        return {
            "demo": {**attrs.asdict(self.settings), "endpoint": self.endpoint},
            "as_designed": not self.problems(),
            "problems": self.problems(),
            "exit_status": self.exit_status(strict=strict),
            "injected_failures": sorted(self.injected),
            "emulator": {
                "requests_by_status": {str(status): n for status, n in sorted(self.requests.items())},
                "faults_injected": [
                    {"operation": op, "kind": kind, "count": n} for (op, kind), n in sorted(self.faults.items())
                ],
                "accepted_updates": sum(self.accepted_puts.values()),
            },
            "files": {
                "plan": str(self.plan_path),
                "journal": str(self.journal_path),
                "report": str(self.report_path),
            },
            "report": self.report.to_dict(),
        }


async def run_demo(
    settings: DemoSettings,
    directory: Path,
    *,
    on_event: EventCallback | None = None,
    on_ready: Callable[[Emulator], None] | None = None,
    stop: anyio.Event | None = None,
    abort: anyio.Event | None = None,
) -> DemoResult:
    """Run the demo: write the plan to ``directory``, serve the emulator, apply the plan, write the report.

    ``on_ready`` is called once the emulator listens (before the fleet run); ``on_event`` gets the fleet's events.
    """
    plan_path = directory / "plan.yaml"
    plan_path.write_text(
        "# Written by `aiodataops demo`: every service gets one more worker replica.\n"
        + yaml.safe_dump(settings.plan(), sort_keys=False),
        encoding="utf-8",
    )
    plan = load_plan(plan_path)
    async with (
        settings.emulator() as emu,
        DataOpsClient(
            emu.base_url,
            emu.credentials,
            poll=settings.poll(),
            retry=settings.retry(),
            concurrency=settings.concurrency,
        ) as client,
    ):
        if on_ready is not None:
            on_ready(emu)
        report = await client.fleet.apply(
            plan,
            concurrency=settings.concurrency,
            batches=list(BATCHES),
            bake=settings.bake,
            max_failures=settings.max_failures,
            journal=directory / "journal.jsonl",
            on_event=on_event,
            stop=stop,
            abort=abort,
        )
        injected = frozenset(
            item.data_ops_service_id
            for item in report.items
            if item.outcome is Outcome.FAILED
            and item.error is not None
            and item.error.kind == "wait_failed"
            and (item.final_state or "").upper() == "ERROR"
            and emu.service_state(item.data_ops_service_id).upper() == "ERROR"
        )
        result = DemoResult(
            settings=settings,
            report=report,
            endpoint=emu.base_url,
            requests=dict(emu.counters.by_status()),
            faults=dict(emu.counters.faults),
            accepted_puts=dict(emu.counters.accepted_puts_per_service),
            injected=injected,
            directory=directory,
            interrupted=stop is not None and stop.is_set(),
        )
    await anyio.to_thread.run_sync(write_report, report, str(result.report_path))
    return result


# -- the command ----------------------------------------------------------------------------------------------


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 100:  # noqa: PLR2004 -- beyond a hundred times slower nobody watches a demo
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 100, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``aiodataops demo``."""
    parser = sub.add_parser(
        "demo",
        help="a fleet update of a few hundred emulated services, with live progress (no account needed)",
        description="Start the emulator in this process with a seeded, misbehaving fleet, update every service "
        "in canary batches through the real client, show the progress and the report. Exit status 0 when the run "
        "behaved as designed (only the injected failures failed), 1 otherwise.",
    )
    parser.add_argument("--services", type=positive_int, default=300, metavar="N", help="fleet size (default 300)")
    parser.add_argument("--seed", type=int, default=7, metavar="S", help="seeds the fleet and its faults (default 7)")
    parser.add_argument(
        "--concurrency", type=positive_int, default=50, metavar="C", help="services in flight at most (default 50)"
    )
    parser.add_argument(
        "--time-scale", type=_scale, default=1.0, metavar="X",
        help="multiply every emulated duration and poll delay by X (0.1: ten times faster; default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--dir", metavar="DIR", help="write the plan, journal and report here (default: a new temporary directory)"
    )
    parser.add_argument(
        "--progress", choices=("auto", "live", "plain", "off"), default="auto",
        help="live panel, plain lines, or nothing on standard error (default: live on a terminal)",
    )  # fmt: skip
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any service did not succeed, as `fleet apply` does"
    )
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="text: a summary; json: one JSON document"
    )
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        services=args.services, seed=args.seed, concurrency=args.concurrency, time_scale=args.time_scale
    )
    try:
        directory = _directory(args.dir)
    except OSError as exc:
        print(f"aiodataops demo: --dir {args.dir}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.USAGE
    text = args.output == "text"
    out = sys.stdout if text else None
    progress = (
        None
        if args.progress == "off"
        else FleetProgress(
            sys.stderr, total=settings.services, live={"auto": None, "live": True, "plain": False}[args.progress]
        )
    )
    try:
        result, _ = anyio.run(
            run_interruptibly,
            lambda stop, abort: _run_shown(settings, directory, progress, out, stop=stop, abort=abort),
        )
    except JournalError as exc:
        print(f"aiodataops demo: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except DataOpsError as exc:
        print(f"aiodataops demo: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    if text:
        print_summary(result, sys.stdout, strict=args.strict)
    else:
        sys.stdout.buffer.write(orjson.dumps(result.to_dict(strict=args.strict), option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    return result.exit_status(strict=args.strict)


def _directory(given: str | None) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix="aiodataops-demo-"))
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _run_shown(
    settings: DemoSettings,
    directory: Path,
    progress: FleetProgress | None,
    out: IO[str] | None,
    *,
    stop: anyio.Event,
    abort: anyio.Event,
) -> DemoResult:
    with contextlib.ExitStack() as shown:

        def ready(emu: Emulator) -> None:
            if out is not None:
                print_intro(settings, emu.base_url, out)
            if progress is not None:
                shown.enter_context(progress)  # after the intro: a live panel must own the terminal's bottom

        return await run_demo(
            settings,
            directory,
            on_event=progress.on_event if progress is not None else None,
            on_ready=ready,
            stop=stop,
            abort=abort,
        )


# -- what it prints -------------------------------------------------------------------------------------------


def print_intro(settings: DemoSettings, endpoint: str, out: IO[str]) -> None:
    """Say what is about to happen."""
    scale = settings.time_scale
    batches = ", ".join(map(str, BATCHES))
    lines = (
        (
            f"aiodataops demo: {settings.services} services in {settings.data_ops} data ops, served by an emulator "
            f"in this process ({endpoint})"
        ),
        (
            f"  misbehaving on purpose: {settings.error_rate:.0%} of updates end in ERROR; "
            f"{settings.throttle_rate:.0%} of updates get 429 (Retry-After {1.0 * scale:g}s);"
        ),
        (
            f"  {settings.unavailable_rate:.0%} of reads get 503 and 10% of list pages 429; reads are stale for "
            f"{0.3 * scale:g}s after an update"
        ),
        f"  plan: one more worker replica on every service, in batches of {batches} with a {settings.bake:g}s bake;",
        f"  failure budget {settings.max_failures}, concurrency {settings.concurrency}",
    )
    out.write("\n".join(lines) + "\n")
    out.flush()


def print_summary(result: DemoResult, out: IO[str], *, strict: bool = False, width: int | None = None) -> None:
    """Print the report's summary, the emulator's counts, the files and the verdict (lines fit ``width``)."""
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    lines = ["", *_report_lines(result), *_emulator_lines(result), _verdict(result, strict=strict)]
    for line in lines:
        indent = "      " if line.startswith("      ") else "    "
        out.write((textwrap.fill(line, width, subsequent_indent=indent, break_on_hyphens=False) if line else "") + "\n")
    out.flush()


def _report_lines(result: DemoResult) -> list[str]:
    report = result.report
    counts = ", ".join(f"{n} {o}" for o, n in report.counts.items() if n) or "no targets"
    lines = [f"fleet: {report.total} services in {report.elapsed_seconds:.1f}s: {counts}"]
    if report.stopped is not StopReason.COMPLETED:
        lines.append(f"  stopped: {report.stopped}")
    troubled = [i for i in report.items if i.outcome is not Outcome.SUCCEEDED]
    if troubled:
        injected = sum(1 for i in troubled if i.data_ops_service_id in result.injected)
        lines.append(f"not succeeded: {len(troubled)} ({injected} made to fail by the emulator's error rate)")
        for item in troubled[:_SHOWN_FAILURES]:
            reason = item.error.message.removeprefix(f"{item.data_ops_service_id}: ") if item.error else ""
            mark = "" if item.data_ops_service_id in result.injected else " [not injected]"
            lines += [f"  {item.outcome} {item.data_ops_service_id}{mark}", f"      {reason}"]
        if len(troubled) > _SHOWN_FAILURES:
            lines.append(f"  ... and {len(troubled) - _SHOWN_FAILURES} more (see the report)")
    durations = sorted(i.total_seconds for i in report.items if i.total_seconds is not None and not i.resumed)
    if durations:
        p95 = durations[min(len(durations) - 1, math.ceil(0.95 * len(durations)) - 1)]
        lines.append(
            f"per service: median {statistics.median(durations):.1f}s, 95th percentile {p95:.1f}s, slowest "
            f"{durations[-1]:.1f}s; peak {report.peak_in_flight} in flight (limit {report.concurrency})"
        )
    return lines


def _emulator_lines(result: DemoResult) -> list[str]:
    total = sum(result.requests.values())
    by_status = ", ".join(f"{n:,} x {status or 'dropped'}" for status, n in sorted(result.requests.items()))
    lines = [f"emulator: {total:,} requests: {by_status}"]
    if result.faults:
        faults = ", ".join(f"{n} x {kind} on {op}" for (op, kind), n in sorted(result.faults.items()))
        lines.append(f"  injected faults, retried by the client: {faults}")
    accepted = sum(result.accepted_puts.values())
    most = max(result.accepted_puts.values(), default=0)
    lines.append(
        f"  updates accepted: {accepted:,}" + (", one per service" if most == 1 else f", up to {most} per service")
    )
    lines.append(f"written to {result.directory}: plan.yaml, journal.jsonl (the run's journal), report.json")
    return lines


def _verdict(result: DemoResult, *, strict: bool) -> str:
    status = result.exit_status(strict=strict)
    if result.interrupted:
        return "exit status 130: interrupted (the services in flight settled first; the journal shows where it stopped)"
    if strict:
        return f"exit status {status} (--strict: {'every' if status == ExitCode.OK else 'not every'} service succeeded)"
    if status == ExitCode.OK:
        failures = "; only the injected failures failed" if not result.report.ok else ""
        return (
            f"exit status 0: as designed (every service accounted for once{failures}); "
            "--strict exits 1 when any service fails, as `fleet apply` does"
        )
    return f"exit status {status}: not as designed: {'; '.join(result.problems())}"
