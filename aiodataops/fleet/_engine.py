"""The fan-out: a pool of workers pulling targets from a bounded stream, fed lazily, batch by batch.

The pool is fixed (``concurrency=N``) or follows the client's adaptive limit (``concurrency="auto"``: workers are
added as the limit grows and leave as it falls; ``_pace``).

Shape of one run::

    feeder --(memory stream, buffer = concurrency)--> `concurrency` workers --> report, journal, events

- Tasks and buffered targets grow with ``concurrency``, never with the fleet: one feeder, ``concurrency`` workers
  (fewer when fewer targets are known to exist), an event dispatcher and two watchers. (The report itself holds one
  small line per target, and resolving selectors remembers the ids it met, to take each service once.)
- One target's failure never cancels another: a worker turns every ``Exception`` into that target's outcome.
- Failure budget: once exceeded, the feeder stops, workers start nothing new (a target already in the buffer is
  reported skipped), in-flight services settle, and the rest of the targets are read and reported skipped.
- Batches: the feeder (``_feeder``) sends one batch, waits until each of its services ended, bakes, sends the next.
- ``stop`` (the first Ctrl-C) works like an exceeded budget, except that the rest is reported ``not_started``; it
  also stops the service list a selector pages through (no page is asked for after it).
- A journal that cannot be written (disk full) halts the run with ``StopReason.ERROR`` and ``error_kind``
  ``"journal"``: the target whose ``intent`` failed is ``not_started`` (its PUT is never sent), what is in flight
  settles, and ``fleet resume`` continues from what the journal holds.
  ``abort`` (the second) cancels the in-flight work too: accepted services are reported ``skipped`` with an
  ``aborted`` error, and a resume from the journal follows them.

One target's life (PUT, look before a resend, wait, resume) is ``_target``'s; turning errors into report lines is
``_outcomes``'; the run's settings are ``_options``'.
"""

from __future__ import annotations

import inspect
import logging
import math
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import attrs

from aiodataops._plural import plural
from aiodataops._protocols import FleetClient
from aiodataops.fleet._budget import FailureBudget
from aiodataops.fleet._events import (
    BudgetExceeded,
    EventCallback,
    FleetEnded,
    FleetEvent,
    FleetStarted,
    PaceChanged,
    Stopping,
    TargetEnded,
)
from aiodataops.fleet._feeder import Batch, Feeder
from aiodataops.fleet._journal import JournalError, JournalWriteError
from aiodataops.fleet._learned_polling import LearnedPollPolicy, SettleTimes
from aiodataops.fleet._options import Options
from aiodataops.fleet._outcomes import error_info, outcome_of
from aiodataops.fleet._pace import Pace as _Pace
from aiodataops.fleet._rate import TokenBucket
from aiodataops.fleet._report import (
    FAILURE_OUTCOMES,
    ErrorInfo,
    ErrorKind,
    FleetReport,
    ItemReport,
    Outcome,
    StopReason,
)
from aiodataops.fleet._target import Attempt, Target, Work

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Awaitable, Callable, Mapping

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from aiodataops._clock import Clock
    from aiodataops._polling import PollPolicy
    from aiodataops.fleet._feeder import Gate
    from aiodataops.fleet._journal import Journal, JournalState
    from aiodataops.fleet._source import Source

# ``FleetClient``, ``error_info`` and ``outcome_of`` are kept importable from here, where they used to live.
__all__ = ["JOURNAL_ERROR_KIND", "FleetClient", "Options", "error_info", "outcome_of", "run_fleet"]

log = logging.getLogger("aiodataops.fleet")

#: ``FleetReport.error_kind`` of a run halted because its journal could not be written (``StopReason.ERROR``).
JOURNAL_ERROR_KIND = "journal"


