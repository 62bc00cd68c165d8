"""The emulator's rate limit: a token bucket per access key, answered with 429 and ``Retry-After`` when empty.

SCP does not publish its limits; this gives the benchmarks (and tests of the client's adaptive pace) a real limit to
discover without being told it. Each access key has its own bucket of ``burst`` tokens refilled at ``rate`` per
second of the emulator's clock (so a ``VirtualClock`` drives it in tests); a request takes one token or is refused
with 429 and a ``Retry-After`` (decimal seconds) saying when the next token arrives. Refused requests cost nothing.
The refusal is decided on arrival and answered after the request's added latency (``latency``), as a gateway behind
the same network would be: a client learns of the limit no sooner than from an answer.

Latency that grows with load (``latency_per_in_flight``) is added in the same middleware: each request waits that
many seconds for every other request in flight when it arrives, as a server near saturation answers slower.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiodataops._clock import Clock

__all__ = ["RateLimiter"]


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """Token buckets by access key: ``take(key)`` returns ``None`` when admitted, else the seconds to wait."""

    def __init__(self, rate: float, burst: float | None, clock: Clock) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate limit: must be a finite number > 0 per second, got {rate!r}")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        #: Requests refused per access key.
        self.refused: dict[str, int] = {}

    def take(self, key: str) -> float | None:
        """Take one token from ``key``'s bucket; ``None`` when admitted, else seconds until a token is there."""
        now = self._clock.now()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        self.refused[key] = self.refused.get(key, 0) + 1
        return (1.0 - bucket.tokens) / self.rate
