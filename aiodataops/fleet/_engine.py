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
``_outcomes``'; the run's settings are ``_options``'; the shared state and a target's end ``_run_state``'s; the
workers ``_pool``'s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import anyio

from aiodataops._protocols import FleetClient
from aiodataops.fleet._events import EventCallback, FleetEnded, FleetStarted
from aiodataops.fleet._options import Options
from aiodataops.fleet._outcomes import error_info, outcome_of
from aiodataops.fleet._pool import Pool
from aiodataops.fleet._report import FAILURE_OUTCOMES, FleetReport, StopReason
from aiodataops.fleet._run_state import JOURNAL_ERROR_KIND

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Mapping

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from aiodataops.fleet._feeder import Gate
    from aiodataops.fleet._journal import Journal, JournalState
    from aiodataops.fleet._source import Source

# ``FleetClient``, ``error_info`` and ``outcome_of`` are kept importable from here, where they used to live.
__all__ = ["JOURNAL_ERROR_KIND", "FleetClient", "Options", "error_info", "outcome_of", "run_fleet"]


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


class _Run(Pool):
    """One run: its state (``_run_state``), its pool of workers (``_pool``), its start and its report."""

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