async def run_fleet(
    client: FleetClient,
    source: Source,
    options: Options,
    *,
    journal: Journal | None = None,
    resumed: JournalState | None = None,
    on_event: EventCallback | None = None,
    stop: anyio.Event | None = None,
    abort: anyio.Event | None = None,
    not_before: Mapping[str, dt.datetime] | None = None,
    gate: Gate | None = None,
    gate_timeout: float = 300.0,
    stop_listing: Callable[[], None] | None = None,
) -> FleetReport:
    """Run a fleet update (or dry run) to its end and return the report; see the module docstring.

    ``not_before``: per service, when a change of ours was sent (a rollback's rollout); a target's first read must
    prove itself newer before it can call the service ``unchanged`` (``_target``). ``gate``: called with each canary
    batch's report once it settled (and baked), before the next starts; false, an error or ``gate_timeout`` seconds
    passing stops the run as an exceeded budget does (the rest ``skipped``, ``StopReason.GATE``; ``_feeder``).
    ``stop_listing``: stops the service list ``source`` pages through (``StoppableListings.stop_fetching``); called
    when ``stop`` or ``abort`` is set, so that no page is asked for after a Ctrl-C.
    """
    run = _Run(client, source, options, journal, resumed)
    run.stop_listing = stop_listing
    run.not_before = not_before or {}
    run.gate, run.gate_timeout = gate, gate_timeout
    return await run.main(on_event, stop, abort)


