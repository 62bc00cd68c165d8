"""Time as a dependency: every wait, backoff and deadline in the SDK reads and sleeps through a ``Clock``.

Tests inject a ``VirtualClock`` so that backoff and polling arithmetic runs without real waits.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import anyio.lowlevel

__all__ = ["Clock", "SystemClock", "VirtualClock"]


class Clock(Protocol):
    """A monotonic clock that can also sleep."""

    def now(self) -> float:
        """Return monotonic seconds (only differences are meaningful)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` (a checkpoint for cancellation even when zero)."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``anyio.sleep``."""

    def now(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep with ``anyio.sleep``."""
        await anyio.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock whose sleeps return at once and advance its time; records every sleep for assertions."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        """Return the virtual time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward without sleeping."""
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the sleep, advance virtual time, and yield once to the event loop."""
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self._now += seconds
        await anyio.lowlevel.checkpoint()
