"""How often and how long a wait polls: one small immutable value object, ``PollPolicy``.

Poll ``n`` (0-based) waits a uniformly random time between ``min_delay`` and
``min(max_delay, first_delay * growth ** n)`` ("full jitter", as botocore and Google api-core back off), so a
fleet's thousands of polls spread out instead of marching in step. A server's ``Retry-After`` hint stretches the
delay (never shortens it), capped by ``max_retry_after`` so a bad hint cannot stall a wait for hours. The names
and ``delay(n, retry_after=None, rng=None)`` are ``RetryPolicy``'s too (whose hint replaces the backoff instead).

Default deadline: 30 minutes. SCP's Terraform providers allow 120, but they wait for whole clusters to be built;
an Airflow service update rolls a few pods and takes minutes, and a fleet run should hear about a stuck service
within the half hour rather than hold a worker for two. Raise it (``attrs.evolve(policy, deadline=7200)``) for
creating a data ops.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

import attrs

__all__ = ["PollPolicy", "RandomSource"]

# One shared generator for production jitter; tests pass their own seeded ``random.Random``.
_RANDOM = random.Random()  # noqa: S311 -- jitter spreads polls out; it protects nothing, so no CSPRNG is needed


class RandomSource(Protocol):
    """Anything with ``uniform(a, b)``, such as ``random.Random(seed)``."""

    def uniform(self, a: float, b: float) -> float:
        """Return a float in ``[a, b]``."""
        ...


def _non_negative(_instance: PollPolicy, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"PollPolicy.{attribute.name} must be a finite number >= 0, got {value!r}")


def _positive(_instance: PollPolicy, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"PollPolicy.{attribute.name} must be a finite number > 0, got {value!r}")


def _count(_instance: PollPolicy, attribute: attrs.Attribute[int], value: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ValueError(f"PollPolicy.{attribute.name} must be an integer >= 0, got {value!r}")


@attrs.frozen
class PollPolicy:
    """How a wait polls: backoff with full jitter, a finite deadline, and how much trouble it tolerates."""

    first_delay: float = attrs.field(default=1.0, validator=_positive)
    """Upper bound of the first delay, in seconds."""
    growth: float = attrs.field(default=1.1, validator=_positive)
    """Factor by which the upper bound grows per poll (>= 1). 1.1 rather than the usual 1.5: with full jitter a
    wait notices a settle about 2(g-1)/(3g) of its duration late, 30% at 1.5 but under 10% at 1.1, for 1.2-2x the
    polls, and polls stay logarithmic in the settle time until the cap (``benchmarks/README.md``, "overshoot")."""
    max_delay: float = attrs.field(default=15.0, validator=_positive)
    """Cap of the upper bound, in seconds."""
    min_delay: float = attrs.field(default=0.5, validator=_non_negative)
    """Floor of every delay (clipped to the upper bound), so jitter never fires two polls back to back."""
    jitter: bool = True
    """Full jitter; ``False`` waits exactly the upper bound (deterministic, for demos and tests)."""
    deadline: float = attrs.field(default=1800.0, validator=_positive)
    """Give up after this many seconds (always finite), with ``WaitTimeoutError``."""
    max_transient_errors: int = attrs.field(default=3, validator=_count)
    """Transport errors and 5xx answers tolerated in a row (the 4th in a row ends the wait)."""
    max_not_found: int = attrs.field(default=3, validator=_count)
    """404s tolerated in a row while waiting for a create or update (deletion waits *for* a 404)."""
    max_retry_after: float = attrs.field(default=120.0, validator=_non_negative)
    """Cap on a server's ``Retry-After`` hint, in seconds."""
    stale_grace: float = attrs.field(default=60.0, validator=_non_negative)
    """When nothing can prove a read is newer than the accepted change (no ``modified_dt`` to compare and no
    in-progress state seen since), a read counts only once this long has passed since the change was accepted."""

    def __attrs_post_init__(self) -> None:
        if self.growth < 1:
            raise ValueError(f"PollPolicy.growth must be >= 1, got {self.growth!r}")
        if self.max_delay < self.first_delay:
            raise ValueError(f"PollPolicy.max_delay ({self.max_delay!r}) must be >= first_delay ({self.first_delay!r})")

    def ceiling(self, n: int) -> float:
        """Upper bound of the delay before poll ``n`` (0-based): ``min(max_delay, first_delay * growth ** n)``."""
        if n < 0:
            raise ValueError(f"poll number must be >= 0, got {n}")
        # growth ** n overflows a float long before a real wait gets there; compare logarithms instead.
        if self.growth > 1 and n * math.log(self.growth) >= math.log(self.max_delay / self.first_delay):
            return self.max_delay
        return min(self.max_delay, self.first_delay * self.growth**n)

    def delay(self, n: int, retry_after: float | None = None, rng: RandomSource | None = None) -> float:
        """Seconds to wait before poll ``n``: jittered backoff, stretched to a server's (capped) ``retry_after``."""
        top = self.ceiling(n)
        value = (rng or _RANDOM).uniform(min(self.min_delay, top), top) if self.jitter else top
        return self.stretched(value, retry_after)

    def stretched(self, value: float, retry_after: float | None) -> float:
        """``value`` stretched to a server's ``retry_after`` hint (capped by ``max_retry_after``), never shortened."""
        if retry_after is not None and retry_after > 0:
            value = max(value, min(retry_after, self.max_retry_after))
        return value

    def pause(self, n: int, elapsed: float, retry_after: float | None = None, rng: RandomSource | None = None) -> float:
        """Seconds to wait before poll ``n``, ``elapsed`` seconds into the wait: ``delay(n, ...)`` here; a
        policy that learned when settles happen (``aiodataops.fleet._learned_polling``) uses ``elapsed`` too."""
        del elapsed  # the backoff depends on the poll's number only
        return self.delay(n, retry_after, rng)
