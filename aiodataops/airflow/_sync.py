"""Run the SDK's coroutines from an operator's synchronous ``execute``."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end in a fresh event loop, in this thread when it has no loop running.

    In this thread, so that Airflow's ``execution_timeout`` (a signal in the main thread) interrupts the run; asyncio
    then cancels what was in flight. Only when a loop already runs here does it go to a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiodataops") as pool:
        return pool.submit(asyncio.run, coro).result()
