"""Live progress of a fleet run, for people: a rich ``Live`` panel on a terminal, plain lines anywhere else.

```python
with FleetProgress(sys.stderr) as progress:
    report = await client.fleet.apply(plan, on_event=progress.on_event)
```

On a terminal the panel shows the counts per outcome, the services in flight (longest first), the last few state
changes, a rate (services ended per second over the last few seconds) with an ETA, and batch, bake and budget
notices. Anywhere else (a pipe, a file, a CI log) it writes one line per ended target and per batch, bake, budget
or stop event, and a summary line at most every ``summary_every`` seconds. It writes to the stream it is given
(the commands give standard error, so that standard output keeps the report alone).

What it shows comes from the fleet's events only: ids, states, counts, durations and the report's error summaries,
never a request or a response body, so never a key, signature, token or password.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Final, Self

import attrs
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from aiodataops.fleet import (
    Baking,
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    FleetEnded,
    FleetStarted,
    Outcome,
    Stopping,
    TargetAccepted,
    TargetEnded,
    TargetsResolved,
    TargetStarted,
    TargetStateChanged,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from rich.console import RenderableType

    from aiodataops.fleet import FleetEvent, ItemReport

__all__ = ["FleetProgress", "Tally", "format_duration"]

#: How each outcome is styled on a terminal.
_STYLES: Final = {
    Outcome.SUCCEEDED: "green",
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
class _Flight:
    since: float
    state: str | None = None
    batch: int | None = None


@attrs.frozen
class _Change:
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
        self.concurrency: int | None = None
        self.dry_run = False
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self.in_flight: dict[str, _Flight] = {}
        self.recent: collections.deque[_Change] = collections.deque(maxlen=recent)
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
            case BatchStarted():
                self.batch = (event.index, event.size)
                self.baking_until = None
            case BatchEnded():
                self.batch = None
            case Baking():
                self.baking_until = now + event.seconds
            case TargetStarted():
                self._first_start = now if self._first_start is None else self._first_start
                self.in_flight[event.service_id] = _Flight(since=now, batch=event.batch)
            case TargetAccepted():
                flight = self.in_flight.get(event.service_id)
                if flight is not None:
                    flight.state = event.state
                self.recent.append(_Change(now, event.service_id, f"accepted ({event.state or 'no state'})"))
            case TargetStateChanged():
                flight = self.in_flight.get(event.service_id)
                if flight is not None:
                    flight.state = event.new
                self.recent.append(_Change(now, event.service_id, f"{event.old} -> {event.new}"))
            case TargetEnded():
                self._ended(event.item, now)
            case BudgetExceeded():
                self.notices.append(
                    f"failure budget exceeded ({event.failures} failed, {event.limit} allowed): "
                    "no new service starts, those in flight settle"
                )
            case Stopping():
                self.notices.append(f"stopping ({event.reason}): no new service starts, {event.in_flight} in flight")
            case FleetEnded():
                self.finished = True
                self.elapsed_at_end = now - self.opened
                self.batch = None
                self.baking_until = None

    def _ended(self, item: ItemReport, now: float) -> None:
        self.counts[item.outcome] += 1
        if self.in_flight.pop(item.data_ops_service_id, None) is not None:
            self._ends.append(now)
        if item.outcome is Outcome.SUCCEEDED or item.diff is not None:
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
        self.recent.append(_Change(now, item.data_ops_service_id, text, _STYLES[item.outcome]))

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


class FleetProgress:
    """Show a fleet run's progress on ``stream``: a live panel on a terminal, plain lines elsewhere.

    ``with FleetProgress(sys.stderr) as progress: await client.fleet.apply(..., on_event=progress.on_event)``.
    ``total`` is the fleet size if known before the run says it. ``live`` forces the panel (``True``) or plain
    lines (``False``); by default the panel is used when the stream is a terminal. ``console`` replaces the rich
    console built on ``stream`` (tests render into one with ``force_terminal=True``). ``summary_every`` spaces
    the plain summary lines; ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        total: int | None = None,
        live: bool | None = None,
        console: Console | None = None,
        summary_every: float = 5.0,
        recent: int = 8,
        shown_in_flight: int = 6,
        refresh_per_second: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream: IO[str] = stream if stream is not None else (console.file if console else sys.stderr)
        self.console = console or Console(file=self.stream, highlight=False)
        self.live_mode = self.console.is_terminal if live is None else live
        self.tally = Tally(total, clock=clock, recent=recent)
        self._clock = clock
        self._summary_every = summary_every
        self._last_summary = clock()
        self._shown_in_flight = shown_in_flight
        self._refresh_per_second = refresh_per_second
        self._lock = threading.Lock()  # rich's refresh thread renders while the event loop's thread updates
        self._live: Live | None = None

    def __repr__(self) -> str:
        return f"FleetProgress(live={self.live_mode}, {self.tally.summary()})"

    def __enter__(self) -> Self:
        if self.live_mode:
            self._live = Live(
                console=self.console,
                get_renderable=self.render,
                refresh_per_second=self._refresh_per_second,
                # Standard output belongs to the report; only stray writes to our own stream go above the panel.
                redirect_stdout=False,
                redirect_stderr=self.stream is sys.stderr,
            )
            self._live.start(refresh=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def on_event(self, event: FleetEvent) -> None:
        """The ``on_event`` callback of ``Fleet.apply``: record the event and show what is worth showing."""
        with self._lock:
            self.tally.apply(event)
        if self.live_mode:
            if self._live is not None and isinstance(event, FleetEnded):
                self._live.refresh()
            return
        line = self.line(event)
        if line is not None:
            self._write(line)
        now = self._clock()
        if isinstance(event, FleetEnded):
            return
        if now - self._last_summary >= self._summary_every and isinstance(event, TargetEnded | TargetStateChanged):
            self._last_summary = now
            self._write("progress: " + self.tally.summary())

    __call__ = on_event

    # -- plain lines ------------------------------------------------------------------------------------------

    def line(self, event: FleetEvent) -> str | None:  # noqa: PLR0911 -- one line per kind of event
        """The plain line for an event (``None`` for the events that get none: starts and state changes)."""
        match event:
            case FleetStarted():
                total = f"{event.total} targets" if event.total is not None else "targets resolve as the run goes"
                resumed = f", {event.resumed} already ended (journal)" if event.resumed else ""
                mode = "dry run: " if event.dry_run else ""
                return f"{mode}{total}, concurrency {event.concurrency}{resumed}"
            case BatchStarted():
                return f"batch {event.index + 1}: up to {event.size} service{'s' if event.size != 1 else ''}"
            case BatchEnded():
                counts = ", ".join(f"{n} {o}" for o, n in event.counts.items() if n) or "nothing ran"
                return f"batch {event.index + 1} done: {counts}"
            case Baking():
                return f"baking {event.seconds:g}s before batch {event.next_batch + 1}"
            case TargetEnded():
                return _item_line(event.item)
            case BudgetExceeded() | Stopping():
                return self.tally.notices[-1] if self.tally.notices else None
            case FleetEnded():
                return f"done in {format_duration(event.report.elapsed_seconds)}: {self.tally.summary()}"
        return None

    def _write(self, line: str) -> None:
        self.stream.write(f"{self.tally.elapsed:7.1f}s  {line}\n")
        self.stream.flush()

    # -- the live panel ---------------------------------------------------------------------------------------

    def render(self) -> RenderableType:
        """The panel as it stands now."""
        with self._lock:
            return self._render()

    def _render(self) -> RenderableType:
        tally = self.tally
        parts: list[RenderableType] = [self._head(), self._counts()]
        notices = self._notices()
        if notices is not None:
            parts.append(notices)
        if tally.in_flight and not tally.finished:
            parts.append(self._in_flight_table())
        if tally.recent and not tally.finished:
            parts.append(self._recent_table())
        title = "aiodataops fleet" + (" (dry run)" if tally.dry_run else "")
        return Panel(Group(*parts), title=title, title_align="left", border_style=_border(tally), expand=True)

    def _head(self) -> RenderableType:
        tally = self.tally
        grid = Table.grid(padding=(0, 2), expand=True)
        grid.add_column(ratio=1)
        grid.add_column(justify="right", no_wrap=True)
        total = tally.total
        bar: RenderableType = (
            ProgressBar(total=total, completed=tally.done, complete_style="green", finished_style="green")
            if total
            else Text("targets resolve as the run goes", style="dim")
        )
        status = f"{tally.done}/{total} ({tally.done * 100 // total}%)" if total else f"{tally.done} ended"
        rate = tally.rate()
        if rate is not None and not tally.finished:
            status += f"  {rate:.1f} services/s"
        eta = tally.eta()
        if eta is not None:
            status += f"  ETA {format_duration(eta)}"
        status += f"  {'took' if tally.finished else 'elapsed'} {format_duration(tally.elapsed)}"
        grid.add_row(bar, status)
        return grid

    def _counts(self) -> Text:
        tally = self.tally
        text = Text()
        for outcome, n in tally.counts.items():
            text.append(f"{str(outcome).replace('_', ' ')} ", style="dim" if not n else "")
            text.append(f"{n}", style=_STYLES[outcome] if n else "dim")
            text.append("   ")
        if not tally.finished:
            of = f"/{tally.concurrency}" if tally.concurrency else ""
            text.append(f"in flight {len(tally.in_flight)}{of}", style="cyan")
        return text

    def _notices(self) -> Text | None:
        tally = self.tally
        text = Text()
        if tally.batch is not None:
            index, size = tally.batch
            text.append(f"batch {index + 1} (up to {size})  ", style="magenta")
        if tally.baking_until is not None:
            left = tally.baking_until - self._clock()
            if left > 0:
                text.append(f"baking: next batch in {format_duration(left)}  ", style="magenta")
        for notice in tally.notices[-2:]:
            text.append(notice + "  ", style="bold yellow")
        return text if text.plain else None

    def _in_flight_table(self) -> Table:
        tally = self.tally
        now = self._clock()
        flights = sorted(tally.in_flight.items(), key=lambda kv: kv[1].since)
        shown = flights[: self._shown_in_flight]
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, overflow="ellipsis", min_width=20)
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        more = len(flights) - len(shown)
        heading = f"in flight, longest first{f' (+{more} more)' if more else ''}"
        table.add_row(Text(heading, style="bold"), "", "")
        for sid, flight in shown:
            table.add_row(sid, flight.state or "starting", f"{now - flight.since:.1f}s")
        return table

    def _recent_table(self) -> Table:
        tally = self.tally
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", no_wrap=True, style="dim")
        table.add_column(no_wrap=True, overflow="ellipsis", min_width=20)
        table.add_column(no_wrap=True, overflow="ellipsis")
        table.add_row("", Text("recent changes", style="bold"), "")
        for change in tally.recent:
            table.add_row(f"{change.at - tally.opened:.1f}s", change.service_id, Text(change.text, style=change.style))
        return table


def _border(tally: Tally) -> str:
    """Blue while running; at the end green (all succeeded), yellow (some did not) or red (the run was stopped)."""
    if not tally.finished:
        return "blue"
    if tally.notices:
        return "red"
    return "yellow" if any(n for o, n in tally.counts.items() if o is not Outcome.SUCCEEDED) else "green"


def _item_line(item: ItemReport) -> str:
    sid = item.data_ops_service_id
    if item.diff is not None:
        if not item.diff:
            return f"no change    {sid}: the update is already in place"
        changes = "; ".join(f"{c.field}: {c.current!r} -> {c.desired!r}" for c in item.diff)
        return f"would change {sid}: {changes}"
    tail = f" ({item.final_state})" if item.final_state else ""
    if item.total_seconds is not None:
        tail += f" in {item.total_seconds:.1f}s"
    if item.resumed:
        tail += " [resumed]"
    if item.error is not None:
        status = f" {item.error.status}" if item.error.status else ""
        tail += f": {item.error.kind}{status}: {item.error.message.removeprefix(f'{sid}: ')}"
    return f"{item.outcome:<11} {sid}{tail}"
