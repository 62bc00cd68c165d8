"""The live view of a fleet run, for a terminal: one rich panel drawn from a ``Tally``.

It shows a progress bar with the rate, ETA and elapsed time, the counts per outcome, batch, bake and budget
notices, the services in flight (longest first) and the last few changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from aiodataops.cli._tally import OUTCOME_STYLES, format_duration
from aiodataops.fleet._report import SUCCESS_OUTCOMES

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import RenderableType

    from aiodataops.cli._tally import Tally

__all__ = ["LivePanel"]


class LivePanel:
    """Renders ``tally`` as a panel; ``shown_in_flight`` caps the rows of services in flight."""

    def __init__(self, tally: Tally, *, clock: Callable[[], float], shown_in_flight: int = 6) -> None:
        self.tally = tally
        self._clock = clock
        self._shown_in_flight = shown_in_flight

    def render(self) -> RenderableType:
        """The panel as the tally stands now."""
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
            text.append(f"{n}", style=OUTCOME_STYLES[outcome] if n else "dim")
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
    return "yellow" if any(n for o, n in tally.counts.items() if o not in SUCCESS_OUTCOMES) else "green"
