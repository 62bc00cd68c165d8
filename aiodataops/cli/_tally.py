"""What a progress display knows about a fleet run, kept from its events alone (no I/O): counts per outcome, the
services in flight, the last few changes, a recent rate and an ETA."""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Final

import attrs

from aiodataops.cli._common import plural
from aiodataops.fleet import (
    Baking,
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    FleetEnded,
    FleetStarted,
    Outcome,
    PaceChanged,
    Stopping,
    TargetAccepted,
    TargetEnded,
    TargetsResolved,
    TargetStarted,
    TargetStateChanged,
)
from aiodataops.fleet._report import SUCCESS_OUTCOMES

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops.fleet import FleetEvent, ItemReport

__all__ = ["OUTCOME_STYLES", "Tally", "format_duration"]

#: How each outcome is styled on a terminal.
OUTCOME_STYLES: Final = {
    Outcome.SUCCEEDED: "green",
    Outcome.UNCHANGED: "green",
    Outcome.FAILED: "bold red",
    Outcome.TIMED_OUT: "red",
    Outcome.SKIPPED: "yellow",
    Outcome.NOT_STARTED: "dim",
}


def format_duration(seconds: float) -> str:
    """``7s``, ``3m05s``, ``2h01m``: short enough for a status line."""
    whole = max(0, round(seconds))
    if whole < 60:  # noqa: PLR2004 -- a minute
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:  # noqa: PLR2004 -- an hour
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@attrs.define
class Flight:
    """A service in flight: since when (by the tally's clock), its last state, its batch."""

    since: float
    state: str | None = None
    batch: int | None = None


@attrs.frozen
class Change:
    """One line of the recent changes: when, which service, what happened, and its style once it ended."""

    at: float
    service_id: str
    text: str
    style: str = ""


class Tally:
    """What both views show, kept from the events alone (no I/O): counts, in flight, recent changes, rate, ETA.

    ``clock`` gives seconds (monotonic); ``recent`` is how many changes are kept; the rate counts the targets that
    ended in the last ``window`` seconds (only those a worker ran: skipped ones and ones a journal already held
    end at once and would flatter it).
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        recent: int = 8,
        window: float = 10.0,
    ) -> None:
        self.clock = clock
        self.opened = clock()
        self.total = total
        #: The fixed concurrency, or the adaptive limit as last told (``"auto"`` until then).
        self.concurrency: int | str | None = None
        self.dry_run = False
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self.in_flight: dict[str, Flight] = {}
        self.recent: collections.deque[Change] = collections.deque(maxlen=recent)
        self.batch: tuple[int, int] | None = None
        self.baking_until: float | None = None
        self.notices: list[str] = []
        self.finished = False
        self.elapsed_at_end: float | None = None
        self._window = window
        self._first_start: float | None = None
        self._ends: collections.deque[float] = collections.deque()

    @property
    def done(self) -> int:
        """Targets ended so far, whatever their outcome."""
        return sum(self.counts.values())

    @property
    def elapsed(self) -> float:
        """Seconds since the display opened (frozen when the run ended)."""
        return self.elapsed_at_end if self.elapsed_at_end is not None else self.clock() - self.opened

    def rate(self) -> float | None:
        """Targets ended per second recently (``None`` before the first one a worker ran ended)."""
        if self._first_start is None or not self._ends:
            return None
        now = self.clock()
        while self._ends and self._ends[0] < now - self._window:
            self._ends.popleft()
        span = min(self._window, now - self._first_start)
        return len(self._ends) / span if span > 0 and self._ends else None

    def eta(self) -> float | None:
        """Seconds until every target ended at the recent rate (``None`` when the total or a rate is unknown)."""
        rate = self.rate()
        if self.total is None or not rate or self.finished:
            return None
        return max(0, self.total - self.done) / rate

    def apply(self, event: FleetEvent) -> None:  # noqa: C901, PLR0912 -- one branch per kind of event
        """Take one event into account."""
        now = self.clock()
        match event:
            case FleetStarted():
                self.total = event.total if event.total is not None else self.total
                self.concurrency = event.concurrency
                self.dry_run = event.dry_run
            case TargetsResolved():
                self.total = event.total
            case PaceChanged():
                self.concurrency = event.limit
            case BatchStarted():
                self.batch = (event.index, event.size)
                self.baking_until = None
            case BatchEnded():
                self.batch = None
            case Baking():
                self.baking_until = now + event.seconds
            case TargetStarted():
                self._first_start = now if self._first_start is None else self._first_start
                self.in_flight[event.service_id] = Flight(since=now, batch=event.batch)
            case TargetAccepted():
                flight = self.in_flight.get(event.service_id)
                if flight is not None:
                    flight.state = event.state
                self.recent.append(Change(now, event.service_id, f"accepted ({event.state or 'no state'})"))
            case TargetStateChanged():
                flight = self.in_flight.get(event.service_id)
                if flight is not None:
                    flight.state = event.new
                self.recent.append(Change(now, event.service_id, f"{event.old} -> {event.new}"))
            case TargetEnded():
                self._ended(event.item, now)
            case BudgetExceeded():
                self.notices.append(
                    f"failure budget exceeded ({event.failures} failed, {event.limit} allowed): "
                    "no new service starts, those in flight settle"
                )
            case Stopping() if event.reason == "interrupted":
                self.notices.append(
                    f"stopping: no new service starts, the {plural(event.in_flight, 'service')} in flight settle first "
                    "(Ctrl-C again to abort)"
                )
            case Stopping():
                self.notices.append(
                    f"stopping ({event.reason}): no new service starts, {plural(event.in_flight, 'service')} in flight"
                )
            case FleetEnded():
                self.finished = True
                self.elapsed_at_end = now - self.opened
                self.batch = None
                self.baking_until = None

    def _ended(self, item: ItemReport, now: float) -> None:
        self.counts[item.outcome] += 1
        if self.in_flight.pop(item.data_ops_service_id, None) is not None:
            self._ends.append(now)
        if item.outcome in SUCCESS_OUTCOMES or item.diff is not None:
            text = f"{item.outcome} ({item.final_state})" if item.final_state else str(item.outcome)
        else:
            reason = f": {item.error.kind}" if item.error else ""
            text = f"{item.outcome}{reason}" + (f" ({item.final_state})" if item.final_state else "")
        if item.outcome is Outcome.SKIPPED and self.recent and self.recent[-1].text == text:
            return  # a budget stop skips the rest at once; one line of it is enough
        for index in range(len(self.recent) - 1, -1, -1):
            change = self.recent[index]
            if change.service_id == item.data_ops_service_id and not change.style:
                # Its last state change and its end read best as one line: "UPDATING -> RUNNING: succeeded".
                del self.recent[index]
                text = f"{change.text}: {item.outcome if item.outcome is Outcome.SUCCEEDED else text}"
                break
        self.recent.append(Change(now, item.data_ops_service_id, text, OUTCOME_STYLES[item.outcome]))

    def summary(self) -> str:
        """One line: ``182/300 ended (170 succeeded, 12 failed), 16 in flight, 12.4 services/s, ETA 9s``."""
        of = f"/{self.total}" if self.total is not None else ""
        counts = ", ".join(f"{n} {o}" for o, n in self.counts.items() if n)
        parts = [f"{self.done}{of} ended" + (f" ({counts})" if counts else ""), f"{len(self.in_flight)} in flight"]
        rate = self.rate()
        if rate is not None:
            parts.append(f"{rate:.1f} services/s")
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        return ", ".join(parts)
