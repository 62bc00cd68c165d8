"""Learned polling: a fleet's first settles schedule the polls of the rest (sparse early, dense where likely).

Within one fleet run every service gets the same update, so how long the first ones took to settle predicts the
rest. ``SettleTimes`` collects the settle durations of the run's succeeded services (``ItemReport.settle_seconds``:
from the 202 to the read that showed it settled); ``LearnedPollPolicy`` is a ``PollPolicy`` whose ``pause`` reads
them:

- **Nothing to learn from** (fewer than ``MIN_SAMPLES`` settles): the policy's own backoff, unchanged.
- **Before the likely window** (``[q(2%) - gap, q(98%) + gap]`` of the settles seen): one step at the cap
  (``max_delay``), landing on the window's start, not past it: settling there is unlikely, so polls are sparse.
- **In the window**: a fixed ``gap`` of half the backoff's jitter ceiling ``c`` at the median settle. A poll every
  ``gap`` notices a settle about ``gap / 2 = c / 4`` late; the jittered backoff notices it about ``c / 3`` late
  (``E[u^2] / 2E[u]`` for ``u ~ U(0, c)``): a little sooner, for about as many polls inside the window and none of
  the early ones that cannot find anything. (Two thirds of ``c`` would match the backoff's lateness on paper; the
  replay in ``benchmarks/pace.py`` found it 3-9% later at 60 s to 10 min, so half it is: 24-47% of the polls at
  0.76x the lateness.)
- **Past the window**: the policy's backoff again (the service is slower than any seen).

Never a pause below the policy's floor (``min_delay``: a read right after another cannot be newer, and a stale read
needs time to end) nor above its cap (``max_delay``); a server's ``Retry-After`` still stretches a pause; the wait's
deadline, stale-read rules and tolerances are the policy's, untouched (``_waiting`` clips the last pause to the
deadline). Polls get a +-10% jitter so that services accepted together do not poll in step.

``update_and_wait`` and ``wait_settled`` keep the plain ``PollPolicy``: one service has nothing to learn from.
The samples are the *detected* settle times (true settle plus the poll's lateness), so the window sits a little
late; widening it by one ``gap`` on each side absorbs that.
"""

from __future__ import annotations

import bisect
import math
import random
from typing import TYPE_CHECKING, Final

import attrs

from aiodataops._polling import PollPolicy

if TYPE_CHECKING:
    from aiodataops._polling import RandomSource

__all__ = ["MIN_SAMPLES", "LearnedPollPolicy", "SettleTimes"]

#: Settles needed before they schedule polls.
MIN_SAMPLES: Final = 5
#: Settles kept (the first ones: later ones add little, and memory stays bounded).
MAX_SAMPLES: Final = 2048
_LOW: Final = 0.02
_HIGH: Final = 0.98
_JITTER: Final = 0.1
#: The in-window gap as a share of the backoff's jitter ceiling (see the module docstring).
_GAP_SHARE: Final = 0.5
_RANDOM = random.Random()  # noqa: S311 -- jitter spreads polls out; it protects nothing


class SettleTimes:
    """The settle durations seen so far in one run, sorted."""

    def __init__(self) -> None:
        self._sorted: list[float] = []
        # The quantiles a pause reads, kept until the next duration arrives (every poll asks; few services end).
        self._bounds: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._bounds_for = -1

    def __len__(self) -> int:
        return len(self._sorted)

    def add(self, seconds: float | None) -> None:
        """Note one service's settle duration (ignored when unknown, negative or once ``MAX_SAMPLES`` are kept)."""
        if seconds is None or not math.isfinite(seconds) or seconds < 0 or len(self._sorted) >= MAX_SAMPLES:
            return
        bisect.insort(self._sorted, seconds)

    def bounds(self) -> tuple[float, float, float]:
        """The low, high and median quantiles a pause is scheduled by (``quantile`` of each); needs one duration."""
        if self._bounds_for != len(self._sorted):
            self._bounds = (self.quantile(_LOW), self.quantile(_HIGH), self.quantile(0.5))
            self._bounds_for = len(self._sorted)
        return self._bounds

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (nearest rank) of the durations seen; needs at least one."""
        values = self._sorted
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def _backoff_ceiling(policy: PollPolicy, elapsed: float) -> float:
    """The jitter ceiling the policy's backoff has reached ``elapsed`` seconds into a wait (on average).

    With full jitter a pause averages half its ceiling, and ceilings grow by ``growth``: after time ``t`` the
    ceiling is about ``2 t (g - 1) / g``, between ``first_delay`` and ``max_delay``.
    """
    g = policy.growth
    grown = 2.0 * elapsed * (g - 1.0) / g if g > 1 else policy.first_delay
    return min(policy.max_delay, max(policy.first_delay, grown))


@attrs.frozen
class LearnedPollPolicy(PollPolicy):
    """A ``PollPolicy`` whose pauses follow the settle times of the run so far (see the module docstring)."""

    settles: SettleTimes = attrs.field(factory=SettleTimes, eq=False, repr=False, kw_only=True)

    @classmethod
    def learning(cls, policy: PollPolicy, settles: SettleTimes) -> LearnedPollPolicy:
        """``policy``'s settings (deadline, floor, cap, tolerances), scheduled by ``settles``."""
        return cls(**attrs.asdict(policy, recurse=False), settles=settles)

    def pause(self, n: int, elapsed: float, retry_after: float | None = None, rng: RandomSource | None = None) -> float:
        """Seconds to wait before poll ``n``, ``elapsed`` seconds after the change was accepted."""
        settles = self.settles
        if len(settles) < MIN_SAMPLES:
            return self.delay(n, retry_after, rng)
        low, high, median = settles.bounds()
        gap = max(self.min_delay, _GAP_SHARE * _backoff_ceiling(self, median))
        start, end = low - gap, high + gap
        if elapsed >= end:
            return self.delay(n, retry_after, rng)
        value = start - elapsed if elapsed < start - self.min_delay else gap
        if self.jitter:
            value *= (rng or _RANDOM).uniform(1.0 - _JITTER, 1.0 + _JITTER)
        return self.stretched(min(self.max_delay, max(self.min_delay, value)), retry_after)
