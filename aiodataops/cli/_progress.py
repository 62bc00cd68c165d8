"""Live progress of a fleet run, for people: a rich live panel on a terminal, plain lines anywhere else.

```python
with FleetProgress(sys.stderr) as progress:
    report = await client.fleet.apply(plan, on_event=progress.on_event)
```

Both views are drawn from one ``Tally`` of the run's events (``_tally.py``): the panel (``_panel.py``) on a
terminal, one line per noteworthy event (``_plain.py``) on a pipe, a file or a CI log. It writes to the stream it
is given (the commands give standard error, so that standard output keeps the report alone).

What it shows comes from the fleet's events only: ids, states, counts, durations and the report's error summaries,
never a request or a response body, so never a key, signature, token or password.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Self

from rich.console import Console
from rich.live import Live

from aiodataops.cli._panel import LivePanel
from aiodataops.cli._plain import PlainLines
from aiodataops.cli._tally import Tally, format_duration
from aiodataops.fleet import FleetEnded

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from rich.console import RenderableType

    from aiodataops.fleet import FleetEvent

__all__ = ["FleetProgress", "Tally", "format_duration"]


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
        self.panel = LivePanel(self.tally, clock=clock, shown_in_flight=shown_in_flight)
        self.lines = PlainLines(self.stream, self.tally, summary_every=summary_every)
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
        if not self.live_mode:
            self.lines.on_event(event)
        elif self._live is not None and isinstance(event, FleetEnded):
            self._live.refresh()

    __call__ = on_event

    def render(self) -> RenderableType:
        """The panel as it stands now."""
        with self._lock:
            return self.panel.render()
