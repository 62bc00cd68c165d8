"""After a fleet run: the report file, the summary (or the JSON report) on standard output, the exit status, and
the way back (the commands that undo the run and continue it) on standard error."""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, Final

from aiodataops.cli._common import ExitCode, plural, usage_error
from aiodataops.cli._fleet_summary import print_summary
from aiodataops.cli._output_files import write_report
from aiodataops.fleet._engine import JOURNAL_ERROR_KIND
from aiodataops.fleet._journal import JournalError, read_journal

if TYPE_CHECKING:
    import argparse

    from aiodataops.fleet._report import FleetReport

__all__ = ["finish", "way_back"]

# Error kinds that are the caller's to fix (credentials refused, or not allowed to do this), like a bad flag: exit 2,
# whether reading the targets failed with one or a service did, mid-run.
_CREDENTIAL_KINDS: Final = frozenset({"authentication", "permission_denied"})
# Run errors that exit 2 as well: credentials refused, and a journal that cannot be written (a disk to free).
_USAGE_KINDS: Final = _CREDENTIAL_KINDS | {JOURNAL_ERROR_KIND}


def finish(args: argparse.Namespace, report: FleetReport, *, interrupted: bool, counting_cut: bool) -> int:
    """Write the report and the summary, say what stopped the run if it did not end by itself; the exit status."""
    unwritten = _output(args, report)
    if counting_cut:
        print("aiodataops fleet: interrupted while listing the targets; no service was started", file=sys.stderr)
    status = _exit_status(report, interrupted=interrupted)
    if unwritten is None:
        return status
    if status in (ExitCode.OK, ExitCode.FAILED):
        return _usage(unwritten)
    print(f"aiodataops fleet: {unwritten}", file=sys.stderr)
    return status


def _output(args: argparse.Namespace, report: FleetReport) -> str | None:
    """The report to ``--report``, and the summary (or with ``-o json`` the report) to standard output; why the
    report could not be written, if it could not (checked before the run, so a disk that filled up meanwhile)."""
    unwritten = None
    if args.report:
        try:
            write_report(report, args.report)
        except OSError as exc:
            unwritten = f"--report {args.report}: cannot write the report ({exc.strerror or exc})"
    if args.output == "json":
        sys.stdout.buffer.write(report.to_json(indent=True) + b"\n")
        sys.stdout.flush()
    else:
        print_summary(report, sys.stdout)
    return unwritten


def _exit_status(report: FleetReport, *, interrupted: bool) -> int:
    """The run's exit status; when it is not the report's plain verdict, standard error says why."""
    if interrupted:
        return ExitCode.INTERRUPTED
    if report.error is not None:
        # The targets could not be read (e.g. a 401, or a list that is not JSON): say so, never "nothing matched".
        print(f"aiodataops fleet: {report.error}", file=sys.stderr)
        return ExitCode.USAGE if report.error_kind in _USAGE_KINDS else ExitCode.FAILED
    refused = [item.error for item in report.items if item.error is not None and item.error.kind in _CREDENTIAL_KINDS]
    if refused:
        # Credentials refused mid-run (a key revoked, a token expired) are settings to fix, as at the start: exit 2.
        return _usage(
            f"the server refused the credentials for {len(refused)} of {plural(report.total, 'service')}; "
            f"the first: {refused[0].message}"
        )
    if report.total == 0:
        return _usage("no service matched the plan")
    if report.dry_run:
        return ExitCode.FAILED if report.counts["failed"] else ExitCode.OK
    return ExitCode.OK if report.ok else ExitCode.FAILED


def way_back(journal: str, *, status: int, changed: bool | None) -> None:
    """After a run: the commands that undo what it changed and continue it (only the undo one after exit 0).

    ``changed``: what the run's journal counted as durable; only when it cannot tell is the file read again.
    """
    if changed is None:
        try:
            state = read_journal(journal)
        except JournalError:
            return
        changed = bool(state.accepted) or bool(state.unconfirmed)
    rollback = f"aiodataops fleet rollback {shlex.quote(journal)}"
    if status == ExitCode.OK:
        if changed:
            print(f"aiodataops fleet: to undo this run: {rollback}", file=sys.stderr)
        return
    which = "undo what it changed (first) or continue it (last)" if changed else "continue it"
    print(f"aiodataops fleet: the run is in the journal {journal}; {which} with:", file=sys.stderr)
    if changed:
        print(rollback, file=sys.stderr)
    print(f"aiodataops fleet resume {shlex.quote(journal)}", file=sys.stderr)


def _usage(message: str) -> int:
    return usage_error("fleet", message)
