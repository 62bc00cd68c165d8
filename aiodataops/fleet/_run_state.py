"""A fleet run's shared state and bookkeeping: events, halting, the report lines of ended and skipped targets.

``_engine._Run`` is this plus the pool (``_pool``) and the run's start and end; the feeder and the workers share one
instance (all in one task group, so no locks are needed).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import attrs

from aiodataops._plural import plural
from aiodataops._wire import unstructure
from aiodataops.fleet._budget import FailureBudget
from aiodataops.fleet._events import (
    BudgetExceeded,
    EventCallback,
    FleetEvent,
    Stopping,
    TargetEnded,
)
from aiodataops.fleet._journal import JournalError, JournalWriteError
from aiodataops.fleet._learned_polling import LearnedPollPolicy, SettleTimes
from aiodataops.fleet._pace import Pace as _Pace
from aiodataops.fleet._rate import TokenBucket
from aiodataops.fleet._report import (
    FAILURE_OUTCOMES,
    ErrorInfo,
    ErrorKind,
    ItemReport,
    Outcome,
    StopReason,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Awaitable, Callable, Mapping

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from aiodataops._clock import Clock
    from aiodataops._models import ServiceUpdate
    from aiodataops._polling import PollPolicy
    from aiodataops._protocols import FleetClient
    from aiodataops.fleet._feeder import Batch, Gate
    from aiodataops.fleet._journal import Journal, JournalState
    from aiodataops.fleet._options import Options
    from aiodataops.fleet._source import Source
    from aiodataops.fleet._target import Attempt, Work

log = logging.getLogger("aiodataops.fleet")

#: ``FleetReport.error_kind`` of a run halted because its journal could not be written (``StopReason.ERROR``).
JOURNAL_ERROR_KIND = "journal"


class RunState:
    """One run's state, shared by its feeder and workers, and what records a target's end."""

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
        # The last update unstructured, and its wire form: a plan's targets usually share one update object, which
        # each target compares three times (the read before the PUT, its diff, the settled read). One slot, so
        # memory stays flat however many distinct updates a plan holds; updates are frozen models.
        self._wire: tuple[ServiceUpdate | None, dict[str, Any]] = (None, {})
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

    def wire(self, update: ServiceUpdate) -> dict[str, Any]:
        """``unstructure(update)``, kept for the next target of the same update object (do not change it)."""
        last, wire = self._wire
        if last is not update:
            wire = unstructure(update)
            self._wire = (update, wire)
        return wire

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
