"""Retry settings in one place: which answers are retried, how long to wait, and a budget shared by a whole fleet.

- Backoff is "full jitter" exponential (AWS architecture blog; botocore, Google api-core): retry ``n`` (0-based)
  waits a uniform random time in ``[0, min(max_delay, first_delay * 2**n)]``, so a fleet's retries spread out
  instead of arriving in waves.
- ``Retry-After`` (seconds or an HTTP date) replaces the jittered wait but is capped at ``max_retry_after``: a
  server asking for hours must not park a fleet for hours (msrestazure #128).

``RetryPolicy`` and ``PollPolicy`` (``_polling``) share one vocabulary: ``first_delay``, ``max_delay``,
``max_retry_after``, and ``delay(n, retry_after=None, rng=None)``. The first names of ``RetryPolicy`` (``base``,
``cap``, ``retry_after_cap``) still work for one release, with a ``DeprecationWarning``.
- ``total_deadline`` bounds one request, every attempt and every wait between them included (default 180 s): the
  per-attempt ``Timeouts`` alone let a server that never answers hold a call for attempts x ``Timeouts.total``
  (4 x 120 s). An attempt still running at the deadline is cut (``RequestTimeoutError`` saying which attempt and
  what it was waiting for), and a retry whose wait would end past it is not started (the last error is raised, with
  a note). 180 s leaves one whole default attempt (120 s) and a retry; it applies to writes too, whose lost answers
  the fleet already handles by reading before it re-sends.
- A ``RetryBudget`` (botocore's ``RetryQuota``) is shared by every request of one client: each retry spends
  tokens and each success earns one back, so when the API is sick and most calls fail the budget runs dry and
  calls fail fast instead of multiplying the load.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
import warnings
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from aiodataops._polling import RandomSource

__all__ = [
    "DEFAULT_RETRYABLE_STATUSES",
    "DEFAULT_TOTAL_DEADLINE",
    "RetryBudget",
    "RetryPolicy",
    "parse_retry_after",
]

#: 417 is the platform edge's "Request Rejected" HTML page for bursts (seen live on another SCP service): throttling,
#: retried like a 429.
DEFAULT_RETRYABLE_STATUSES: Final = frozenset({408, 417, 429, 500, 502, 503, 504})
#: Seconds one request may take, all its attempts and waits included (see the module docstring).
DEFAULT_TOTAL_DEADLINE: Final = 180.0


def _at_least(minimum: float) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not value >= minimum:
            raise ValueError(f"RetryPolicy.{attribute.name}: must be >= {minimum}, got {value!r}")

    return check


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if value is not None and not ok:
        raise ValueError(f"RetryPolicy.{attribute.name}: must be a positive number of seconds or None, got {value!r}")


def _statuses(values: Iterable[int]) -> frozenset[int]:
    return frozenset(values)


# Old keyword -> new field: the first names of ``RetryPolicy``, accepted (with a warning) for one release.
_OLD_NAMES: Final = {"base": "first_delay", "cap": "max_delay", "retry_after_cap": "max_retry_after"}


def _renamed(old: str) -> None:
    warnings.warn(
        f"RetryPolicy.{old} is now RetryPolicy.{_OLD_NAMES[old]} (the names PollPolicy uses); "
        f"the old name goes away in the next release",
        DeprecationWarning,
        stacklevel=3,
    )


@attrs.frozen(init=False)
class RetryPolicy:
    """How the transport retries one request; a value object, safe to share.

    ``max_attempts`` counts the first attempt too (1 disables retries). ``first_delay`` and ``max_delay`` bound the
    jittered backoff (see the module docstring), ``max_retry_after`` a server's ``Retry-After``. Only idempotent
    requests (GET, PUT, DELETE, and POSTs that only check something) are retried after the server may have seen
    them; any request is retried when it provably never left (the connection could not be made).
    ``total_deadline`` (seconds, ``None`` for none) bounds the whole request: attempts and the waits between them.
    """

    max_attempts: int = attrs.field(validator=_at_least(1))
    first_delay: float = attrs.field(validator=_at_least(0.0))
    max_delay: float = attrs.field(validator=_at_least(0.0))
    max_retry_after: float = attrs.field(validator=_at_least(0.0))
    retryable_statuses: frozenset[int] = attrs.field(converter=_statuses)
    retry_connection_errors: bool
    retry_timeouts: bool
    total_deadline: float | None = attrs.field(validator=_positive_or_none)

    def __init__(  # noqa: PLR0917 -- the order attrs gave it, for callers passing values by position
        self,
        max_attempts: int = 4,
        first_delay: float | None = None,
        max_delay: float | None = None,
        max_retry_after: float | None = None,
        retryable_statuses: Iterable[int] = DEFAULT_RETRYABLE_STATUSES,
        retry_connection_errors: bool = True,
        retry_timeouts: bool = True,
        *,
        total_deadline: float | None = DEFAULT_TOTAL_DEADLINE,
        base: float | None = None,
        cap: float | None = None,
        retry_after_cap: float | None = None,
    ) -> None:
        values = {"first_delay": first_delay, "max_delay": max_delay, "max_retry_after": max_retry_after}
        for old, value in (("base", base), ("cap", cap), ("retry_after_cap", retry_after_cap)):
            if value is None:
                continue
            new = _OLD_NAMES[old]
            if values[new] is not None:
                raise TypeError(f"RetryPolicy: pass {new}= or the old name {old}=, not both")
            _renamed(old)
            values[new] = value
        self.__attrs_init__(
            max_attempts,
            0.5 if values["first_delay"] is None else values["first_delay"],
            20.0 if values["max_delay"] is None else values["max_delay"],
            60.0 if values["max_retry_after"] is None else values["max_retry_after"],
            retryable_statuses,
            retry_connection_errors,
            retry_timeouts,
            total_deadline,
        )

    @property
    def base(self) -> float:
        """Deprecated: ``first_delay``."""
        _renamed("base")
        return self.first_delay

    @property
    def cap(self) -> float:
        """Deprecated: ``max_delay``."""
        _renamed("cap")
        return self.max_delay

    @property
    def retry_after_cap(self) -> float:
        """Deprecated: ``max_retry_after``."""
        _renamed("retry_after_cap")
        return self.max_retry_after

    def ceiling(self, n: int) -> float:
        """Upper bound of the wait before retry ``n`` (0-based): ``min(max_delay, first_delay * 2 ** n)``."""
        return min(self.max_delay, self.first_delay * (2.0 ** min(n, 62)))

    def backoff(self, n: int, rng: RandomSource | None = None) -> float:
        """Return the full-jitter wait before retry ``n`` (0 for the first retry), ignoring any server hint."""
        return (rng or random).uniform(0.0, self.ceiling(n))

    def delay(self, n: int, retry_after: float | None = None, rng: RandomSource | None = None) -> float:
        """Seconds to wait before retry ``n``: the server's ``retry_after`` (capped) if it gave one, else backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return self.backoff(n, rng)


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
