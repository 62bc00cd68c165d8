"""Ctrl-C for the long-running commands: the first one stops new work and lets what is in flight settle, the
second stops following it too. Reads that only prepare the work, such as listing the targets, the first one ends at
once (``unless_stopped``).

```python
result, interrupted = anyio.run(run_interruptibly, lambda stop, abort: client.fleet.apply(plan, stop=stop, ...))
```
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, TypeVar

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["run_interruptibly", "unless_stopped"]

T = TypeVar("T")

_ABORTING = "aborting: services in flight are no longer followed (`fleet resume` picks them up)"


async def run_interruptibly(work: Callable[[anyio.Event, anyio.Event], Awaitable[T]]) -> tuple[T, bool]:
    """Run ``work(stop, abort)`` while SIGINT and SIGTERM set ``stop``, then ``abort``; return its result and
    whether it was interrupted.

    An exception ``work`` raises comes out as itself, not wrapped in an exception group.
    """
    stop, abort = anyio.Event(), anyio.Event()
    error: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_watch_interrupts, stop, abort)
        try:
            result = await work(stop, abort)
        except Exception as exc:  # noqa: BLE001 -- re-raised below, outside the task group, so not wrapped in a group
            error = exc
        group.cancel_scope.cancel()
    if error is not None:
        raise error
    return result, stop.is_set()


async def unless_stopped(stop: anyio.Event, work: Callable[[], Awaitable[T]]) -> T | None:
    """``await work()``, cancelled the moment ``stop`` is set (then ``None``, and not started at all if it was set
    already): for reads before the first update, such as listing the targets, which a Ctrl-C ends at once.

    An exception ``work`` raises comes out as itself, not wrapped in an exception group.
    """
    if stop.is_set():
        return None
    result: T | None = None
    error: Exception | None = None

    async def cancel_on_stop(scope: anyio.CancelScope) -> None:
        await stop.wait()
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(cancel_on_stop, group.cancel_scope)
        try:
            result = await work()
        except Exception as exc:  # noqa: BLE001 -- re-raised below, outside the task group, so not wrapped in a group
            error = exc
        group.cancel_scope.cancel()
    if error is not None:
        raise error
    return None if stop.is_set() else result


async def _watch_interrupts(stop: anyio.Event, abort: anyio.Event) -> None:
    """First Ctrl-C (or SIGTERM): set ``stop``; second: say so and set ``abort``."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if not stop.is_set():
                stop.set()
                continue
            print(_ABORTING, file=sys.stderr)
            abort.set()
            return
