"""Retry settings in one place: which answers are retried, how long to wait, and a budget shared by a whole fleet.

- Backoff is "full jitter" exponential (AWS architecture blog; botocore, Google api-core): attempt ``n`` (0-based)
  waits a uniform random time in ``[0, min(cap, base * 2**n)]``, so a fleet's retries spread out instead of
  arriving in waves.
- ``Retry-After`` (seconds or an HTTP date) replaces the jittered wait but is capped at ``retry_after_cap``: a
  server asking for hours must not park a fleet for hours (msrestazure #128).
- A ``RetryBudget`` (botocore's ``RetryQuota``) is shared by every request of one client: each retry spends
  tokens and each success earns one back, so when the API is sick and most calls fail the budget runs dry and
  calls fail fast instead of multiplying the load.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEFAULT_RETRYABLE_STATUSES",
    "RetryBudget",
    "RetryPolicy",
    "parse_retry_after",
]

#: 417 is the platform edge's "Request Rejected" HTML page for bursts (seen live on another SCP service): throttling,
#: retried like a 429.
DEFAULT_RETRYABLE_STATUSES: Final = frozenset({408, 417, 429, 500, 502, 503, 504})


def _at_least(minimum: float) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not value >= minimum:
            raise ValueError(f"RetryPolicy.{attribute.name}: must be >= {minimum}, got {value!r}")

    return check


@attrs.frozen
class RetryPolicy:
    """How the transport retries one request; a value object, safe to share.

    ``max_attempts`` counts the first attempt too (1 disables retries). Only idempotent requests (GET, PUT,
    DELETE, and POSTs that only check something) are retried after the server may have seen them; any request is
    retried when it provably never left (the connection could not be made).
    """

    max_attempts: int = attrs.field(default=4, validator=_at_least(1))
    base: float = attrs.field(default=0.5, validator=_at_least(0.0))
    cap: float = attrs.field(default=20.0, validator=_at_least(0.0))
    retry_after_cap: float = attrs.field(default=60.0, validator=_at_least(0.0))
    retryable_statuses: frozenset[int] = attrs.field(default=DEFAULT_RETRYABLE_STATUSES, converter=frozenset)
    retry_connection_errors: bool = True
    retry_timeouts: bool = True

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return the full-jitter wait before retry number ``attempt`` (0 for the first retry)."""
        ceiling = min(self.cap, self.base * (2.0 ** min(attempt, 62)))
        return (rng or random).uniform(0.0, ceiling)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """Return the wait before retry ``attempt``: the server's ``Retry-After`` (capped) if it gave one."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return self.backoff(attempt, rng)


@attrs.define
class RetryBudget:
    """A token bucket shared by every request of a client (botocore's ``RetryQuota``).

    A retry spends ``retry_cost`` tokens (``timeout_cost`` after a timeout, which ties up a connection longest);
    a success puts back what its retries spent, or ``success_refund`` when it needed none. An empty bucket means
    "do not retry": the error is raised at once. Single event loop only (no locks needed: no awaits inside).
    """

    capacity: int = 500
    retry_cost: int = 5
    timeout_cost: int = 10
    success_refund: int = 1
    available: int = attrs.field(default=-1)

    def __attrs_post_init__(self) -> None:
        if self.available < 0:
            self.available = self.capacity

    def try_spend(self, *, timeout: bool = False) -> int | None:
        """Spend one retry's tokens and return how many; ``None`` when the budget cannot pay (do not retry)."""
        cost = self.timeout_cost if timeout else self.retry_cost
        if cost > self.available:
            return None
        self.available -= cost
        return cost

    def refund(self, spent: int) -> None:
        """Record a success: give back what its retries spent, or ``success_refund`` when it needed no retry."""
        self.available = min(self.capacity, self.available + (spent or self.success_refund))


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delta seconds (integer or decimal) or an HTTP date; ``None`` when unusable.

    A date in the past gives 0. ``now`` defaults to the current UTC time (injectable for tests).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            return None
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    return max((when - current).total_seconds(), 0.0)
