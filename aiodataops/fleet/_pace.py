"""``Pace``: how many services a fleet run keeps in flight, fixed or following the client's adaptive limit.

A fixed ``concurrency=N`` is a pool of N workers, as before. With ``concurrency="auto"`` the client's
``AdaptiveLimiter`` (``aiodataops._limiter``) bounds *requests* in flight, for every request of the client; the
run sizes its *services* in flight (its workers) so that they ask for about the limit, no more: by Little's law a
service in flight asks for ``f`` requests at a time on average (a request's time, waiting for a slot included,
over the time between its polls), so ``limit / f`` services fill the limit. The run measures ``f`` as it goes
(the limiter's demand, integrated over time, over the services in flight, integrated over time, window after
window of one second) and keeps 25% over
it, so that the limit stays in use and can grow. Before there is anything to measure, eight services per slot: a
settling service polled every half second or so at 50 ms asks for a tenth of a request, and with four per slot a
slow start that ends in the tens (x1.2 per round trip, ``aiodataops._limiter``) left the last services of a
150-service run to start seconds late, their settles a tail of the run (8.5-9.5 s against 5.4 s).

Workers are started as the wanted count grows and leave as it falls: tasks and buffered targets follow the current
limit, never ``max_concurrency`` unless the limit gets there.

Services in flight are capped by ``max_concurrency`` too, although requests, not services, are what the API
limits, and a fleet whose services sit out long settles could keep more of them going within the same limit (the
pace benchmark at 400 services ran in two waves for it: 1.25x-1.4x its bound, 1.12x with a cap of 1,024). Kept on
purpose: the number of updates running at once is how many a tripped failure budget or a Ctrl-C still leaves to
settle, the blast radius of a bad update, and it should stay a number the user chose, not one the API's speed
chose. A user who wants more services at once raises ``max_concurrency``.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from aiodataops._clock import Clock
    from aiodataops._limiter import AdaptiveLimiter
    from aiodataops.fleet._options import Options

__all__ = ["FALLBACK_CONCURRENCY", "Pace"]

log = logging.getLogger("aiodataops.fleet")

#: ``concurrency="auto"`` with a client that has no adaptive limiter (a test double): today's fixed default.
FALLBACK_CONCURRENCY: Final = 16
#: Services per slot of the limit before any demand was measured.
_FIRST_FAN_OUT: Final = 8
#: Services in flight over what fills the limit, so that it stays in use (and can grow).
_HEADROOM: Final = 1.25
#: Service-seconds in flight in a window before its measured demand is trusted.
_WARM_UP: Final = 2.0
#: Seconds over which the demand per service is measured, window after window.
_WINDOW: Final = 1.0


class Pace:
    """One run's pace: ``wanted()`` services in flight, and what the report says about it."""

    def __init__(self, clock: Clock, limiter: AdaptiveLimiter | None, fixed: int, client: object) -> None:
        self._clock = clock
        self.limiter = limiter
        self.fixed = fixed
        self._client = client
        self._throttled_at_start = int(getattr(client, "throttled_requests", 0))
        self._started = clock.now()
        self._mark = self._started
        self._service_area = 0.0
        self._limit_at_start = limiter.integral() if limiter is not None else 0.0
        self._demand_at_start = limiter.demand_integral() if limiter is not None else 0.0
        self._per_service: float | None = None
        self._window_start = self._started
        self._window_service = 0.0
        self._window_demand = self._demand_at_start
        #: The limit last told in a ``PaceChanged`` event.
        self.reported = limiter.current if limiter is not None else fixed

    @classmethod
    def of(cls, client: object, options: Options) -> Pace:
        """The pace ``options`` ask for, with ``client``'s adaptive limiter when ``concurrency="auto"``."""
        clock: Clock = client.clock  # type: ignore[attr-defined]
        if options.concurrency != "auto":
            return cls(clock, None, options.concurrency, client)
        make = getattr(client, "adaptive_limiter", None)
        if make is None:
            log.debug(
                "concurrency='auto': %r has no adaptive limiter; %d services in flight", client, FALLBACK_CONCURRENCY
            )
            return cls(clock, None, FALLBACK_CONCURRENCY, client)
        limiter: AdaptiveLimiter = make(options.max_concurrency)
        return cls(clock, limiter, limiter.max_limit, client)

    @property
    def buffer(self) -> int:
        """The size of the targets' stream buffer: the pool's size, or the cap's for an adaptive one (it is small)."""
        return self.fixed

    def account(self, in_flight: int) -> None:
        """Note the services in flight until now (call before their number changes)."""
        now = self._clock.now()
        self._service_area += in_flight * max(0.0, now - self._mark)
        self._mark = now

    def wanted(self, in_flight: int) -> int:
        """Services to keep in flight now: the fixed pool, or what fills the adaptive limit (see the module)."""
        limiter = self.limiter
        if limiter is None:
            return self.fixed
        self.account(in_flight)
        limit = limiter.current
        self._measure(limiter)
        if self._per_service is None:
            want = _FIRST_FAN_OUT * limit
        else:
            want = math.ceil(_HEADROOM * limit / max(self._per_service, 1.0 / self.fixed))
        return max(limit, min(self.fixed, want))

    def _measure(self, limiter: AdaptiveLimiter) -> None:
        """Measure the demand per service over the last window (``_WINDOW`` s), not since the start: the first
        seconds, when the run's first services all queue for the few first slots, would weigh on it for long."""
        now = self._clock.now()
        if now - self._window_start < _WINDOW:
            return
        service_area = self._service_area - self._window_service
        if service_area >= _WARM_UP:
            demand = limiter.demand_integral() - self._window_demand
            self._per_service = demand / service_area
        self._window_start = now
        self._window_service = self._service_area
        self._window_demand = limiter.demand_integral()

    def mean_concurrency(self) -> float:
        """The time-weighted mean of the limit during the run (the fixed concurrency when not adaptive)."""
        limiter = self.limiter
        elapsed = self._clock.now() - self._started
        if limiter is None:
            return float(self.fixed)
        if elapsed <= 0:
            return float(limiter.current)
        return round((limiter.integral() - self._limit_at_start) / elapsed, 2)

    def throttled(self) -> int:
        """Requests the server throttled during the run (429, 417, 503 with ``Retry-After``)."""
        return int(getattr(self._client, "throttled_requests", 0)) - self._throttled_at_start
