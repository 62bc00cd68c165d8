"""The pool of workers of a fleet run: fixed (``concurrency=N``) or following the client's adaptive limit
(``concurrency="auto"``: workers are added as the limit grows and leave as it falls; ``_pace``), fed through one
bounded memory stream by the feeder (``_feeder``), each turning one target at a time into its report line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import anyio.abc

from aiodataops.fleet._events import PaceChanged
from aiodataops.fleet._feeder import Feeder
from aiodataops.fleet._report import StopReason
from aiodataops.fleet._run_state import RunState
from aiodataops.fleet._target import Attempt, Target, Work

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream


class Pool(RunState):
    """The workers and the stream that feeds them, on top of the run's state."""

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
