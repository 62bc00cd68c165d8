"""A token bucket limiting how many new updates start per second, timed on the injected ``Clock``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from aiodataops._clock import Clock

__all__ = ["TokenBucket"]

_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; ``acquire`` waits for one token.

    Waiters are served one at a time in arrival order, so a crowd of workers cannot starve one of them.
    """

    def __init__(self, rate: float, clock: Clock, *, burst: float = 1.0) -> None:
        if not rate > 0:
            raise ValueError(f"rate: expected a number of updates per second above zero, got {rate!r}")
        if not burst >= 1:
            raise ValueError(f"burst: expected at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock.now()
        self._lock = anyio.Lock()

    def _refill(self) -> None:
        now = self._clock.now()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Take one token, sleeping on the clock until one is there."""
        async with self._lock:
            self._refill()
            # The epsilon: a refill can land a hair below 1 and the sleep to make up the hair can be too small to
            # move a float clock at all, which would spin forever.
            while self._tokens < 1 - _EPSILON:
                await self._clock.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1)
