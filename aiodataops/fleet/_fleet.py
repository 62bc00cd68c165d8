"""``Fleet``: the public face of the engine, bound to one client (``client.fleet``)."""

from __future__ import annotations

import contextlib
import math
import os
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
import attrs

from aiodataops._errors import ConfigurationError
from aiodataops._limiter import DEFAULT_MAX_CONCURRENCY
from aiodataops._paging import StoppableListings
from aiodataops.fleet._batches import Batches, parse_batches
from aiodataops.fleet._budget import parse_max_failures
from aiodataops.fleet._engine import FleetClient, Options, run_fleet
from aiodataops.fleet._journal import Journal, JournalError, JournalState, JournalWriteError, read_journal
from aiodataops.fleet._options import OPTION_NAMES
from aiodataops.fleet._plan import Plan, parse_plan
from aiodataops.fleet._report import FleetReport
from aiodataops.fleet._rollback import inverse_plan, not_before_of, rollback_journal_path
from aiodataops.fleet._source import Source, TargetsInput

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

    from aiodataops.fleet._amount import Amount
    from aiodataops.fleet._events import EventCallback
    from aiodataops.fleet._feeder import Gate

__all__ = ["Fleet"]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _options(
    *,
    concurrency: int | Literal["auto"] = "auto",
    rate: float | None = None,
    batches: str | list[int | str] | tuple[int | str, ...] | Batches | None = None,
    bake: float = 0.0,
    max_failures: int | str | Amount | None = 0,
    timeout: float | None = None,
    dry_run: bool = False,
    put_retries: int = 3,
    force: bool = False,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    learned_polling: bool = True,
) -> Options:
    """Check every option before anything is sent; a bad one raises ``ConfigurationError`` naming it.

    The defaults are ``Fleet.apply``'s, for a resume of a journal that recorded none.
    """
    if concurrency != "auto" and (type(concurrency) is not int or concurrency < 1):
        raise ConfigurationError(f"concurrency: expected a whole number >= 1 or 'auto', got {concurrency!r}")
    if not isinstance(learned_polling, bool):
        raise ConfigurationError(f"learned_polling: expected True or False, got {learned_polling!r}")
    if type(max_concurrency) is not int or max_concurrency < 1:
        raise ConfigurationError(f"max_concurrency: expected a whole number >= 1, got {max_concurrency!r}")
    if rate is not None and (not _is_number(rate) or not (rate > 0 and math.isfinite(rate))):
        raise ConfigurationError(f"rate: expected updates per second above zero, got {rate!r}")
    if not _is_number(bake) or not (bake >= 0 and math.isfinite(bake)):
        raise ConfigurationError(f"bake: expected seconds >= 0, got {bake!r}")
    if timeout is not None and (not _is_number(timeout) or not (timeout > 0 and math.isfinite(timeout))):
        raise ConfigurationError(f"timeout: expected seconds above zero, got {timeout!r}")
    if type(put_retries) is not int or put_retries < 0:
        raise ConfigurationError(f"put_retries: expected a whole number >= 0, got {put_retries!r}")
    if type(force) is not bool:
        raise ConfigurationError(f"force: expected True or False, got {force!r}")
    try:
        parsed_batches = parse_batches(batches)
        parsed_budget = parse_max_failures(max_failures)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(str(exc)) from None
    return Options(
        concurrency=concurrency,
        rate=float(rate) if rate is not None else None,
        batches=parsed_batches,
        bake=float(bake),
        max_failures=parsed_budget,
        timeout=float(timeout) if timeout is not None else None,
        dry_run=dry_run,
        put_retries=put_retries,
        force=force,
        max_concurrency=max_concurrency,
        learned_polling=learned_polling,
    )


