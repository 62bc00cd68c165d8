"""Feeding the workers: the journal's unfinished targets first, then the targets, batch by batch.

The feeder sends one batch into the bounded stream, waits until each of its services ended (``Batch.settled``),
bakes, and sends the next. Once the run halts (budget, stop, abort, a broken target list) it sends nothing more;
the rest of the targets are read and reported skipped or not started (``drain``). Targets a journal already
accounts for are not sent again: an ended one's line is reused, an in-flight one was sent first, to be followed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import attrs

from aiodataops._models import ServiceUpdate
from aiodataops._wire import structure
from aiodataops.fleet._events import Baking, BatchEnded, BatchStarted, TargetEnded, TargetsResolved
from aiodataops.fleet._outcomes import error_info
from aiodataops.fleet._report import FleetReport, Outcome, StopReason
from aiodataops.fleet._target import Work

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream

    from aiodataops.fleet._plan import ResolvedTarget
    from aiodataops.fleet._report import ItemReport
    from aiodataops.fleet._run_state import RunState

__all__ = ["Batch", "Feeder", "Gate"]

#: A health gate: called with a canary batch's report once it settled; true lets the next batch start.
Gate = Callable[[FleetReport], Awaitable[bool]]

log = logging.getLogger("aiodataops.fleet")


class Batch:
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


class Feeder:
    """Sends a run's targets to its workers (``feed``), batch by batch, and accounts for those it does not send."""

    def __init__(self, run: RunState) -> None:
        self.run = run
        self.source = run.source
        self.options = run.options
        self.resumed = run.resumed
        self._reused: set[str] = set()

    async def feed(self, send: MemoryObjectSendStream[Work]) -> None:
        """Send every target (journal first); a failure reading the targets halts the run with that error."""
        run = self.run
        try:
            await self._feed_journal(send)
            await self._feed_source(send)
        except Exception as exc:  # noqa: BLE001 -- whatever broke the targets, it is the run's error, reported
            # Resolving targets failed (e.g. the service list answered 403): start nothing more, let the rest settle.
            log.warning("reading the targets failed: %s", exc)
            info = error_info(exc)
            run.error = f"reading the targets failed: {info.message}"
            run.error_kind = str(info.kind)
            run.halt(StopReason.ERROR)
        finally:
            with anyio.CancelScope(shield=True):
                await self.source.aclose()

    async def _feed_journal(self, send: MemoryObjectSendStream[Work]) -> None:
        """Follow what a journal shows in flight (never PUT again), before anything new starts."""
        state = self.resumed
        if state is None or self.options.dry_run:
            return
        run = self.run
        batch = Batch(None)
        run.batches[None] = batch
        for sid, token in state.reattach.items():
            batch.sent += 1
            await send.send(Work(run.next_seq(), sid, None, None, None, mode="reattach", token=token))
        for sid, intent in state.unconfirmed.items():
            update: ServiceUpdate = structure(intent.update, ServiceUpdate)
            batch.sent += 1
            await send.send(Work(run.next_seq(), sid, update, None, None, mode="recover", before=intent.before))
        batch.seal()
        if self.options.batches is not None:
            # Canary batches: what was in flight at the crash settles before the next batch starts.
            await batch.settled()

    async def _feed_source(self, send: MemoryObjectSendStream[Work]) -> None:
        run = self.run
        state = self.resumed
        handled = set(state.ended) | set(state.reattach) | set(state.unconfirmed) if state else set()
        batches = None if self.options.dry_run else self.options.batches
        index = 0
        exhausted = False
        while not exhausted and run.halted is None:
            if batches is None:
                exhausted = await self._feed_batch(send, None, None, handled)
                break
            batch = Batch(index)
            exhausted = await self._feed_batch(send, batch, batches.size(index, self.source.total), handled)
            if batch.sent == 0:
                break
            batch.seal()
            await batch.settled()
            del run.batches[index]
            run.emit(BatchEnded(index=index, counts=batch.counts))
            if run.halted is not None:
                break
            if not exhausted and self.options.bake > 0:
                run.emit(Baking(seconds=self.options.bake, next_batch=index + 1))
                await self.run.nap(self.options.bake)  # cut short if the run halts meanwhile
            # The health gate judges every batch, the last one too (then it judges the whole rollout).
            if run.gate is not None and run.halted is None and not await self._gate(index):
                break
            if exhausted:
                break
            index += 1
        if not exhausted and run.halted not in (StopReason.ABORTED, StopReason.ERROR):
            await self._drain(handled)
        self._add_unmet_journal_items()
        if self.source.total is not None:
            run.emit(TargetsResolved(total=self.source.total))

    async def _feed_batch(
        self, send: MemoryObjectSendStream[Work], batch: Batch | None, size: int | None, handled: set[str]
    ) -> bool:
        """Send up to ``size`` targets (all of them without batches); True when the targets ran out."""
        run = self.run
        index = batch.index if batch is not None else None
        while batch is None or size is None or batch.sent < size:
            if run.halted is not None:
                return False
            target = await self.source.next()
            if target is None:
                return True
            if target.service_id in handled:
                await self._met_handled(target)
                continue
            if batch is not None:
                if batch.sent == 0:
                    run.batches[batch.index] = batch
                    run.emit(BatchStarted(index=index or 0, size=size or 0))
                batch.sent += 1
            await send.send(Work(run.next_seq(), target.service_id, target.update, target.place, index))
        return False

    async def _gate(self, index: int) -> bool:
        """Ask the health gate about batch ``index``; on no (or an error, or its timeout) halt the run."""
        run = self.run
        assert run.gate is not None
        items = tuple(item for item in run.items.values() if item.batch == index)
        report = FleetReport(items=items, elapsed_seconds=0.0, concurrency=self.options.concurrency)
        why: str | None = None
        try:
            with anyio.fail_after(run.gate_timeout):
                passed = bool(await run.gate(report))
        except TimeoutError:
            why = f"the health gate after batch {index + 1} did not answer within {run.gate_timeout:g}s"
        except Exception as exc:  # noqa: BLE001 -- a broken gate stops the rollout, it does not crash the run
            log.warning("the health gate after batch %d raised: %s", index + 1, exc)
            why = f"the health gate after batch {index + 1} failed: {exc or type(exc).__name__}"
        else:
            why = None if passed else f"the health gate after batch {index + 1} said stop"
        if why is None:
            return True
        run.gate_failure = why
        run.halt(StopReason.GATE)
        return False

    async def _met_handled(self, target: ResolvedTarget) -> None:
        """A target the journal already accounts for: reuse its ended line; in-flight ones are already queued."""
        assert self.resumed is not None
        item = self.resumed.ended.get(target.service_id)
        if item is not None and target.service_id not in self._reused:
            self._reuse(item)

    def _reuse(self, item: ItemReport) -> None:
        # Not through ``finish``: the journal already has it, and the budget counted it at the start.
        run = self.run
        self._reused.add(item.data_ops_service_id)
        item = attrs.evolve(item, resumed=True)
        run.items[run.next_seq()] = item
        run.emit(TargetEnded(item))

    def _add_unmet_journal_items(self) -> None:
        """Ended services the targets no longer name (a selector no longer matches them) stay in the report."""
        if self.resumed is None:
            return
        for sid, item in self.resumed.ended.items():
            if sid not in self._reused:
                self._reuse(item)

    async def _drain(self, handled: set[str]) -> None:
        """Read the rest of the targets, reporting each as skipped or not started."""
        run = self.run
        while (target := await self.source.next()) is not None:
            if target.service_id in handled:
                await self._met_handled(target)
                continue
            await run.skip(Work(run.next_seq(), target.service_id, target.update, target.place, None))