class _Run:
    """One run's state, shared by its feeder and workers (all in one task group, so no locks are needed)."""

    def __init__(
        self,
        client: FleetClient,
        source: Source,
        options: Options,
        journal: Journal | None,
        resumed: JournalState | None,
    ) -> None:
        self.client = client
        self.services = client.services
        self.source = source
        self.options = options
        self.journal = journal
        self.resumed = resumed
        self.clock: Clock = client.clock
        policy = client.poll_policy
        self.policy: PollPolicy = attrs.evolve(policy, deadline=options.timeout) if options.timeout else policy
        self.settles = SettleTimes()
        if options.learned_polling:
            self.policy = LearnedPollPolicy.learning(self.policy, self.settles)
        self.bucket = TokenBucket(options.rate, self.clock) if options.rate and not options.dry_run else None
        self.items: dict[int, ItemReport] = {}
        self.budget = FailureBudget(limit=None)
        self.halted: StopReason | None = None
        self.halt_event = anyio.Event()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.pace = _Pace.of(client, options)
        self.error: str | None = None
        self.error_kind: str | None = None
        self.batches: dict[int | None, Batch] = {}
        self.not_before: Mapping[str, dt.datetime] = {}
        self.gate: Gate | None = None
        self.gate_timeout = 300.0
        self.gate_failure: str | None = None
        self.stop_listing: Callable[[], None] | None = None
        self.not_started_why: str | None = None
        self._seq = 0
        self._events: MemoryObjectSendStream[Awaitable[None]] | None = None
        self._on_event: EventCallback | None = None
        self.workers = 0
        self._workers: anyio.abc.TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[Work] | None = None
        #: The receive ends handed to workers not yet ended (closed at the end, should a worker never start).
        self._clones: list[MemoryObjectReceiveStream[Work]] = []

    # -- events and bookkeeping -------------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        """Whether anybody follows the events (building one per poll costs, so skip it when nobody does)."""
        return self._on_event is not None

    def emit(self, event: FleetEvent) -> None:
        """Call ``on_event`` now; a coroutine it returns is awaited, in order, by the dispatcher task."""
        if self._on_event is None:
            return
        try:
            result = self._on_event(event)
        except Exception:
            log.exception("on_event raised on %s; the run goes on", event.kind)
            return
        if inspect.isawaitable(result) and self._events is not None:
            self._events.send_nowait(result)

    async def _dispatch(self, receive: MemoryObjectReceiveStream[Awaitable[None]]) -> None:
        async with receive:
            async for pending in receive:
                try:
                    await pending
                except Exception:
                    log.exception("on_event raised; the run goes on")

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def halt(self, reason: StopReason, *, force: bool = False) -> None:
        """Start nothing new from now on (the first reason is the one reported, unless ``force``: an abort)."""
        if reason in (StopReason.INTERRUPTED, StopReason.ABORTED) and self.stop_listing is not None:
            # A Ctrl-C stops the listing too, at once: the targets already listed are reported, no page is read.
            self.stop_listing()
        if self.halted is None or (force and self.halted is not reason):
            self.halted = reason
            self.halt_event.set()
            if reason is not StopReason.BUDGET_EXCEEDED:
                self.emit(Stopping(reason=str(reason), in_flight=self.in_flight))

    async def nap(self, seconds: float) -> bool:
        """Sleep on the run's clock, cut short when the run halts meanwhile; True when it slept the whole time.

        Between batches and before a throttled PUT is sent again: after a stop (Ctrl-C), an exceeded budget or a
        failed gate nothing new may start, and a wait that would end in a new PUT must not hold the stop up.
        """
        if self.halted is not None:
            return False

        async def cut_short(scope: anyio.CancelScope) -> None:
            await self.halt_event.wait()
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(cut_short, group.cancel_scope)
            await self.clock.sleep(seconds)
            group.cancel_scope.cancel()
        return self.halted is None

    def journal_failed(self, error: JournalError) -> None:
        """The journal took a record no more (disk full, I/O error): halt as a run error, the first such error being
        the run's. Nothing new starts (a PUT needs its intent on disk first), what is in flight settles, and the
        report's ``error`` names the journal and the cause; ``fleet resume`` continues once the cause is fixed."""
        if self.error is None:
            log.info("%s", error)  # the report carries it (the command prints it once); a disk's fault, not a bug
            self.error = str(error)
            self.error_kind = JOURNAL_ERROR_KIND
            # Each target not started says why in short; the run's error says how to go on.
            self.not_started_why = error.problem if isinstance(error, JournalWriteError) else str(error)
        self.halt(StopReason.ERROR)

    def not_started_outcome(self) -> tuple[Outcome, ErrorInfo]:
        if self.halted is StopReason.BUDGET_EXCEEDED:
            limit = self.budget.limit
            assert limit is not None  # a budget is exceeded only when it has a limit
            return Outcome.SKIPPED, ErrorInfo(
                ErrorKind.BUDGET_EXCEEDED, f"not started: more than {plural(limit, 'target')} failed"
            )
        if self.halted is StopReason.GATE:
            return Outcome.SKIPPED, ErrorInfo(ErrorKind.GATE, f"not started: {self.gate_failure}")
        if self.halted is StopReason.ERROR:
            why = self.not_started_why or self.error
            return Outcome.NOT_STARTED, ErrorInfo(ErrorKind.RUN_ERROR, f"not started: {why}")
        return Outcome.NOT_STARTED, ErrorInfo(str(self.halted or "stopped"), "not started: the run was stopped")

    async def finish(self, work: Work, item: ItemReport) -> None:
        """Record a target's end: report, journal, budget, events, batch."""
        self.items[work.seq] = item
        if item.outcome is Outcome.SUCCEEDED and not item.resumed:
            self.settles.add(item.settle_seconds)
        if self.journal is not None:
            try:
                await self.journal.ended(item)
            except JournalError as exc:
                # The line stays in the report; a resume follows the service again from its ``accepted`` record.
                self.journal_failed(exc)
        exceeded = item.outcome in FAILURE_OUTCOMES and self.budget.record_failure()
        self.emit(TargetEnded(item))
        if exceeded:
            assert self.budget.limit is not None
            self.emit(BudgetExceeded(failures=self.budget.failures, limit=self.budget.limit))
            self.halt(StopReason.BUDGET_EXCEEDED)
        batch = self.batches.get(work.batch)
        if batch is not None:
            batch.ended(item.outcome)

    async def skip(self, work: Work) -> None:
        outcome, error = self.not_started_outcome()
        item = ItemReport(
            data_ops_service_id=work.service_id,
            outcome=outcome,
            error=error,
            batch=work.batch,
            place=work.place,
        )
        await self.finish(work, item)

    # -- the run ----------------------------------------------------------------------------------------------

    async def main(
        self,
        on_event: EventCallback | None,
        stop: anyio.Event | None,
        abort: anyio.Event | None,
    ) -> FleetReport:
        started = self.clock.now()
        self._on_event = on_event
        # Before the task group: an error here (the service list refused) reaches the caller unwrapped.
        await self._prepare(stop)
        send_events, receive_events = anyio.create_memory_object_stream[Any](math.inf)
        self._events = send_events
        # Every stream end is closed on the way out, cancelled or not: a run cancelled before a task that would
        # close its end started would leave it open (a ResourceWarning, issue 16).
        with receive_events, send_events:
            return await self._main(started, stop, abort, send_events, receive_events)

    async def _main(
        self,
        started: float,
        stop: anyio.Event | None,
        abort: anyio.Event | None,
        send_events: MemoryObjectSendStream[Any],
        receive_events: MemoryObjectReceiveStream[Any],
    ) -> FleetReport:
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._dispatch, receive_events)
            try:
                self.emit(
                    FleetStarted(
                        total=self.source.total,
                        concurrency=self.options.concurrency,
                        dry_run=self.options.dry_run,
                        resumed=len(self.resumed.ended) if self.resumed else 0,
                    )
                )
                await self._work(stop, abort)
                report = self._report(started)
                self.emit(FleetEnded(report))
            finally:
                send_events.close()
        return report

    async def _prepare(self, stop: anyio.Event | None) -> None:
        """Count the fleet when a percentage needs it, and set the failure budget (carrying a journal's)."""
        options = self.options
        needs_total = (options.batches is not None and options.batches.needs_total and not options.dry_run) or (
            options.max_failures is not None and options.max_failures.percent
        )
        if needs_total:
            await self._count(stop)
        if options.max_failures is not None and not options.dry_run:
            self.budget.limit = options.max_failures.of(self.source.total)
        if self.resumed is not None:
            for item in self.resumed.ended.values():
                if item.outcome in FAILURE_OUTCOMES:
                    self.budget.failures += 1
            if self.budget.exceeded:
                self.halt(StopReason.BUDGET_EXCEEDED)

    async def _count(self, stop: anyio.Event | None) -> None:
        """``source.count()``, its listing stopped by ``stop`` (a Ctrl-C while counting asks for no further page; the
        run halts once it started, ``_work_with``)."""
        stop_listing = self.stop_listing
        if stop is None or stop_listing is None:
            await self.source.count()
            return

        async def cut_listing() -> None:
            await stop.wait()
            stop_listing()

        if stop.is_set():
            stop_listing()
        error: Exception | None = None
        async with anyio.create_task_group() as watcher:
            watcher.start_soon(cut_listing)
            try:
                await self.source.count()
            except Exception as exc:  # noqa: BLE001 -- re-raised below, outside the task group, so not wrapped
                error = exc
            watcher.cancel_scope.cancel()
        if error is not None:
            raise error

    def _worker_count(self) -> int:
        """``concurrency`` (or what the adaptive pace wants now), but never more than there are targets, when known."""
        concurrency = self.pace.wanted(self.in_flight)
        total = self.source.total
        if total is None:
            return concurrency
        in_flight = len(self.resumed.reattach) + len(self.resumed.unconfirmed) if self.resumed else 0
        return max(1, min(concurrency, total + in_flight))

    async def _work(self, stop: anyio.Event | None, abort: anyio.Event | None) -> None:
        send, receive = anyio.create_memory_object_stream[Work](self.pace.buffer)
        leftover = receive.clone()
        self._clones.clear()
        try:
            await self._work_with(stop, abort, send, receive, leftover)
        finally:
            send.close()
            for stream in (receive, leftover, *self._clones):
                stream.close()

    async def _work_with(
        self,
        stop: anyio.Event | None,
        abort: anyio.Event | None,
        send: MemoryObjectSendStream[Work],
        receive: MemoryObjectReceiveStream[Work],
        leftover: MemoryObjectReceiveStream[Work],
    ) -> None:
        work_scope = anyio.CancelScope()
        if stop is not None and stop.is_set():
            # Stopped already (a Ctrl-C while the targets were counted): now, before the feeder asks for a page.
            self.halt(StopReason.INTERRUPTED)
        async with anyio.create_task_group() as watchers:
            if stop is not None:
                watchers.start_soon(self._watch, stop, StopReason.INTERRUPTED, None)
            if abort is not None:
                watchers.start_soon(self._watch, abort, StopReason.ABORTED, work_scope)
            with work_scope:
                async with anyio.create_task_group() as workers:
                    self._workers = workers
                    self._receive = receive
                    self._resize()
                    if self.pace.limiter is None:
                        receive.close()  # a fixed pool: its workers hold the only receivers
                        self._receive = None
                    else:
                        self.pace.limiter.listeners.append(self._resize)
                    # Adaptive: workers may still be started (from ``self._receive``) after the feeder is done,
                    # while the buffer drains; each one's stream ends once it is empty, the sender being closed.
                    async with send:
                        await Feeder(self).feed(send)
                if self.pace.limiter is not None:
                    self.pace.limiter.listeners.remove(self._resize)
                self._workers = None
                self._receive = None
                receive.close()
            watchers.cancel_scope.cancel()
        with leftover:
            if work_scope.cancelled_caught:
                # Aborted: what still sits in the buffer was never started.
                while True:
                    try:
                        work = leftover.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                    self._record_aborted(work, None)

    async def _watch(self, event: anyio.Event, reason: StopReason, scope: anyio.CancelScope | None) -> None:
        await event.wait()
        self.halt(reason, force=reason is StopReason.ABORTED)
        if scope is not None:
            scope.cancel()

    # -- working ----------------------------------------------------------------------------------------------

    def _resize(self) -> None:
        """Start workers up to the count wanted now (a fixed pool: once, at the start)."""
        if self._receive is None or self._workers is None:
            return
        for _ in range(self._worker_count() - self.workers):
            self.workers += 1
            clone = self._receive.clone()
            self._clones.append(clone)
            self._workers.start_soon(self._worker, clone)
        if self.listening and self.pace.limiter is not None and self.pace.limiter.current != self.pace.reported:
            self.pace.reported = self.pace.limiter.current
            self.emit(PaceChanged(limit=self.pace.reported, workers=self.workers, in_flight=self.in_flight))

    async def _worker(self, receive: MemoryObjectReceiveStream[Work]) -> None:
        try:
            async with receive:
                async for work in receive:
                    await self._process(work)
                    if self.pace.limiter is not None:
                        if self.workers > max(1, self._worker_count()):
                            return  # the adaptive limit fell: fewer services in flight from now on
                        self._resize()
        finally:
            self.workers -= 1
            self._clones.remove(receive)

    async def _process(self, work: Work) -> None:
        if work.mode == "start" and self.halted is not None:
            await self.skip(work)
            return
        if work.mode == "start" and self.bucket is not None:
            await self.bucket.acquire()
            if self.halted is not None:
                await self.skip(work)
                return
        attempt = Attempt(work, started=self.clock.now())
        self.pace.account(self.in_flight)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            item = await Target(self, attempt).report()
        except anyio.get_cancelled_exc_class():
            self._record_aborted(work, attempt)
            raise
        finally:
            self.pace.account(self.in_flight)
            self.in_flight -= 1
        await self.finish(work, item)

    def _record_aborted(self, work: Work, attempt: Attempt | None) -> None:
        """An aborted target's line, written without awaiting (the worker is being cancelled)."""
        if (attempt is not None and attempt.accepted_at is not None) or work.mode == "reattach":
            outcome = Outcome.SKIPPED
            message = "accepted, then the run was aborted before it settled; resume the journal to follow it"
        else:
            outcome = Outcome.NOT_STARTED
            message = "the run was aborted"
            if attempt is not None and attempt.attempts:
                message += " while a PUT was in flight; a resume reads the service before sending it again"
        item = ItemReport(
            data_ops_service_id=work.service_id,
            outcome=outcome,
            final_state=attempt.last_state if attempt else None,
            error=ErrorInfo(ErrorKind.ABORTED, message),
            attempts=attempt.attempts if attempt else 0,
            polls=attempt.polls if attempt else 0,
            batch=work.batch,
            place=work.place,
        )
        self.items[work.seq] = item
        self.emit(TargetEnded(item))

    # -- the report -------------------------------------------------------------------------------------------

    def _report(self, started: float) -> FleetReport:
        return FleetReport(
            items=tuple(self.items[seq] for seq in sorted(self.items)),
            stopped=self.halted or StopReason.COMPLETED,
            dry_run=self.options.dry_run,
            elapsed_seconds=self.clock.now() - started,
            concurrency=self.options.concurrency,
            peak_in_flight=self.peak_in_flight,
            mean_concurrency=self.pace.mean_concurrency(),
            throttled_requests=self.pace.throttled(),
            error=self.error,
            warnings=self.source.warnings,
            error_kind=self.error_kind,
        )
