"""The fan-out: a fixed pool of workers pulling targets from a bounded stream, fed lazily, batch by batch.

Shape of one run::

    feeder --(memory stream, buffer = concurrency)--> `concurrency` workers --> report, journal, events

- Tasks and buffered targets grow with ``concurrency``, never with the fleet: one feeder, ``concurrency`` workers,
  an event dispatcher and two watchers. (The report itself holds one small line per target, and resolving
  selectors remembers the ids it met, to take each service once.)
- One target's failure never cancels another: a worker turns every ``Exception`` into that target's outcome.
- Failure budget: once exceeded, the feeder stops, workers start nothing new (a target already in the buffer is
  reported skipped), in-flight services settle, and the rest of the targets are read and reported skipped.
- Batches: the feeder sends one batch, waits until each of its services ended, bakes, sends the next.
- ``stop`` (the first Ctrl-C) works like an exceeded budget, except that the rest is reported ``not_started``.
  ``abort`` (the second) cancels the in-flight work too: accepted services are reported ``skipped`` with an
  ``aborted`` error, and a resume from the journal follows them.

Per target: write an ``intent`` to the journal, PUT (with ``retry_sent=False``, so that the transport never sends
it again once it may have landed), record the acceptance, then wait for it to settle. A PUT answered 409 (busy:
somebody else's change, or this very update after a lost answer), 5xx or nothing at all may have landed, so before
sending it again the worker waits for the service to settle and compares it with the update: an update already
in place is followed as accepted, never sent twice; that, up to ``put_retries`` times. A 429 was refused, so it
is sent again after the wait it asks for (capped by the poll policy's ``max_retry_after``), as often as the
service's deadline (the poll policy's, or ``timeout``) allows: throttling is the server pacing the run, not a fault.

Resuming (``JournalState``): targets that ended are not touched (their report lines are reused), accepted ones
are followed without a PUT (``resume_wait`` with the journal's token, keeping its deadline), and for an
``intent`` without an acceptance the service is read first: if it is still changing, the worker waits for it to
settle; if the update is then in place, it is followed without a PUT, and only otherwise sent. The remaining gap:
a PUT that landed and already finished, while reads still show the service as it was before (a stale read
outlasting the update), looks unsent and is sent a second time. The same comparison means an update that changes
nothing (the fields already hold those values) is reported succeeded without a PUT when it is recovered.
"""

from __future__ import annotations

import inspect
import logging
import math
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio
import attrs

