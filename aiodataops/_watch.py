"""``watch_settled``: a wait run in the background, its events handed over as an async stream (``Watch``).

``async with watch_settled(get, sid, after=accepted) as watch: async for event in watch: ...``; then
``watch.result``. Leaving the block early cancels the wait: no task outlives the ``async with``.
"""

from __future__ import annotations

import math
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from anyio.streams.memory import MemoryObjectReceiveStream

    from aiodataops._accepted import Operation
    from aiodataops._clock import Clock
    from aiodataops._polling import PollPolicy, RandomSource
    from aiodataops._protocols import Readable
    from aiodataops._waiting import StateEvent

__all__ = ["Watch", "watch_settled"]

R = TypeVar("R", bound="Readable")


class Watch(Generic[R]):
    """The events of one running wait as an async iterator; ``result`` holds the outcome once they end.

    Iterating ends when the wait ends; if the wait failed, the ``WaitError`` is raised from the ``async for``.
    """

    def __init__(self, events: MemoryObjectReceiveStream[StateEvent]) -> None:
        self._events = events
        self._done = False
        self._result: R | None = None
        self._error: BaseException | None = None

    def __aiter__(self) -> AsyncIterator[StateEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StateEvent]:
        async with self._events:
            async for event in self._events:
                yield event
        if self._error is not None:
            raise self._error

    @property
    def result(self) -> R | None:
        """The settled resource (``None`` after a delete); raises the wait's error, or if it is still running."""
        if not self._done:
            raise RuntimeError("the wait has not finished: iterate its events to the end first")
        if self._error is not None:
            raise self._error
        return self._result


@asynccontextmanager
async def watch_settled(
    get: Callable[[str], Awaitable[R]],
    resource_id: str,
    *,
    after: R | None = None,
    operation: Operation = "update",
    policy: PollPolicy | None = None,
    clock: Clock | None = None,
    rng: RandomSource | None = None,
    accepted: bool | None = None,
) -> AsyncIterator[Watch[R]]:
    """Run ``wait_settled`` in the background and yield its events as an async stream.

    ``async with watch_settled(get, sid, after=accepted) as watch: async for event in watch: ...``; then
    ``watch.result``. Leaving the block early cancels the wait: no task outlives the ``async with``.
    """
    from aiodataops._waiting import StateEvent, wait_settled  # noqa: PLC0415 -- _waiting re-exports this module

    # Unbounded on purpose: a wait makes at most a few events per poll, and a slow reader must not slow polling.
    send, receive = anyio.create_memory_object_stream[StateEvent](math.inf)
    watch: Watch[R] = Watch(receive)

    async def run() -> None:
        async with send:
            try:
                watch._result = await wait_settled(  # noqa: SLF001 -- Watch is this function's own result holder
                    get,
                    resource_id,
                    after=after,
                    operation=operation,
                    policy=policy,
                    on_event=send.send_nowait,
                    clock=clock,
                    rng=rng,
                    accepted=accepted,
                )
            except Exception as exc:  # noqa: BLE001 -- handed to the reader, who re-raises it from its loop
                watch._error = exc  # noqa: SLF001 -- see above
            # Not in a finally: a cancelled wait has no outcome, and ``result`` must keep saying so.
            watch._done = True  # noqa: SLF001 -- see above

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            try:
                yield watch
            finally:
                group.cancel_scope.cancel()
                receive.close()
    except BaseExceptionGroup as group_error:
        # ``run`` never raises, so whatever is here came from the caller's block: give it back unwrapped.
        if len(group_error.exceptions) == 1:
            raise group_error.exceptions[0] from None
        raise
