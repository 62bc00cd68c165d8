"""What ``aiodataops demo`` prints on standard output: what is about to happen, then the summary and the verdict."""

from __future__ import annotations

import math
import shutil
import statistics
import textwrap
from typing import IO, TYPE_CHECKING, Final

from aiodataops.cli._common import ExitCode, plural
from aiodataops.cli._demo_run import BATCHES, UPDATE
from aiodataops.cli._fleet_summary import counts_line
from aiodataops.fleet import StopReason
from aiodataops.fleet._report import SUCCESS_OUTCOMES

if TYPE_CHECKING:
    from aiodataops.cli._demo_run import DemoResult, DemoSettings

__all__ = ["print_intro", "print_summary"]

#: The plan's update in words.
UPDATE_TEXT: Final = f"{UPDATE['service_workload']['worker']['replica']} worker replicas"
#: How many failed updates one demo run shows before pointing at the report.
_SHOWN_FAILURES: Final = 20


def print_intro(settings: DemoSettings, endpoint: str, out: IO[str]) -> None:
    """Say what is about to happen."""
    scale = settings.time_scale
    batches = ", ".join(map(str, BATCHES))
    lines = (
        (
            f"aiodataops demo: {plural(settings.services, 'service')} in {settings.data_ops} data ops, served by an "
            f"emulator in this process ({endpoint})"
        ),
        (
            f"  misbehaving on purpose: {settings.error_rate:.0%} of updates end in ERROR; "
            f"{settings.throttle_rate:.0%} of updates get 429 (Retry-After {1.0 * scale:g}s);"
        ),
        (
            f"  {settings.unavailable_rate:.0%} of reads get 503 and 10% of list pages 429; reads are stale for "
            f"{0.3 * scale:g}s after an update"
        ),
        f"  plan: {UPDATE_TEXT} on every service, in batches of {batches} with a {settings.bake:g}s bake;",
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
    lines = [
        f"fleet: {plural(report.total, 'service')} in {report.elapsed_seconds:.1f}s: {counts}",
        f"  {counts_line(report)}",
    ]
    if report.stopped is not StopReason.COMPLETED:
        lines.append(f"  stopped: {report.stopped}")
    troubled = [i for i in report.items if i.outcome not in SUCCESS_OUTCOMES]
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
    lines = [f"emulator: {plural(total, 'request')}: {by_status}"]
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