from aiodataops._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    NotFoundError,
    PermissionDeniedError,
    ResponseShapeError,
    ServerError,
    ThrottledError,
    TimeoutError_,
    TransportError,
    WaitError,
    WaitFailedError,
    WaitTimeoutError,
    WaitTransientError,
    WaitVanishedError,
)
from aiodataops._models import Service, ServiceSummary, ServiceUpdate
from aiodataops._waiting import StateEvent, WaitToken, resume_wait
from aiodataops._wire import structure
from aiodataops.fleet._amount import Amount
from aiodataops.fleet._batches import Batches
from aiodataops.fleet._budget import FailureBudget
from aiodataops.fleet._diff import diff
from aiodataops.fleet._events import (
    Baking,
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    EventCallback,
    FleetEnded,
    FleetEvent,
    FleetStarted,
    Stopping,
    TargetAccepted,
    TargetEnded,
    TargetsResolved,
    TargetStarted,
    TargetStateChanged,
)
from aiodataops.fleet._rate import TokenBucket
from aiodataops.fleet._report import (
    FAILURE_OUTCOMES,
    ErrorInfo,
    FleetReport,
    ItemReport,
    Outcome,
    StopReason,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from aiodataops._clock import Clock
    from aiodataops._polling import PollPolicy
    from aiodataops.fleet._journal import Journal, JournalState
    from aiodataops.fleet._plan import ResolvedTarget
    from aiodataops.fleet._source import Source

__all__ = ["FleetClient", "Options", "run_fleet"]

log = logging.getLogger("aiodataops.fleet")


# -- what the engine needs of a client ------------------------------------------------------------------------


class ServicesAPI(Protocol):
    """The service operations the engine uses (``DataOpsClient.services``)."""

    async def get(self, service_id: str, /) -> Service: ...

    async def update(self, service_id: str, update: ServiceUpdate, /, *, retry_sent: bool = True) -> Service: ...

    def list(self, **filters: Any) -> AsyncIterator[ServiceSummary]: ...

    async def wait_settled(
        self,
        service_id: str,
        *,
        after: Service | None = None,
        policy: PollPolicy | None = None,
        on_event: Any = None,
    ) -> Service | None: ...


class FleetClient(Protocol):
    """The parts of ``DataOpsClient`` a fleet run uses."""

    @property
    def services(self) -> ServicesAPI: ...

    @property
    def data_ops(self) -> Any: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def poll_policy(self) -> PollPolicy: ...


@attrs.frozen
class Options:
    """A run's settings, validated; ``to_dict`` is what a journal header records."""

    concurrency: int = 16
    rate: float | None = None
    batches: Batches | None = None
    bake: float = 0.0
    max_failures: Amount | None = None
    timeout: float | None = None
    dry_run: bool = False
    put_retries: int = 3

    def to_dict(self) -> dict[str, Any]:
        """JSON data (batches and budget in their written form, e.g. ``"1,10,25%"``)."""
        return {
            "concurrency": self.concurrency,
            "rate": self.rate,
            "batches": str(self.batches) if self.batches else None,
            "bake": self.bake,
            "max_failures": str(self.max_failures) if self.max_failures is not None else None,
            "timeout": self.timeout,
            "put_retries": self.put_retries,
        }


# -- errors as report lines -----------------------------------------------------------------------------------

_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (WaitFailedError, "wait_failed"),
    (WaitTimeoutError, "wait_timeout"),
    (WaitVanishedError, "vanished"),
    (WaitTransientError, "wait_transient"),
    (BadRequestError, "bad_request"),
    (AuthenticationError, "authentication"),
    (PermissionDeniedError, "permission_denied"),
    (NotFoundError, "not_found"),
    (ConflictError, "conflict"),
    (ThrottledError, "throttled"),
    (ServerError, "server_error"),
    (APIStatusError, "http_error"),
    (ConnectError, "connect"),
    (TimeoutError_, "timeout"),
    (TransportError, "transport"),
    (ResponseShapeError, "response_shape"),
)


def error_info(exc: BaseException) -> ErrorInfo:
    """A report's summary of an exception: a short kind, the HTTP status if any, and the message."""
    kind = next((name for cls, name in _KINDS if isinstance(exc, cls)), "internal")
    status = exc.status if isinstance(exc, APIStatusError) else None
    return ErrorInfo(kind=kind, message=str(exc) or type(exc).__name__, status=status)


def outcome_of(exc: BaseException) -> Outcome:
    """``timed_out`` for a wait that ran out of time, ``failed`` for anything else."""
    return Outcome.TIMED_OUT if isinstance(exc, WaitTimeoutError) else Outcome.FAILED


# -- one run --------------------------------------------------------------------------------------------------

Mode = Literal["start", "reattach", "recover"]


@attrs.frozen
class _Work:
    seq: int
    service_id: str
    update: ServiceUpdate | None
    place: str | None
    batch: int | None
    mode: Mode = "start"
    token: WaitToken | None = None


@attrs.define
class _Attempt:
    """What one worker learned about one target so far (read when it ends, also when it is aborted)."""

    work: _Work
    started: float
    attempts: int = 0
    polls: int = 0
    accepted_at: float | None = None
    last_state: str | None = None


class _Batch:
    """Counts one batch's targets out and back in; ``settled`` waits for all of them."""

    def __init__(self, index: int | None) -> None:
        self.index = index
        self.sent = 0
        self.counts: dict[str, int] = dict.fromkeys((str(o) for o in Outcome), 0)
        self._ended = 0
        self._sealed = False
        self._done = anyio.Event()

    def ended(self, outcome: Outcome) -> None:
        self._ended += 1
        self.counts[str(outcome)] += 1
        self._check()

    def seal(self) -> None:
        self._sealed = True
        self._check()

    def _check(self) -> None:
        if self._sealed and self._ended >= self.sent:
            self._done.set()

    async def settled(self) -> None:
        await self._done.wait()


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
) -> FleetReport:
    """Run a fleet update (or dry run) to its end and return the report; see the module docstring."""
    run = _Run(client, source, options, journal, resumed)
    return await run.main(on_event, stop, abort)