class Fleet:
    """Bulk updates of many services through one client: ``report = await client.fleet.apply(plan, ...)``."""

    def __init__(self, client: FleetClient) -> None:
        self._client = client
        self._journal_changed: bool | None = None

    def __repr__(self) -> str:
        return f"Fleet({self._client!r})"

    async def apply(
        self,
        targets: TargetsInput,
        *,
        concurrency: int | Literal["auto"] = "auto",
        rate: float | None = None,
        batches: str | list[int | str] | tuple[int | str, ...] | Batches | None = None,
        bake: float = 0.0,
        max_failures: int | str | Amount | None = 0,
        timeout: float | None = None,  # noqa: ASYNC109 -- each service's settle time, not this call's deadline
        dry_run: bool = False,
        journal: str | os.PathLike[str] | None = None,
        resume: bool = False,
        on_event: EventCallback | None = None,
        stop: anyio.Event | None = None,
        abort: anyio.Event | None = None,
        put_retries: int = 3,
        force: bool = False,
        gate: Gate | None = None,
        gate_timeout: float = 300.0,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        learned_polling: bool = True,
    ) -> FleetReport:
        """Update every target and return a report holding each exactly once.

        ``targets``: a ``Plan`` (selectors resolved lazily through the service list) or ``(service_id, update)``
        pairs in a list, any iterable or an async iterable. ``concurrency``: ``"auto"`` (the default) follows
        the client's adaptive limit, shared by all its requests (``aiodataops._limiter``: it starts at 4, grows
        while requests succeed, halves on a throttle), up to ``max_concurrency`` and the client's connection pool
        (its ``concurrency=``); a number keeps that many services in flight at most (a fixed pool of workers).
        ``learned_polling``: once a few services settled, the rest poll sparsely until the time the first ones took
        and densely around it (``aiodataops.fleet._learned_polling``), within the poll policy's floor, cap and
        deadline; ``False`` polls by the policy alone.
        ``rate``: new updates per second at most. ``batches``: canary batch sizes, e.g. ``[1, 10, "25%"]`` (the
        last repeats); each batch settles before ``bake`` seconds pass and the next starts. ``max_failures``:
        failures (or time-outs) tolerated, a count or ``"N%"`` of the fleet; one more and no new service starts
        (``None``: no limit). ``timeout``: seconds each service may take to settle after its
        update was accepted (default: the client's poll policy deadline), which also bounds how long a throttled PUT is
        sent again. ``dry_run``: read each target and report
        the changes (``ItemReport.diff``), send no PUT. ``journal``: a JSONL file making the run resumable; a new
        run needs a new (or empty) file, ``resume=True`` continues the run it holds; if it cannot be written during
        the run (a full disk), the run halts (``stopped`` is ``StopReason.ERROR``, ``error_kind`` ``"journal"``, the
        target whose intent failed not started, its PUT not sent) and a resume continues it. ``stop``: when set, no
        new service starts, a selector's service list asks for no further page (the one in flight is cancelled),
        and the rest settle; ``abort``: when set, stop following what is in flight too.
        ``put_retries``: how often a PUT is sent again after a 409 (service busy), a 5xx or no answer; before
        sending again, the service is read, and an update already in place is not resent. A 429 does not count: it
        is sent again after the wait it asks for, until the service's ``timeout`` would pass.

        Converging: each target is read first (by its worker, under the same limits); when every field of its update
        already holds on a settled service, no PUT is sent and it ends ``unchanged`` (a success). ``force``: send
        every update all the same. Before each PUT the journal records the prior values of the fields the update
        sets (its before-image, never a secret's value), which ``rollback`` puts back.

        ``gate``: a health gate between canary batches (needs ``batches``): an async callable given each batch's
        report (a ``FleetReport`` of its items) once the batch settled and baked; ``False``, an exception or
        ``gate_timeout`` seconds passing stops the rollout as an exceeded budget does (the rest ``skipped``, with
        the error kind ``gate``; ``stopped`` is ``StopReason.GATE``).

        Bad options or a bad plan raise before any request (``ConfigurationError``, ``PlanError``).
        """
        options = _options(
            concurrency=concurrency,
            rate=rate,
            batches=batches,
            bake=bake,
            max_failures=max_failures,
            timeout=timeout,
            dry_run=dry_run,
            put_retries=put_retries,
            force=force,
            max_concurrency=max_concurrency,
            learned_polling=learned_polling,
        )
        return await self._start(
            targets,
            options,
            journal=journal,
            resume=resume,
            on_event=on_event,
            stop=stop,
            abort=abort,
            gate=_gate(gate, gate_timeout, options),
            gate_timeout=gate_timeout,
        )

    async def resume(
        self,
        journal: str | os.PathLike[str],
        *,
        targets: TargetsInput | None = None,
        state: JournalState | None = None,
        on_event: EventCallback | None = None,
        stop: anyio.Event | None = None,
        abort: anyio.Event | None = None,
        gate: Gate | None = None,
        gate_timeout: float = 300.0,
        **overrides: Any,
    ) -> FleetReport:
        """Continue the run a journal holds: with the plan and options it recorded, unless overridden.

        Ended services are not touched again (their report lines are reused); accepted ones are followed, never
        sent again; the rest start. A run of plain pairs recorded no plan: pass the same ``targets`` again.
        ``state``: the journal as ``read_journal`` returned it, if the caller read it already (it is read again
        only if the file changed since). The journal is locked for the whole run: a second run of the same journal
        raises ``JournalInUseError``. If it cannot be written during the run (disk full), the run halts: the report says
        ``stopped`` ``error`` with ``error_kind`` ``"journal"`` and the cause, and a later resume continues it.
        """
        unknown = set(overrides) - set(OPTION_NAMES)
        if unknown:
            raise ConfigurationError(f"resume: unknown option(s): {', '.join(sorted(unknown))}")
        if state is None:
            state = await anyio.to_thread.run_sync(read_journal, journal)
        targets, options = _resumed_run(state.header, targets, overrides)
        # The run takes the journal over with this state: read again (under its lock) only if the file changed.
        return await self._start(
            targets,
            options,
            journal=journal,
            resume=True,
            state=state,
            on_event=on_event,
            stop=stop,
            abort=abort,
            not_before=not_before_of(state.header),
            gate=_gate(gate, gate_timeout, options),
            gate_timeout=gate_timeout,
        )

    async def rollback(
        self,
        journal: str | os.PathLike[str],
        *,
        rollback_journal: str | os.PathLike[str] | None = None,
        dry_run: bool = False,
        state: JournalState | None = None,
        on_event: EventCallback | None = None,
        stop: anyio.Event | None = None,
        abort: anyio.Event | None = None,
        gate: Gate | None = None,
        gate_timeout: float = 300.0,
        **overrides: Any,
    ) -> FleetReport:
        """Undo the run a journal holds: put back the before-images of the services its updates reached.

        The services accepted (succeeded, failed or timed out after acceptance) or in flight when the run stopped
        get exactly the fields their update set back to the values the journal recorded before the PUT; nothing
        else is sent, and a service that failed before acceptance is left alone. It runs like ``apply``, with the
        run's options unless overridden, converging (a service already back is ``unchanged``), with its own
        journal: ``rollback_journal``, by default next to the first (``run.jsonl`` -> ``run.rollback.jsonl``),
        which ``resume`` continues and which can itself be rolled back (restoring the rollout). ``dry_run``: show
        the inverse diff. ``state``: the journal as ``read_journal`` returned it, if read already.

        Raises ``JournalError`` before any request for a journal that cannot be rolled back: damaged, with no
        before-images (an older version wrote it), of a dry run, or edited so that a before-image names a field
        its update did not set. Nothing to roll back gives an empty report with a warning saying why.
        """
        unknown = set(overrides) - set(OPTION_NAMES)
        if unknown:
            raise ConfigurationError(f"rollback: unknown option(s): {', '.join(sorted(unknown))}")
        name = os.fspath(journal)
        if state is None:
            state = await anyio.to_thread.run_sync(read_journal, name)
        inverse = inverse_plan(state, name)
        if inverse.plan is None:
            return FleetReport(items=(), dry_run=dry_run, warnings=(f"{name}: nothing to roll back", *inverse.warnings))
        _, options = _resumed_run(state.header, inverse.plan, {**overrides, "dry_run": dry_run})
        target_journal = None if dry_run else rollback_journal or rollback_journal_path(name)
        report = await self._start(
            inverse.plan,
            options,
            journal=target_journal,
            resume=False,
            on_event=on_event,
            stop=stop,
            abort=abort,
            not_before=inverse.not_before,
            header=inverse.header(name),
            gate=_gate(gate, gate_timeout, options),
            gate_timeout=gate_timeout,
        )
        return attrs.evolve(report, warnings=(*inverse.warnings, *report.warnings)) if inverse.warnings else report

    async def _start(
        self,
        targets: TargetsInput,
        options: Options,
        *,
        journal: str | os.PathLike[str] | None,
        resume: bool,
        state: JournalState | None = None,
        on_event: EventCallback | None,
        stop: anyio.Event | None,
        abort: anyio.Event | None,
        not_before: Mapping[str, dt.datetime] | None = None,
        header: Mapping[str, Any] | None = None,
        gate: Gate | None = None,
        gate_timeout: float = 300.0,
    ) -> FleetReport:
        """Open (or take over) the journal, then run."""
        # A Ctrl-C stops the service list a selector pages through at once, not only the updates (issue 16).
        listings = StoppableListings(self._client.services.list)
        source = Source(targets, listings.list)
        plan = targets if isinstance(targets, Plan) else None
        if journal is None:
            if resume:
                raise ConfigurationError("resume: needs the journal to resume from")
            return await run_fleet(
                self._client,
                source,
                options,
                on_event=on_event,
                stop=stop,
                abort=abort,
                not_before=not_before,
                gate=gate,
                gate_timeout=gate_timeout,
                stop_listing=listings.stop_fetching,
            )
        if options.dry_run:
            raise ConfigurationError("journal: a dry run changes nothing, so it keeps no journal")
        self._journal_changed = None
        opened, state = await self._open_journal(journal, plan, options, resume=resume, state=state, header=header)
        async with contextlib.AsyncExitStack() as closing:
            # Kept once the journal is closed (its last records durable), for ``journal_changed``.
            closing.callback(lambda: setattr(self, "_journal_changed", opened.changed))
            await closing.enter_async_context(opened)
            try:
                return await run_fleet(
                    self._client,
                    source,
                    options,
                    journal=opened,
                    resumed=state,
                    on_event=on_event,
                    stop=stop,
                    abort=abort,
                    not_before=not_before,
                    gate=gate,
                    gate_timeout=gate_timeout,
                    stop_listing=listings.stop_fetching,
                )
            except BaseExceptionGroup as group:
                failure = _journal_failure(group)
                if failure is None:
                    raise
                # The engine turns a journal write error into a halted run; should one escape it all the same (a
                # bug), one clear, resumable error rather than a group of tracebacks.
                raise failure from group

    async def _open_journal(
        self,
        journal: str | os.PathLike[str],
        plan: Plan | None,
        options: Options,
        *,
        resume: bool,
        state: JournalState | None,
        header: Mapping[str, Any] | None = None,
    ) -> tuple[Journal, JournalState | None]:
        """Create a new run's journal (``header``: more fields for it), or take one over (with ``state``, if read
        already) and mark it resumed."""
        if not resume:
            header_plan = {"path": plan.path, "sha256": plan.sha256, "data": plan.data} if plan else None
            endpoint = getattr(self._client, "endpoint", None)
            created = await Journal.create(
                journal, plan=header_plan, options=options.to_dict(), endpoint=endpoint, extra=header
            )
            return created, None
        opened, state = await Journal.take_over(journal, state=state)
        try:
            _check_same_plan(state, plan, opened.path)
            await opened.resumed(options.to_dict())
        except BaseException:
            await opened.aclose()
            raise
        return opened, state


