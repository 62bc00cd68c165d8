"""``aiodataops fleet apply PLAN``, ``fleet resume JOURNAL`` and ``fleet rollback JOURNAL``: update many services
at once, continue a run, undo one.

Progress goes to standard error (a live panel on a terminal, plain lines elsewhere); the result to standard output
(a summary ending in the counts, ``_fleet_summary``, or with ``--output json`` the report alone). ``--report FILE``
also writes the JSON report (mode 0600). Every run that may change something keeps a journal: ``--journal FILE``,
or one in the user's state directory (``_state_dir``); when a run exits with anything but 0, the last lines on
standard error are the commands that undo what it changed (``fleet rollback``) and continue it (``fleet resume``).
On a terminal, ``apply`` and ``rollback`` show the dry run and ask before the first PUT (``_confirm``; ``--yes``
skips it). The first Ctrl-C starts no new service and lets those in flight settle (the journal stays whole,
``fleet resume`` continues), and stops listing the targets at once (no further page); a second one stops following
the services in flight too.

Parsing and running are here; what follows a run (report, summary, exit status, the way back) is ``_fleet_end``.

Exit status: 0 every target succeeded or was unchanged (a dry run: every target could be read; a rollback with
nothing to roll back), 1 any failed, timed out or was skipped, the targets could not be read, or the question was
answered no, 2 bad input (plan, flags, settings, journal, a report or journal path that cannot be written: all
checked before the first request), credentials the server refuses, before or during the run, or a journal (or
report) the disk refuses during the run (``fleet resume`` continues it), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from aiodataops.cli._confirm import ask, should_confirm
from aiodataops.cli._connection import client_from_args, connection_parent
from aiodataops.cli._flags import add_output_option
from aiodataops.cli._fleet_end import finish, way_back
from aiodataops.cli._fleet_summary import dry_run_counts, print_summary
from aiodataops.cli._gate import command_gate
from aiodataops.cli._interrupts import run_interruptibly, unless_stopped
from aiodataops.cli._output_files import unwritable
from aiodataops.cli._progress import FleetProgress
from aiodataops.cli._state_dir import STATE_DIR_ENV, default_journal
from aiodataops.fleet._amount import parse_amount
from aiodataops.fleet._batches import parse_batches
from aiodataops.fleet._fleet import journal_changed
from aiodataops.fleet._journal import JournalError, JournalState, read_journal
from aiodataops.fleet._options import OPTION_NAMES
from aiodataops.fleet._plan import Plan, PlanError, Resolver, load_plan
from aiodataops.fleet._rollback import inverse_plan, rollback_journal_path

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiodataops._client import DataOpsClient
    from aiodataops.fleet._report import FleetReport

    _Start = Callable[..., Awaitable[FleetReport]]
    _Preview = Callable[[DataOpsClient], Awaitable[FleetReport]]

__all__ = ["register"]


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
        "--learned-polling", action=argparse.BooleanOptionalAction, default=default if resuming else True,
        help="poll from the settle times this run's first services took: sparse before the likely window, dense "
        f"in it, within the poll policy's floor and cap; --no-learned-polling: the poll policy alone"
        f"{same or ' (default on)'}",
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
    parser.add_argument(
        "--force", action="store_true", default=default if resuming else False,
        help=f"send every update, even to services a read shows it already in place on{same}",
    )  # fmt: skip
    parser.add_argument("--report", metavar="FILE", help="also write the JSON report here (mode 0600)")
    add_output_option(parser, ("text", "json"), "text: a summary (default); json: the report alone")


def _add_gate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gate", metavar="CMD",
        help="a shell command run after each canary batch settled (and baked), with the batch's report as JSON on "
        "its stdin and AIODATAOPS_BATCH, AIODATAOPS_REPORT (a file) in its environment; a non-zero exit stops the "
        "rollout, the rest skipped (needs --batches)",
    )  # fmt: skip
    parser.add_argument(
        "--gate-timeout", type=positive_seconds, default=300.0, metavar="S",
        help="seconds a --gate command may take; past them it is killed and the rollout stops (default 300)",
    )  # fmt: skip


def _gate_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.gate is None:
        return {}
    return {"gate": command_gate(args.gate), "gate_timeout": args.gate_timeout}


def _add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", "-y", action="store_true",
        help="do not ask before the first PUT (asked only when standard input and output are terminals)",
    )  # fmt: skip


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
    apply.add_argument(
        "--journal", metavar="FILE",
        help="record progress and before-images here, for `fleet resume` and `fleet rollback` (default: a new "
        f"file in the user's state directory, ${STATE_DIR_ENV} if set)",
    )  # fmt: skip
    _add_gate(apply)
    _add_yes(apply)
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
    _add_gate(resume)
    resume.set_defaults(handler=_resume)
    rollback = actions.add_parser(
        "rollback",
        parents=[common],
        help="undo a run: put back what its journal recorded before each update",
        description="Undo a run: every service its updates reached (accepted, or in flight when it stopped) gets "
        "the fields its update set back to the values the journal recorded before the PUT; nothing else is sent. "
        "Services already back are unchanged. Runs like apply, with the options and endpoint the journal recorded "
        "unless given here, and keeps its own journal (resumable; rolling it back restores the rollout).",
    )
    rollback.add_argument("journal", metavar="JOURNAL", help="the journal of the run to undo")
    _add_run_options(rollback, resuming=True)
    rollback.add_argument("--dry-run", action="store_true", help="read every service and show what would go back")
    rollback.add_argument(
        "--journal", dest="rollback_journal", metavar="FILE",
        help="the rollback's own journal (default: next to JOURNAL, run.jsonl -> run.rollback.jsonl)",
    )  # fmt: skip
    _add_gate(rollback)
    _add_yes(rollback)
    rollback.set_defaults(handler=_rollback)


# -- running ------------------------------------------------------------------------------------------------


def _apply(args: argparse.Namespace) -> int:
    if args.dry_run and args.journal:
        return _usage("--journal: a dry run changes nothing, so it keeps no journal")
    try:
        plan = load_plan(args.plan)
    except PlanError as exc:
        return _usage(str(exc))
    options = {name: getattr(args, name) for name in OPTION_NAMES}
    gated = _gate_options(args)
    journal: str | None = args.journal
    if journal is not None and Path(journal).is_file() and Path(journal).stat().st_size > 0:
        # As the run would say, but before the targets are counted or previewed: no request for a run refused.
        return _usage(f"{journal}: the journal already holds a run; resume it or choose another file")
    if journal is None and not args.dry_run:
        # Never lose the way back: without --journal the run still keeps one, in the user's state directory.
        try:
            journal = str(default_journal("apply"))
        except OSError as exc:
            return _usage(f"cannot create the default journal's directory ({exc.strerror or exc}); pass --journal FILE")
    return _run(
        args,
        lambda client, **kw: client.fleet.apply(plan, dry_run=args.dry_run, journal=journal, **options, **gated, **kw),
        journal=journal,
        journal_flag="--journal",
        preview=lambda client: client.fleet.apply(plan, dry_run=True, **options),
        count=plan if plan.has_selectors else None,
    )


def _resume(args: argparse.Namespace) -> int:
    state = _read(args)
    if state is None:
        return ExitCode.USAGE
    overrides = {name: getattr(args, name) for name in OPTION_NAMES if hasattr(args, name)}
    # The state read here is passed down: the run reads the journal again only if it changed meanwhile.
    return _run(
        args,
        lambda client, **kw: client.fleet.resume(args.journal, state=state, **overrides, **_gate_options(args), **kw),
        journal=args.journal,
        journal_flag="JOURNAL",
    )


def _rollback(args: argparse.Namespace) -> int:
    state = _read(args)
    if state is None:
        return ExitCode.USAGE
    try:
        inverse = inverse_plan(state, args.journal)  # refused before any request: no before-images, edited, ...
    except JournalError as exc:
        return _usage(str(exc))
    if inverse.plan is None:
        for warning in inverse.warnings:
            print(f"warning: {warning}", file=sys.stdout)
        print(f"nothing to roll back: the run in {args.journal} changed no service", file=sys.stdout)
        return ExitCode.OK
    if args.dry_run and args.rollback_journal:
        return _usage("--journal: a dry run changes nothing, so it keeps no journal")
    into = None if args.dry_run else args.rollback_journal or rollback_journal_path(args.journal)
    overrides = {name: getattr(args, name) for name in OPTION_NAMES if hasattr(args, name)}

    def start(client: DataOpsClient, *, dry_run: bool = args.dry_run, **kw: Any) -> Awaitable[FleetReport]:
        gated = {} if dry_run else _gate_options(args)
        return client.fleet.rollback(
            args.journal, rollback_journal=into, dry_run=dry_run, state=state, **overrides, **gated, **kw
        )

    return _run(args, start, journal=into, journal_flag="--journal", preview=lambda client: start(client, dry_run=True))


def _read(args: argparse.Namespace) -> JournalState | None:
    """Read JOURNAL (``None`` after saying why it cannot be used); its endpoint is the default one."""
    try:
        state = read_journal(args.journal)
    except JournalError as exc:
        _usage(str(exc))
        return None
    header = state.header
    if args.endpoint is None and args.region is None and header.get("endpoint"):
        args.endpoint = header["endpoint"]
    return state


def _usage(message: str) -> int:
    return usage_error("fleet", message)


def _confirm(args: argparse.Namespace, preview: _Preview) -> int | None:
    """Show the dry run and ask before the first PUT; ``None`` to go on, else the exit status."""
    report = _preview(args, preview)
    if isinstance(report, int):
        return report
    to_change, _, _ = dry_run_counts(report)
    if report.total == 0 or to_change == 0:
        return None  # nothing would be sent (the run says so), or nothing matched (the run says that too)
    print_summary(report, sys.stdout)
    try:
        yes = ask(f"Apply to {plural(to_change, 'service')}?", sys.stdin, sys.stdout)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    if not yes:
        print("aiodataops fleet: not applied; nothing was sent", file=sys.stderr)
        return ExitCode.FAILED
    return None


def _preview(args: argparse.Namespace, preview: _Preview) -> FleetReport | int:
    """The dry run shown before the question, or the exit status if it could not be made."""
    try:
        client = client_from_args(args)
    except ConfigurationError as exc:
        return _usage(str(exc))

    async def run() -> FleetReport:
        async with client:
            return await preview(client)

    print("aiodataops fleet: reading the targets to show what would change ...", file=sys.stderr)
    try:
        return anyio.run(run)
    except DataOpsError as exc:
        return error_exit("fleet", exc)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


async def _count(client: DataOpsClient, plan: Plan) -> int | None:
    """How many services a plan with selectors reaches (one pass over the service list), so that progress shows a
    total, a percentage and an ETA from the start; ``None`` if the list cannot be read (the run then says why)."""
    try:
        return sum([1 async for _ in Resolver(plan, client.services.list)])
    except DataOpsError:
        return None


def _run(
    args: argparse.Namespace,
    start: _Start,
    *,
    journal: str | None,
    journal_flag: str,
    preview: _Preview | None = None,
    count: Plan | None = None,
) -> int:
    # Every file the run writes is checked before the first request, not found unwritable after the last PUT.
    problem = unwritable([(journal_flag, journal), ("--report", args.report)])
    if problem is not None:
        return _usage(problem)
    dry_run = getattr(args, "dry_run", False)
    asking = should_confirm(
        yes=getattr(args, "yes", True), dry_run=dry_run, stdin_tty=sys.stdin.isatty(), stdout_tty=sys.stdout.isatty()
    )
    if preview is not None and asking:
        status = _confirm(args, preview)
        if status is not None:
            return status
    try:
        # --concurrency auto may grow to --max-concurrency requests in flight: the connection pool (by default
        # DataOpsClient's, 256) must hold them, or the pool, which the limiter cannot see, would cap the limit.
        adaptive = getattr(args, "concurrency", "auto") == "auto"
        pool = max(getattr(args, "max_concurrency", DEFAULT_MAX_CONCURRENCY), DEFAULT_MAX_CONCURRENCY)
        client = client_from_args(args, concurrency=pool) if adaptive else client_from_args(args)
    except ConfigurationError as exc:
        return _usage(str(exc))
    counting_cut = False
    try:
        # A live panel on a terminal; elsewhere (CI logs, pipes) one plain line per event, which greps well.
        with FleetProgress(sys.stderr, live=sys.stderr.isatty()) as progress:

            async def run(stop: anyio.Event, abort: anyio.Event) -> FleetReport:
                nonlocal counting_cut
                async with client:
                    if count is not None:
                        # A Ctrl-C while counting ends the count at once (no further page), and the run with it: it
                        # starts halted, so it sends nothing and lists nothing more.
                        progress.tally.total = await unless_stopped(stop, lambda: _count(client, count))
                        counting_cut = stop.is_set()
                    return await start(client, on_event=progress.on_event, stop=stop, abort=abort)

            report, interrupted = anyio.run(run_interruptibly, run)
    except DataOpsError as exc:
        return error_exit("fleet", exc)
    status = finish(args, report, interrupted=interrupted, counting_cut=counting_cut)
    if journal is not None and not dry_run:
        way_back(journal, status=status, changed=journal_changed(client.fleet))
    return status