class _Run:
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
        self.bucket = TokenBucket(options.rate, self.clock) if options.rate and not options.dry_run else None
        self.items: dict[int, ItemReport] = {}
        self.budget = FailureBudget(limit=None)
        self.halted: StopReason | None = None
        self.halt_event = anyio.Event()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.error: str | None = None
        self.error_kind: str | None = None
        self._seq = 0
        self._batches: dict[int | None, _Batch] = {}
        self._events: MemoryObjectSendStream[Awaitable[None]] | None = None
        self._on_event: EventCallback | None = None
        self._reused: set[str] = set()

    # -- events and bookkeeping -------------------------------------------------------------------------------

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
        if self.halted is None or (force and self.halted is not reason):
            self.halted = reason
            self.halt_event.set()
            if reason is not StopReason.BUDGET_EXCEEDED:
                self.emit(Stopping(reason=str(reason), in_flight=self.in_flight))

    def not_started_outcome(self) -> tuple[Outcome, ErrorInfo]:
        if self.halted is StopReason.BUDGET_EXCEEDED:
            limit = self.budget.limit
            return Outcome.SKIPPED, ErrorInfo("budget_exceeded", f"not started: more than {limit} targets failed")
        if self.halted is StopReason.ERROR:
            return Outcome.NOT_STARTED, ErrorInfo("run_error", f"not started: {self.error}")
        return Outcome.NOT_STARTED, ErrorInfo(str(self.halted or "stopped"), "not started: the run was stopped")

    async def finish(self, work: _Work, item: ItemReport) -> None:
        """Record a target's end: report, journal, budget, events, batch."""
        self.items[work.seq] = item
        if self.journal is not None:
            await self.journal.ended(item)
        exceeded = item.outcome in FAILURE_OUTCOMES and self.budget.record_failure()
        self.emit(TargetEnded(item))
        if exceeded:
            assert self.budget.limit is not None
            self.emit(BudgetExceeded(failures=self.budget.failures, limit=self.budget.limit))
            self.halt(StopReason.BUDGET_EXCEEDED)
        batch = self._batches.get(work.batch)
        if batch is not None:
            batch.ended(item.outcome)

    async def skip(self, work: _Work) -> None:
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
        await self._prepare()
        send_events, receive_events = anyio.create_memory_object_stream[Any](math.inf)
        self._events = send_events
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

    async def _prepare(self) -> None:
        """Count the fleet when a percentage needs it, and set the failure budget (carrying a journal's)."""
        options = self.options
        needs_total = (options.batches is not None and options.batches.needs_total and not options.dry_run) or (
            options.max_failures is not None and options.max_failures.percent
        )
        if needs_total:
            await self.source.count()
        if options.max_failures is not None and not options.dry_run:
            self.budget.limit = options.max_failures.of(self.source.total)
        if self.resumed is not None:
            for item in self.resumed.ended.values():
                if item.outcome in FAILURE_OUTCOMES:
                    self.budget.failures += 1
            if self.budget.exceeded:
                self.halt(StopReason.BUDGET_EXCEEDED)

    async def _work(self, stop: anyio.Event | None, abort: anyio.Event | None) -> None:
        concurrency = self.options.concurrency
        send, receive = anyio.create_memory_object_stream[_Work](concurrency)
        leftover = receive.clone()
        work_scope = anyio.CancelScope()
        async with anyio.create_task_group() as watchers:
            if stop is not None:
                watchers.start_soon(self._watch, stop, StopReason.INTERRUPTED, None)
            if abort is not None:
                watchers.start_soon(self._watch, abort, StopReason.ABORTED, work_scope)
            with work_scope:
                async with anyio.create_task_group() as workers:
                    for _ in range(concurrency):
                        workers.start_soon(self._worker, receive.clone())
                    receive.close()
                    async with send:
                        await self._feed(send)
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

    # -- feeding ----------------------------------------------------------------------------------------------

    async def _feed(self, send: MemoryObjectSendStream[_Work]) -> None:
        try:
            await self._feed_journal(send)
            await self._feed_source(send)
        except Exception as exc:  # noqa: BLE001 -- whatever broke the targets, it is the run's error, reported
            # Resolving targets failed (e.g. the service list answered 403): start nothing more, let the rest settle.
            log.warning("reading the targets failed: %s", exc)
            info = error_info(exc)
            self.error = f"reading the targets failed: {info.message}"
            self.error_kind = info.kind
            self.halt(StopReason.ERROR)
        finally:
            with anyio.CancelScope(shield=True):
                await self.source.aclose()

    async def _feed_journal(self, send: MemoryObjectSendStream[_Work]) -> None:
        """Follow what a journal shows in flight (never PUT again), before anything new starts."""
        state = self.resumed
        if state is None or self.options.dry_run:
            return
        batch = _Batch(None)
        self._batches[None] = batch
        for sid, token in state.reattach.items():
            batch.sent += 1
            await send.send(_Work(self.next_seq(), sid, None, None, None, mode="reattach", token=token))
        for sid, intent in state.unconfirmed.items():
            update: ServiceUpdate = structure(intent.update, ServiceUpdate)
            batch.sent += 1
            await send.send(_Work(self.next_seq(), sid, update, None, None, mode="recover"))
        batch.seal()
        if self.options.batches is not None:
            # Canary batches: what was in flight at the crash settles before the next batch starts.
            await batch.settled()

    async def _feed_source(self, send: MemoryObjectSendStream[_Work]) -> None:
        state = self.resumed
        handled = set(state.ended) | set(state.reattach) | set(state.unconfirmed) if state else set()
        batches = None if self.options.dry_run else self.options.batches
        index = 0
        exhausted = False
        while not exhausted and self.halted is None:
            if batches is None:
                exhausted = await self._feed_batch(send, None, None, handled)
                break
            batch = _Batch(index)
            exhausted = await self._feed_batch(send, batch, batches.size(index, self.source.total), handled)
            if batch.sent == 0:
                break
            batch.seal()
            await batch.settled()
            del self._batches[index]
            self.emit(BatchEnded(index=index, counts=batch.counts))
            if exhausted or self.halted is not None:
                break
            index += 1
            if self.options.bake > 0:
                self.emit(Baking(seconds=self.options.bake, next_batch=index))
                await self._bake(self.options.bake)
        if not exhausted and self.halted not in (StopReason.ABORTED, StopReason.ERROR):
            await self._drain(handled)
        self._add_unmet_journal_items()
        if self.source.total is not None:
            self.emit(TargetsResolved(total=self.source.total))

    async def _feed_batch(
        self, send: MemoryObjectSendStream[_Work], batch: _Batch | None, size: int | None, handled: set[str]
    ) -> bool:
        """Send up to ``size`` targets (all of them without batches); True when the targets ran out."""
        index = batch.index if batch is not None else None
        while batch is None or size is None or batch.sent < size:
            if self.halted is not None:
                return False
            target = await self.source.next()
            if target is None:
                return True
            if target.service_id in handled:
                await self._met_handled(target)
                continue
            if batch is not None:
                if batch.sent == 0:
                    self._batches[batch.index] = batch
                    self.emit(BatchStarted(index=index or 0, size=size or 0))
                batch.sent += 1
            await send.send(_Work(self.next_seq(), target.service_id, target.update, target.place, index))
        return False

    async def _bake(self, seconds: float) -> None:
        """Sleep on the clock between batches, cut short if the run halts meanwhile."""

        async def cut_short(scope: anyio.CancelScope) -> None:
            await self.halt_event.wait()
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(cut_short, group.cancel_scope)
            await self.clock.sleep(seconds)
            group.cancel_scope.cancel()

    async def _met_handled(self, target: ResolvedTarget) -> None:
        """A target the journal already accounts for: reuse its ended line; in-flight ones are already queued."""
        assert self.resumed is not None
        item = self.resumed.ended.get(target.service_id)
        if item is not None and target.service_id not in self._reused:
            self._reuse(item)

    def _reuse(self, item: ItemReport) -> None:
        # Not through ``finish``: the journal already has it, and the budget counted it at the start.
        self._reused.add(item.data_ops_service_id)
        item = attrs.evolve(item, resumed=True)
        self.items[self.next_seq()] = item
        self.emit(TargetEnded(item))

    def _add_unmet_journal_items(self) -> None:
        """Ended services the targets no longer name (a selector no longer matches them) stay in the report."""
        if self.resumed is None:
            return
        for sid, item in self.resumed.ended.items():
            if sid not in self._reused:
                self._reuse(item)

    async def _drain(self, handled: set[str]) -> None:
        """Read the rest of the targets, reporting each as skipped or not started."""
        while (target := await self.source.next()) is not None:
            if target.service_id in handled:
                await self._met_handled(target)
                continue
            await self.skip(_Work(self.next_seq(), target.service_id, target.update, target.place, None))

    # -- working ----------------------------------------------------------------------------------------------

    async def _worker(self, receive: MemoryObjectReceiveStream[_Work]) -> None:
        async with receive:
            async for work in receive:
                await self._process(work)

    async def _process(self, work: _Work) -> None:
        if work.mode == "start" and self.halted is not None:
            await self.skip(work)
            return
        if work.mode == "start" and self.bucket is not None:
            await self.bucket.acquire()
            if self.halted is not None:
                await self.skip(work)
                return
        attempt = _Attempt(work, started=self.clock.now())
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            item = await self._run_target(attempt)
        except anyio.get_cancelled_exc_class():
            self._record_aborted(work, attempt)
            raise
        finally:
            self.in_flight -= 1
        await self.finish(work, item)

    def _record_aborted(self, work: _Work, attempt: _Attempt | None) -> None:
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
            error=ErrorInfo("aborted", message),
            attempts=attempt.attempts if attempt else 0,
            polls=attempt.polls if attempt else 0,
            batch=work.batch,
            place=work.place,
        )
        self.items[work.seq] = item
        self.emit(TargetEnded(item))

    async def _run_target(self, attempt: _Attempt) -> ItemReport:
        work = attempt.work
        self.emit(TargetStarted(service_id=work.service_id, batch=work.batch, reattach=work.mode == "reattach"))
        try:
            if self.options.dry_run:
                return await self._dry_run(attempt)
            final = await self._update(attempt)
        except Exception as exc:
            # One target's failure, whatever it is, is that target's outcome and nobody else's.
            if not isinstance(exc, WaitError | APIStatusError | TransportError | ResponseShapeError):
                log.exception("unexpected error while updating %s", work.service_id)
            if isinstance(exc, WaitError):
                attempt.polls = max(attempt.polls, exc.polls)
                attempt.last_state = exc.last_state
            return self._item(attempt, outcome_of(exc), error=error_info(exc))
        return self._item(attempt, Outcome.SUCCEEDED, final_state=final.state if final else attempt.last_state)

    def _item(
        self,
        attempt: _Attempt,
        outcome: Outcome,
        *,
        final_state: str | None = None,
        error: ErrorInfo | None = None,
        changes: Any = None,
    ) -> ItemReport:
        now = self.clock.now()
        work = attempt.work
        return ItemReport(
            data_ops_service_id=work.service_id,
            outcome=outcome,
            final_state=final_state if final_state is not None else attempt.last_state,
            error=error,
            attempts=attempt.attempts,
            polls=attempt.polls,
            batch=work.batch,
            place=work.place,
            accept_seconds=attempt.accepted_at - attempt.started if attempt.accepted_at is not None else None,
            settle_seconds=now - attempt.accepted_at if attempt.accepted_at is not None else None,
            total_seconds=now - attempt.started,
            resumed=work.mode != "start",
            diff=changes,
        )

    async def _dry_run(self, attempt: _Attempt) -> ItemReport:
        work = attempt.work
        assert work.update is not None
        current = await self.services.get(work.service_id)
        attempt.last_state = current.state
        return self._item(attempt, Outcome.NOT_STARTED, final_state=current.state, changes=diff(current, work.update))

    def _on_wait_event(self, attempt: _Attempt) -> Callable[[StateEvent], None]:
        """The ``on_event`` of one wait: counts its polls on top of earlier waits', and reports state changes."""
        sid = attempt.work.service_id
        base = attempt.polls

        def on_wait_event(event: StateEvent) -> None:
            attempt.polls = max(attempt.polls, base + event.polls)
            if event.new_state is not None:
                attempt.last_state = event.new_state
            # Building an event costs per poll; skip it when nobody listens.
            if event.kind in ("change", "unknown") and self._on_event is not None:
                self.emit(
                    TargetStateChanged(
                        service_id=sid,
                        old=event.old_state,
                        new=event.new_state,
                        elapsed=event.elapsed,
                        polls=event.polls,
                    )
                )

        return on_wait_event

    async def _update(self, attempt: _Attempt) -> Service | None:
        work = attempt.work
        if work.mode == "reattach":
            assert work.token is not None
            attempt.last_state = work.token.accepted_state
            result: Service | None = await resume_wait(
                work.token, self.client, policy=self.policy, on_event=self._on_wait_event(attempt), clock=self.clock
            )
            return result
        assert work.update is not None
        accepted: Service | None = None
        if work.mode == "recover":
            # The PUT of a crashed run may or may not have landed: look before sending it again.
            accepted = await self._already_applied(attempt, work.update)
        if accepted is None:
            if self.journal is not None:
                await self.journal.intent(work.service_id, work.update)
            accepted = await self._put(attempt, work.update)
        if self.journal is not None:
            await self.journal.accepted(WaitToken.for_accepted(accepted, policy=self.policy))
        attempt.accepted_at = self.clock.now()
        attempt.last_state = accepted.state
        if self._on_event is not None:
            self.emit(
                TargetAccepted(
                    service_id=work.service_id,
                    state=accepted.state,
                    attempts=attempt.attempts,
                    elapsed=attempt.accepted_at - attempt.started,
                )
            )
        return await self.services.wait_settled(
            work.service_id, after=accepted, policy=self.policy, on_event=self._on_wait_event(attempt)
        )

    async def _put(self, attempt: _Attempt, update: ServiceUpdate) -> Service:
        """PUT until accepted; before sending again after an answer that leaves doubt, look whether it landed."""
        sid = attempt.work.service_id
        retries = 0  # answers that leave doubt (409, 5xx, none): at most ``put_retries``
        throttled = 0  # 429s: bounded by the service's deadline only
        while True:
            attempt.attempts += 1
            try:
                # retry_sent=False: the transport must not send it again once it may have landed; this loop looks
                # first (a retried PUT after a lost answer could otherwise be accepted a second time).
                return await self.services.update(sid, update, retry_sent=False)
            except ThrottledError as exc:
                # A 429 was refused, not applied: the server pacing us, as the waits treat it too, so it does not
                # use up ``put_retries`` (at high fault rates, counting it lost services to sheer bad luck). Wait
                # as told and send again, unless that wait would take the service past its deadline.
                throttled += 1
                # The poll policy's cap, not the transport's retry_after_cap: this loop paces itself like the waits
                # around it (its backoff comes from the same policy), and an hour-long hint must not hold a worker.
                delay = self.policy.delay(throttled, retry_after=exc.retry_after)
                if self.clock.now() - attempt.started + delay > self.policy.deadline:
                    raise
                await self.clock.sleep(delay)
                continue
            except (ConflictError, ServerError, TransportError):
                # 409: another change is running, or this very PUT landed and its answer was lost (the transport
                # then retried it). 5xx or no answer: it may have landed all the same.
                retries += 1
                if retries > self.options.put_retries:
                    raise
            applied = await self._already_applied(attempt, update)
            if applied is not None:
                return applied
            await self.clock.sleep(self.policy.delay(retries))

    async def _already_applied(self, attempt: _Attempt, update: ServiceUpdate) -> Service | None:
        """Wait for the service to stop changing; return it if ``update`` is already in place, else ``None``."""
        try:
            current = await self.services.wait_settled(
                attempt.work.service_id, after=None, policy=self.policy, on_event=self._on_wait_event(attempt)
            )
        except WaitFailedError as exc:
            # A change that ended in ERROR: if it was this update, the update failed (the wait after it says so).
            current = exc.last_body if isinstance(exc.last_body, Service) else None
        if current is not None and not diff(current, update):
            return current
        return None

    # -- the report -------------------------------------------------------------------------------------------

    def _report(self, started: float) -> FleetReport:
        warnings = self.source.warnings
        return FleetReport(
            items=tuple(self.items[seq] for seq in sorted(self.items)),
            stopped=self.halted or StopReason.COMPLETED,
            dry_run=self.options.dry_run,
            elapsed_seconds=self.clock.now() - started,
            concurrency=self.options.concurrency,
            peak_in_flight=self.peak_in_flight,
            error=self.error,
            warnings=warnings,
            error_kind=self.error_kind,
        )
