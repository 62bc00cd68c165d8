"""What ``fleet apply|resume|rollback`` print on standard output at the end, like ``terraform plan``/``apply``.

A run::

    fleet: 20 targets in 3.1s
      failed      DOPS_SERVICE-... (ERROR) in 0.4s: wait_failed: ...
    14 changed, 5 unchanged, 1 failed, 0 timed out, 0 skipped, 0 not started

A dry run lists each change once (its progress lines do not repeat them), by service name and id::

    dry run: 20 targets read in 0.4s
      ~ airflow-prod-1 (DOPS_SERVICE-...)
          service_workload.worker.replica: "2" -> "5"
    18 to change, 2 unchanged
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any, Final

import orjson

from aiodataops.cli._common import plural
from aiodataops.cli._plain import item_line
from aiodataops.fleet import Outcome

if TYPE_CHECKING:
    from aiodataops.fleet import FleetReport, ItemReport

__all__ = ["counts_line", "dry_run_counts", "print_summary", "service_label"]

#: The counts of a run's last line, in order, with the word each outcome is counted under.
_COUNTED: Final = (
    (Outcome.SUCCEEDED, "changed"),
    (Outcome.UNCHANGED, "unchanged"),
    (Outcome.FAILED, "failed"),
    (Outcome.TIMED_OUT, "timed out"),
    (Outcome.SKIPPED, "skipped"),
    (Outcome.NOT_STARTED, "not started"),
)


def service_label(item: ItemReport) -> str:
    """``name (id)`` when a read showed the service's name, else the id."""
    sid = item.data_ops_service_id
    return f"{item.service_name} ({sid})" if item.service_name else sid


def counts_line(report: FleetReport) -> str:
    """``14 changed, 5 unchanged, 1 failed, 0 timed out, 0 skipped, 0 not started``."""
    counts = report.counts
    return ", ".join(f"{counts[str(outcome)]:,} {word}" for outcome, word in _COUNTED)


def dry_run_counts(report: FleetReport) -> tuple[int, int, int]:
    """A dry run's ``(to change, unchanged, failed)``: failed counts the targets that could not be read."""
    to_change = sum(1 for i in report.items if i.diff)
    unchanged = sum(1 for i in report.items if i.diff is not None and not i.diff)
    return to_change, unchanged, report.total - to_change - unchanged


def _value(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def print_summary(report: FleetReport, out: IO[str]) -> None:
    """Write the summary; its last line is the counts."""
    if report.dry_run:
        print(f"dry run: {plural(report.total, 'target')} read in {report.elapsed_seconds:.1f}s", file=out)
    else:
        print(f"fleet: {plural(report.total, 'target')} in {report.elapsed_seconds:.1f}s", file=out)
    if str(report.stopped) != "completed":
        gate = next((i.error.message for i in report.items if i.error is not None and i.error.kind == "gate"), None)
        why = f" ({gate.removeprefix('not started: ')})" if gate else ""
        print(f"stopped: {report.stopped}{why}", file=out)
    if report.error:
        print(f"error: {report.error}", file=out)
    for warning in report.warnings:
        print(f"warning: {warning}", file=out)
    for item in report.items:
        if item.diff:
            print(f"  ~ {service_label(item)}", file=out)
            for change in item.diff:
                print(f"      {change.field}: {_value(change.current)} -> {_value(change.desired)}", file=out)
        elif item.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) or (report.dry_run and item.diff is None):
            print("  " + item_line(item), file=out)
    if report.dry_run:
        to_change, unchanged, failed = dry_run_counts(report)
        print(
            f"{to_change:,} to change, {unchanged:,} unchanged" + (f", {failed:,} failed" if failed else ""), file=out
        )
    else:
        print(counts_line(report), file=out)
