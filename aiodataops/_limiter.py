"""``AdaptiveLimiter``: how many requests a client keeps in flight, found from the API's answers.

SCP does not publish its rate limits, so the right concurrency is discovered, the way TCP finds a path's capacity.
By Little's law a server that admits ``R`` requests per second, answering each in ``L`` seconds, is kept busy by
``R x L`` requests in flight, and more than that only earns refusals (a rate limit) or longer waits (a server that
queues). The limiter aims at that number:

- **Slow start.** The limit starts at ``initial`` (4) and grows by ``slow_start_growth`` (a fifth) per success
  while it is in use: x1.2 per round trip. TCP doubles, BBR's startup x2.89; but a rate limit's burst hides the
  excess until it runs out, and everything sent in the round trip before the first 429 comes back (a refusal crosses
  the network as an answer does) is refused too: one wave of 429s about as large as the limit then, which is about a
  third of all that slow start sent at x1.5 and a sixth at x1.2 (a client cannot see a burst run dry before it
  has, so the wave is paid for in slow start's growth; the figures are in benchmarks/README.md, "Adaptive pace").
  Slow start ends at the first throttle, or before any, once goodput (answers per second) has not grown by half of
  slow start's own growth in three round trips in which requests waited for the limit (BBR's "full pipe",
  app-limited rounds left out): the limit is then set to the best goodput seen x the lowest latency x 1.25, what
  keeps the server busy without a queue. ``growth_per_base_round_trip`` (off) grows per round trip of the lowest
  latency instead, i.e. per unit of clock time: faster to fill a server whose latency grows with its load, but a
  busy client's own lag then reads as load too, and the wave grew with it.
- **A throttle cuts to what the server admitted.** A 429, the edge's 417 (``RequestRejectedError``) or a 503 with
  ``Retry-After`` opens a *spell* (no cut in the last ``window``) and marks when the server began refusing: no
  earlier than that request was sent. Until then the server was spending a burst; from then on what it admits is its
  rate. The requests sent since are in flight and will say what that rate is within a round trip, so until they are
  answered (or two of the refused request's round trips have passed) nothing new is sent (TCP's recovery: each
  would likely be refused too), and then the limit is set to the requests the server *admitted* of those sent since
  it began refusing: the sum of their latencies over the span they were sent in, i.e. its rate x latency (BBR's
  bandwidth-delay product, measured from answers rather than probes; only sends whose answers are all in count,
  since a refusal may come back sooner than a success). Later throttles of the spell cut to the same measure over
  the sends up to theirs. Where that cannot be measured (less than a round trip of such sends, or none of them
  refused: the client's own rate, not the server's), the cut is to the requests that were in flight and answered
  over the last ``window`` (1 s; since the last cut when that is at least a quarter of it), goodput x latency; with
  fewer than 8 answers to go on, it halves instead (``backoff``; TCP, AIMD). A cut is at least 10% (the limit may
  already be at the estimate, and the server just said it is too much). One cut per round trip: a throttle of a
  request sent before the last cut says nothing new (TCP's fast recovery). ``Retry-After`` also pauses new sends
  that long (at most 1 s: longer is the throttled request's own wait, not the whole client's), so that requests do
  not keep meeting an empty bucket.
- **Grow after a cut.** By one per ``probe_interval`` (1 s) of clock time while the limit is in use: per second,
  not per round trip as TCP does, because an API's limit is usually a *rate* whose burst hides an excess for a
  while, and at 50 ms a round trip would climb back past the limit twenty times a second, each climb paid for in
  429s (botocore's CUBIC is timed too). After a halving (no estimate) it first regains 80% of what was cut by one
  per round trip (CUBIC's concave part). It grows only while it is used (at least half of it in flight at once since
  the limiter was last idle), so a quiet client does not build up a limit it never tested (Netflix
  concurrency-limits' ``AIMDLimit``).
- **Latency.** A sustained rise of latency (the short average above ``latency_tolerance`` times the long one,
  Netflix's ``Gradient2`` idea) cuts the limit by ``latency_backoff``: a server that slows down before it refuses.
- **Between 1 and ``max_limit``**, the cap (``max_concurrency``, default 256, never above the connection pool,
  whose default is as large).

Anchors: botocore's ``adaptive`` retry mode (``botocore/retries/adaptive.py``: a client-side token bucket whose rate
follows ``throttling.CubicCalculator`` on throttles, a *rate* where this is a *concurrency*, Little's law relating
the two through the latency), Netflix/concurrency-limits (``AIMDLimit``, ``Gradient2Limit``), TCP congestion control
(RFC 5681 slow start and fast recovery, RFC 8312 CUBIC) and BBR (startup's full-pipe exit, the delivery rate x the
minimum round trip). A concurrency needs no clock to enforce, follows a server that slows down as well as one that
refuses, and, with the cut set from goodput x latency, lands where a rate limiter would without being told the rate.

One limiter per client, in the transport, around each attempt (not around a retry's wait): PUTs, polls and listings
spend the same limit and all of a client's traffic adapts together. Single event loop only (no locks: no awaits
between reading and changing the state).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Final, NamedTuple

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops._clock import Clock

__all__ = ["DEFAULT_MAX_CONCURRENCY", "AdaptiveLimiter", "Permit"]

#: The default cap of an adaptive limit (``max_concurrency``).
DEFAULT_MAX_CONCURRENCY: Final = 256
#: Latency rises below this many seconds are noise on a loopback or LAN, never a signal.
_LATENCY_FLOOR: Final = 0.01
_SHORT_WEIGHT: Final = 0.2
_LONG_WEIGHT: Final = 0.02
#: Latency samples needed before the averages are trusted.
_WARM_UP: Final = 20
#: After a throttle, the share of the limit it cut that is regained by one per round trip, before one per second.
_RECOVER: Final = 0.8
#: Successes in the window before the goodput estimate is trusted (else a throttle cuts by ``backoff``).
_MIN_SAMPLES: Final = 8
#: A throttle always cuts at least this much (x0.9), even when the estimate is above the limit's level.
_NEAR: Final = 0.9
#: The longest pause a ``Retry-After`` imposes on new sends (a longer one is the throttled request's own wait).
_MAX_PAUSE: Final = 1.0
#: Slow start ends after this many round trips in use whose goodput did not grow by half of slow start's own growth
#: (BBR's full pipe: 25% at BBR's x2 per round, 10% at x1.2).
_FLAT_ROUNDS: Final = 3
#: Then the limit is set to the best goodput seen times the lowest latency, times this (BBR's cwnd_gain is 2).
_STARTUP_GAIN: Final = 1.25


class Permit(NamedTuple):
    """One request's slot: when it started and which cut of the limit it was sent under."""

    started: float
    epoch: int
    in_flight: int


