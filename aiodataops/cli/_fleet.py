"""``aiodataops fleet apply PLAN`` and ``aiodataops fleet resume JOURNAL``: update many services at once.

Progress goes to standard error (a live panel on a terminal, plain lines elsewhere); the result to standard output
(a summary, or with ``--output json`` the report alone). ``--report FILE`` also writes the JSON report (mode 0600).
The first Ctrl-C starts no new service and lets those in flight settle (the journal stays whole, ``fleet resume``
continues); a second one stops following them too.

Exit status: 0 every target succeeded (a dry run: every target could be read), 1 any failed, timed out or was
skipped or the targets could not be read, 2 bad input (plan, flags, settings, journal, a report or journal path
that cannot be written: all checked before the first request) or credentials the server refuses, before or during
the run, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, TYPE_CHECKING, Final

import anyio

from aiodataops._errors import ConfigurationError, DataOpsError
from aiodataops._limiter import DEFAULT_MAX_CONCURRENCY
from aiodataops.cli._argtypes import (
    MAX_CONCURRENCY,
    concurrency_or_auto,
    count,
    positive_int,
    positive_seconds,
    seconds_or_zero,
)
from aiodataops.cli._common import ExitCode, error_exit, plural, usage_error
from aiodataops.cli._connection import client_from_args, connection_parent
from aiodataops.cli._flags import add_output_option
from aiodataops.cli._interrupts import run_interruptibly
from aiodataops.cli._output_files import unwritable, write_report
from aiodataops.cli._plain import item_line
from aiodataops.cli._progress import FleetProgress
from aiodataops.fleet._amount import parse_amount
from aiodataops.fleet._batches import parse_batches
from aiodataops.fleet._journal import JournalError, read_journal
from aiodataops.fleet._plan import PlanError, load_plan
from aiodataops.fleet._report import FleetReport, Outcome

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    _Start = Callable[..., Awaitable[FleetReport]]

__all__ = ["register"]

# Error kinds that are the caller's to fix (credentials refused, or not allowed to do this), like a bad flag: exit 2,
# whether reading the targets failed with one or a service did, mid-run.
_CREDENTIAL_KINDS: Final = frozenset({"authentication", "permission_denied"})

#: The client's connection pool unless --concurrency auto asks for more (DataOpsClient's default).
_POOL: Final = 32
_OPTION_FLAGS: Final = (
    "concurrency",
    "rate",
    "batches",
    "bake",
    "max_failures",
    "timeout",
    "put_retries",
    "max_concurrency",
)


# -- parsing ------------------------------------------------------------------------------------------------


def _batches(text: str) -> str:
    try:
        parse_batches(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("batches: ")) from None
    return text


def _max_failures(text: str) -> str:
    try:
        parse_amount(text, what="max failures")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("max failures: ")) from None
    return text


def _add_run_options(parser: argparse.ArgumentParser, *, resuming: bool) -> None:
    default = argparse.SUPPRESS if resuming else None
    same = " (default: as recorded in the journal)" if resuming else ""
    parser.add_argument(
        "--concurrency", type=concurrency_or_auto, default=default if resuming else "auto", metavar="auto|N",
        help="auto: find the API's limit (start small, grow while requests succeed, halve on 429), shared by every "
        f"request; N: services in flight at most, up to {MAX_CONCURRENCY}{same or ' (default auto)'}",
    )  # fmt: skip
    parser.add_argument(
        "--max-concurrency", type=positive_int, default=default if resuming else DEFAULT_MAX_CONCURRENCY, metavar="N",
        help=f"the cap of --concurrency auto: requests in flight at most{same or ' (default 256)'}",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=positive_seconds, default=default, metavar="R",
        help=f"new updates per second at most{same}",
    )  # fmt: skip
    parser.add_argument(
        "--batches", type=_batches, default=default, metavar="1,10,25%",
        help=f"canary batch sizes, the last repeating; each settles before the next{same}",
    )  # fmt: skip
    parser.add_argument(
        "--bake", type=seconds_or_zero, default=default if resuming else 0.0, metavar="S",
        help=f"seconds to wait between batches{same}",
    )  # fmt: skip
    parser.add_argument(
        "--max-failures", type=_max_failures, default=default if resuming else "0", metavar="N|P%",
        help=f"failures tolerated before no new service starts{same or ' (default 0: stop at the first)'}",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=positive_seconds, default=default, metavar="S",
        help=f"seconds each service may take to settle{same}",
    )  # fmt: skip
    parser.add_argument(
        "--put-retries", type=count, default=default if resuming else 3, metavar="N",
        help=f"times a PUT is sent again after a 409, a 5xx or no answer, 429s not counted{same or ' (default 3)'}",
    )  # fmt: skip
    parser.add_argument("--report", metavar="FILE", help="also write the JSON report here (mode 0600)")
    add_output_option(parser, ("text", "json"), "text: a summary (default); json: the report alone")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``fleet apply`` and ``fleet resume``."""
    parser = sub.add_parser(
        "fleet",
        help="update many services at once (plans, canary batches, failure budget, resumable journal)",
        description="Update many services at once: bounded, in canary batches, with a failure budget and a journal.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = connection_parent()
    apply = actions.add_parser(
        "apply",
        parents=[common],
        help="apply a plan (YAML or JSON)",
        description="Apply a plan: every target gets its update; see the README for the plan format.",
    )
    apply.add_argument("plan", metavar="PLAN", help="the plan file (.yaml, .yml or .json)")
    _add_run_options(apply, resuming=False)
    apply.add_argument("--dry-run", action="store_true", help="read every target and show what would change")
    apply.add_argument("--journal", metavar="FILE", help="record progress here so that `fleet resume` can continue")
    apply.set_defaults(handler=_apply)
    resume = actions.add_parser(
        "resume",
        parents=[common],
        help="continue an interrupted or crashed run from its journal",
        description="Continue a run from its journal: ended services are left alone, accepted ones are followed "
        "(never sent again), the rest start. The plan, options and endpoint recorded in the journal are used "
        "unless given here.",
    )
    resume.add_argument("journal", metavar="JOURNAL", help="the journal of the run to continue (its --journal file)")
    _add_run_options(resume, resuming=True)
    resume.set_defaults(handler=_resume)


# -- progress and results -----------------------------------------------------------------------------------


def _summary(report: FleetReport, out: IO[str]) -> None:
    counts = ", ".join(f"{n} {o}" for o, n in report.counts.items() if n) or "no targets"
    head = "dry run" if report.dry_run else "fleet"
    print(f"{head}: {plural(report.total, 'target')}: {counts} in {report.elapsed_seconds:.1f}s", file=out)
    if str(report.stopped) != "completed":
        print(f"stopped: {report.stopped}", file=out)
    if report.error:
        print(f"error: {report.error}", file=out)
    for warning in report.warnings:
        print(f"warning: {warning}", file=out)
    for item in report.items:
        if item.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) or item.diff is not None:
            print("  " + item_line(item), file=out)