def _gate(gate: Gate | None, timeout: float, options: Options) -> Gate | None:
    """Check a health gate's settings; it runs between canary batches, so a dry run or a run without any has none."""
    if gate is None:
        return None
    if not callable(gate):
        raise ConfigurationError(f"gate: expected an async callable taking a batch report, got {type(gate).__name__}")
    if not _is_number(timeout) or not (timeout > 0 and math.isfinite(timeout)):
        raise ConfigurationError(f"gate_timeout: expected seconds above zero, got {timeout!r}")
    if options.batches is None and not options.dry_run:
        raise ConfigurationError("gate: a health gate runs between canary batches; set batches too")
    return None if options.dry_run else gate


def _resumed_run(
    header: dict[str, Any], targets: TargetsInput | None, overrides: dict[str, Any]
) -> tuple[TargetsInput, Options]:
    """The targets and options of a resumed run: the journal's, unless given."""
    if targets is None:
        recorded = header.get("plan")
        if not recorded:
            raise ConfigurationError("resume: this journal recorded no plan; pass the same targets again")
        targets = parse_plan(recorded["data"], path=recorded.get("path"))
    options = {k: v for k, v in (header.get("options") or {}).items() if k in OPTION_NAMES}
    options.update(overrides)
    return targets, _options(**options)


def _journal_failure(group: BaseExceptionGroup[BaseException]) -> JournalWriteError | None:
    """The journal write error a run ended with, if that (and cancellations) is all the group holds."""
    matched, rest = group.split(JournalWriteError)
    if matched is None:
        return None
    if rest is not None:
        _, other = rest.split(anyio.get_cancelled_exc_class())
        if other is not None:
            return None
    first: BaseException = matched
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    assert isinstance(first, JournalWriteError)
    return first


def _check_same_plan(state: JournalState, plan: Plan | None, name: str) -> None:
    recorded = state.header.get("plan")
    if plan is not None and recorded and recorded.get("sha256") != plan.sha256:
        raise JournalError(
            f"{name}: the plan changed since this journal was written; resume with the plan it holds "
            "(aiodataops fleet resume JOURNAL) or start a new journal"
        )


def journal_changed(fleet: Fleet) -> bool | None:
    """What the journal of ``fleet``'s last run with one says once closed: whether an update may have reached a
    service (``Journal.changed``); ``None`` when unknown (no such run yet, or a failed write)."""
    return fleet._journal_changed  # noqa: SLF001 -- the command's way-back hint, without reading the file again