class AdaptiveLimiter:
    """An adaptive concurrency limit (slow start, cuts to goodput x latency, growth per second) with a FIFO queue;
    see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        *,
        initial: int = 4,
        max_limit: int = DEFAULT_MAX_CONCURRENCY,
        min_limit: int = 1,
        backoff: float = 0.5,
        latency_backoff: float = 0.8,
        latency_tolerance: float = 2.0,
        probe_interval: float = 1.0,
        slow_start_growth: float = 0.2,
        window: float = 1.0,
        pause_on_retry_after: bool = True,
        growth_per_base_round_trip: bool = False,
    ) -> None:
        if not 1 <= min_limit <= max_limit:
            raise ValueError(f"AdaptiveLimiter: expected 1 <= min_limit <= max_limit, got {min_limit}, {max_limit}")
        if not (0 < backoff < 1 and 0 < latency_backoff < 1):
            raise ValueError("AdaptiveLimiter: backoff and latency_backoff must be between 0 and 1")
        self._clock = clock
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.limit: float = float(min(max(initial, min_limit), max_limit))
        self.backoff = backoff
        self.latency_backoff = latency_backoff
        self.latency_tolerance = latency_tolerance
        self.probe_interval = probe_interval
        self.slow_start_growth = slow_start_growth
        self.window = window
        self.pause_on_retry_after = pause_on_retry_after
        self.growth_per_base_round_trip = growth_per_base_round_trip
        # Successes of the last ``window`` seconds: (when each ended, its latency), for the goodput estimate.
        self._recent: deque[tuple[float, float]] = deque()
        # When each throttled request of the last two windows was sent.
        self._refused: deque[float] = deque()
        self._first_sent: float | None = None
        self._cut_at = -math.inf
        # When the server began refusing (the send instant of the first throttled request of the current spell of
        # throttles), and, just after that, until when new sends are held: see ``throttled_by_server``.
        self._dry_from = -math.inf
        self._hold: tuple[float, float] | None = None
        self._paused_until = -math.inf
        #: The last goodput estimate a throttle used (requests in flight that the server answered), or ``None``.
        self.estimate: float | None = None
        self.min_latency = math.inf
        # Slow start's rounds: one ends when a request sent after it began is answered.
        self._round_began = clock.now()
        self._round_answers = 0
        self._round_busy = False  # requests waited for the limit at some answer of the round
        self._best_goodput = 0.0
        self._flat_rounds = 0
        self._stepped = clock.now()  # when the limit last grew in congestion avoidance, or was cut
        self._cut_from = 0.0  # the limit the last throttle cut (``_RECOVER`` of it is regained per round trip)
        self.in_flight = 0
        self.peak_in_flight = 0
        # The most requests in flight since the limiter was last idle: whether the limit is in use.
        self._busy = 0
        #: Throttle signals seen (every one, including those that did not cut the limit).
        self.throttled = 0
        #: How many times the limit was cut.
        self.cuts = 0
        self._slow_start = True
        self._waiters: deque[anyio.Event] = deque()
        self._short: float | None = None
        self._long: float | None = None
        self._samples = 0
        # Integrals over clock time: of the limit (a run's mean concurrency) and of the demand, requests in flight
        # plus those waiting (how much of the limit a fleet's services ask for: Little's law sizes the fleet).
        self._mark = clock.now()
        self._area = 0.0
        self._demand_area = 0.0
        #: Called (no arguments) whenever the whole-number limit changes; a fleet run resizes its workers.
        self.listeners: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"AdaptiveLimiter(limit={self.current}, in_flight={self.in_flight}, max_limit={self.max_limit})"

    @property
    def current(self) -> int:
        """The whole number of requests allowed in flight now."""
        return max(self.min_limit, min(self.max_limit, int(self.limit)))

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._waiters)

    def integral(self) -> float:
        """The limit integrated over clock time so far (limit x seconds): a run's mean is the difference over time."""
        self._account()
        return self._area

    def demand_integral(self) -> float:
        """Requests in flight or waiting, integrated over clock time so far (request x seconds)."""
        self._account()
        return self._demand_area

    def _account(self) -> None:
        now = self._clock.now()
        elapsed = now - self._mark
        if elapsed > 0:
            self._area += self.current * elapsed
            self._demand_area += (self.in_flight + len(self._waiters)) * elapsed
            self._mark = now

    def _set(self, value: float) -> None:
        self._account()
        before = self.current
        self.limit = min(float(self.max_limit), max(float(self.min_limit), value))
        self._wake()
        if self.current != before:
            for listener in tuple(self.listeners):
                listener()

    # -- slots ------------------------------------------------------------------------------------------------

    async def acquire(self) -> Permit:
        """Wait for a slot (first come, first served) and take it; then for the end of a ``Retry-After`` pause."""
        self._account()
        if self.in_flight < self.current and not self._waiters and self._hold is None:
            self._take()
        else:
            event = anyio.Event()
            self._waiters.append(event)
            try:
                await event.wait()
            except BaseException:
                self._account()
                if event.is_set():  # handed a slot, then cancelled: give it on
                    self.in_flight -= 1
                    self._end_hold(self._clock.now())
                    self._wake()
                else:
                    self._waiters.remove(event)
                raise
        # The pause holds the slot: what it delays is a send the limit already allowed, in the order given.
        while (pause := self._paused_until - self._clock.now()) > 0:
            try:
                await self._clock.sleep(pause)
            except BaseException:
                self._account()
                self.in_flight -= 1
                self._end_hold(self._clock.now())
                self._wake()
                raise
        now = self._clock.now()
        if self._first_sent is None:
            self._first_sent = now
        return Permit(now, self.cuts, self.in_flight)

    def _take(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._busy = max(self._busy, self.in_flight)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.current and self._hold is None:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._busy = max(self._busy, self.in_flight)
            self._waiters.popleft().set()

    # -- outcomes ---------------------------------------------------------------------------------------------

    def succeeded(self, permit: Permit) -> None:
        """A request answered in time: grow (if the limit is in use), or cut if latency has risen for a while."""
        self._account()
        self.in_flight -= 1
        now = self._clock.now()
        latency = now - permit.started
        if math.isfinite(latency) and latency >= 0:
            self._recent.append((now, latency))
            self._forget(now)
            self.min_latency = min(self.min_latency, latency)
        self._end_hold(now)
        if self._latency_rose(latency) and permit.epoch == self.cuts:
            self.cuts += 1
            self._stepped = self._clock.now()
            self._set(self.limit * self.latency_backoff)
            self._slow_start = False
            return
        busy = self._busy
        if self.in_flight == 0:
            self._busy = 0
        if busy * 2 < self.current:
            self._wake()
        elif self._slow_start:
            if self._pipe_full(permit, now):
                # More in flight no longer buys more answers per second, only longer waits: what slow start was
                # looking for, found before the server had to refuse anything (BBR's startup exit).
                self._slow_start = False
                self._stepped = now
                self._set(min(self.limit, _STARTUP_GAIN * self._best_goodput * self.min_latency))
            elif self.growth_per_base_round_trip and self.min_latency > 0:
                # Per round trip of the *lowest* latency, i.e. per unit of clock time: a server whose answers slow
                # down as its load grows (a queue) lengthens the round trip, and slow start would crawl there.
                self._set(self.limit + self.slow_start_growth * min(latency / self.min_latency, 4.0))
            else:
                self._set(self.limit + self.slow_start_growth)
        elif self.limit < _RECOVER * self._cut_from:
            # Below where the last throttle struck: back towards it by one per round trip (CUBIC's concave part).
            self._set(self.limit + 1.0 / max(self.limit, 1.0))
        elif (now := self._clock.now()) - self._stepped >= self.probe_interval:
            self._stepped = now
            self._set(self.limit + 1.0)
        else:
            self._wake()

    def throttled_by_server(self, permit: Permit, retry_after: float | None = None) -> None:
        """The server said "slow down" (429, 417, 503 with Retry-After): cut to what it answered, once per round trip.

        ``retry_after`` (seconds) also pauses new sends that long, at most ``_MAX_PAUSE``.
        """
        self._account()
        self.in_flight -= 1
        self.throttled += 1
        self._slow_start = False
        now = self._clock.now()
        if self.pause_on_retry_after and retry_after is not None and retry_after > 0:
            self._paused_until = max(self._paused_until, now + min(retry_after, _MAX_PAUSE))
        self._refused.append(permit.started)
        while self._refused[0] < now - 2 * self.window and len(self._refused) > 1:
            self._refused.popleft()
        self._end_hold(now)
        if permit.epoch != self.cuts:
            self._wake()
            return
        self.cuts += 1
        self._stepped = now
        if now - self._cut_at > self.window:
            # The first throttle of a spell: the server was answering everything a moment ago, so it began refusing
            # no earlier than this request was sent; what it admits from then on is its rate, whatever burst it
            # allowed before. The requests sent since are in flight and will say it within a round trip: until they
            # have, nothing new is sent (each would likely be refused too), and then the limit is set from them.
            self._dry_from = permit.started
            if self.in_flight > 0:  # (their answers end the hold: never one that nothing in flight would end)
                self._hold = (now, now + 2 * min(now - permit.started, self.min_latency))
        estimate = self._admitted_concurrency(now, permit.started)
        if estimate is None:
            estimate = self._goodput_concurrency(now)
        self.estimate = estimate
        if estimate is None:
            self._cut_from = self.limit
            self._set(self.limit * self.backoff)
        else:
            # The estimate is the level the server sustained: growth past it is one per second, not a fast regain.
            self._cut_from = 0.0
            self._set(min(estimate, self.limit * _NEAR))
        self._cut_at = now

    def _end_hold(self, now: float) -> None:
        """End the hold after a spell's first throttle once the requests sent before it are answered (or two of its
        round trips have passed), setting the limit to what the server admitted of them."""
        hold = self._hold
        if hold is None or (self.in_flight > 0 and now < hold[1]):
            return
        self._hold = None
        estimate = self._admitted_concurrency(now, hold[0])
        # Later throttles of the spell measure from here: during the hold the client sent nothing, and a span that
        # took it in would read the client's silence as the server's refusal.
        self._dry_from = now
        if estimate is not None and estimate < self.limit:
            self.estimate = estimate
            self._set(estimate)
        else:
            self._wake()

    def _forget(self, now: float) -> None:
        recent = self._recent
        while recent and recent[0][0] < now - self.window:
            recent.popleft()

    def _goodput_concurrency(self, now: float) -> float | None:
        """Requests in flight that the server answered, on average over the recent window (Little's law)."""
        self._forget(now)
        # Since the last cut when that is long enough to say something (a quarter window): before it, the server
        # was answering a different load.
        first = self._first_sent if self._first_sent is not None else now
        start = max(now - self.window, min(self._cut_at, now - self.window / 4), first)
        span = now - start
        if span <= 0:
            return None
        count = 0
        busy = 0.0
        for ended, latency in reversed(self._recent):
            if ended < start:
                break
            count += 1
            busy += latency
        if count < _MIN_SAMPLES or busy <= 0:
            return None
        return busy / span

    def _admitted_concurrency(self, now: float, sent: float) -> float | None:
        """Requests in flight that the server admitted, on average, of those sent after it began refusing and up to
        ``sent``: its rate x latency, measured from answers to requests sent when no burst was left; ``None`` when
        less than half a round trip of such sends is answered, or when the server refused none of them (the client's
        own rate then, not the server's). Of ``n`` admitted over a span, the rate is between ``n`` and ``n + 1`` per
        span (the next admission may have been about to come): ``n + 1`` is counted, so that a slow server's few
        admissions over a short span do not cut it to one request in flight."""
        recent = self._recent
        if not recent:
            return None
        start = max(self._dry_from, sent - self.window / 2)
        # Only sends whose answers are all in: a refusal may come back sooner than a success.
        end = min(sent, now - max(latency for _, latency in recent))
        if end - start < self.min_latency / 2 or not any(start < refused <= end for refused in self._refused):
            return None
        busy = 0.0
        admitted = 0
        for ended, latency in recent:
            if start < ended - latency <= end:
                busy += latency
                admitted += 1
        return (busy + (busy / admitted if admitted else self.min_latency)) / (end - start)

    def released(self, permit: Permit) -> None:  # noqa: ARG002 -- the same shape as the other outcomes
        """The attempt ended without a signal either way (an error, a cancellation): free the slot only."""
        self._account()
        self.in_flight -= 1
        self._end_hold(self._clock.now())
        self._wake()

    def _pipe_full(self, permit: Permit, now: float) -> bool:
        """Count slow start's rounds; True once goodput stopped growing for ``_FLAT_ROUNDS`` rounds in use."""
        self._round_answers += 1
        if self.waiting:
            self._round_busy = True
        if permit.started < self._round_began:
            return False
        span = now - self._round_began
        goodput = self._round_answers / span if span > 0 else 0.0
        busy = self._round_busy
        self._round_began = now
        self._round_answers = 0
        self._round_busy = False
        # Only a round in which requests waited for the limit says anything about the server (else the demand
        # held the answers back). At every answer would be stricter, but then a fleet's uneven demand kept slow
        # start going past the burst of a rate limit (6-8% of requests throttled at 150 and 400 services, against
        # 0.3-1.6%); the price is an early exit while new connections are still being opened.
        if not busy:
            return False
        if goodput >= (1 + self.slow_start_growth / 2) * self._best_goodput:
            self._best_goodput = goodput
            self._flat_rounds = 0
            return False
        self._flat_rounds += 1
        return self._flat_rounds >= _FLAT_ROUNDS

    def _latency_rose(self, latency: float) -> bool:
        if not math.isfinite(latency) or latency < 0:
            return False
        self._samples += 1
        if self._short is None or self._long is None:
            self._short = self._long = latency
            return False
        self._short += _SHORT_WEIGHT * (latency - self._short)
        self._long += _LONG_WEIGHT * (latency - self._long)
        rose = (
            self._samples > _WARM_UP
            and self._short > self.latency_tolerance * self._long
            and self._short - self._long > _LATENCY_FLOOR
        )
        if rose:
            # Start the comparison afresh at the new level: one sustained rise is one cut, not one per request.
            self._long = self._short
            self._samples = 0
        return rose