def _exit_status(report: FleetReport, *, interrupted: bool) -> int:
    """The run's exit status; when it is not the report's plain verdict, standard error says why."""
    if interrupted:
        return ExitCode.INTERRUPTED
    if report.error is not None:
        # The targets could not be read (e.g. a 401, or a list that is not JSON): say so, never "nothing matched".
        print(f"aiodataops fleet: {report.error}", file=sys.stderr)
        return ExitCode.USAGE if report.error_kind in _CREDENTIAL_KINDS else ExitCode.FAILED
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


# -- running ------------------------------------------------------------------------------------------------


def _apply(args: argparse.Namespace) -> int:
    if args.dry_run and args.journal:
        return _usage("--journal: a dry run changes nothing, so it keeps no journal")
    try:
        plan = load_plan(args.plan)
    except PlanError as exc:
        return _usage(str(exc))
    options = {name: getattr(args, name) for name in _OPTION_FLAGS}
    return _run(
        args,
        lambda client, **kw: client.fleet.apply(plan, dry_run=args.dry_run, journal=args.journal, **options, **kw),
    )


def _resume(args: argparse.Namespace) -> int:
    try:
        state = read_journal(args.journal)
    except JournalError as exc:
        return _usage(str(exc))
    header = state.header
    if args.endpoint is None and args.region is None and header.get("endpoint"):
        args.endpoint = header["endpoint"]
    overrides = {name: getattr(args, name) for name in _OPTION_FLAGS if hasattr(args, name)}
    # The state read here is passed down: the run reads the journal again only if it changed meanwhile.
    return _run(args, lambda client, **kw: client.fleet.resume(args.journal, state=state, **overrides, **kw))


def _usage(message: str) -> int:
    return usage_error("fleet", message)


def _run(args: argparse.Namespace, start: _Start) -> int:
    # Every file the run writes is checked before the first request, not found unwritable after the last PUT.
    journal_flag = "JOURNAL" if args.action == "resume" else "--journal"
    problem = unwritable([(journal_flag, args.journal), ("--report", args.report)])
    if problem is not None:
        return _usage(problem)
    try:
        # --concurrency auto may grow to --max-concurrency requests in flight: the connection pool must hold them.
        adaptive = getattr(args, "concurrency", "auto") == "auto"
        pool = getattr(args, "max_concurrency", DEFAULT_MAX_CONCURRENCY)
        client = client_from_args(args, concurrency=max(_POOL, pool)) if adaptive else client_from_args(args)
    except ConfigurationError as exc:
        return _usage(str(exc))
    try:
        # A live panel on a terminal; elsewhere (CI logs, pipes) one plain line per event, which greps well.
        with FleetProgress(sys.stderr, live=sys.stderr.isatty()) as progress:

            async def run(stop: anyio.Event, abort: anyio.Event) -> FleetReport:
                async with client:
                    return await start(client, on_event=progress.on_event, stop=stop, abort=abort)

            report, interrupted = anyio.run(run_interruptibly, run)
    except DataOpsError as exc:
        return error_exit("fleet", exc)
    if args.report:
        write_report(report, args.report)
    if args.output == "json":
        sys.stdout.buffer.write(report.to_json(indent=True) + b"\n")
        sys.stdout.flush()
    else:
        _summary(report, sys.stdout)
    return _exit_status(report, interrupted=interrupted)
