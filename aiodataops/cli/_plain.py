"""The plain-line view of a fleet run, for logs, pipes and CI: one line per noteworthy event, stamped with the
seconds since the run began, and a summary line now and then. ``item_line`` is also how a summary names a service.

```
    0.0s  12 targets, concurrency 4
    0.0s  batch 1: up to 1 service
    0.1s  accepted    DOPS_SERVICE-... (UPDATING)
    0.9s  state       DOPS_SERVICE-... UPDATING -> RUNNING (0.8s)
    0.9s  succeeded   DOPS_SERVICE-... (RUNNING) in 0.9s
```
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Final

from aiodataops.cli._common import plural
from aiodataops.cli._tally import format_duration
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
    TargetStateChanged,
)

if TYPE_CHECKING:
    from aiodataops.cli._tally import Tally
    from aiodataops.fleet import FleetEvent, ItemReport

__all__ = ["PlainLines", "item_line"]

#: The first column of a service's line: its outcome, ``accepted`` or ``state``, padded to the longest outcome.
_WIDTH: Final = max(len(outcome) for outcome in Outcome)


def item_line(item: ItemReport) -> str:
    """A service's result in one line: outcome, id, final state, duration and the error's kind and message."""
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
    return f"{item.outcome:<{_WIDTH}} {sid}{tail}"


class PlainLines:
    """Write the lines of a run's events to ``stream``; ``tally`` must already hold each event it is given.

    A summary line (``progress: 5/10 ended ...``) follows an event at most every ``summary_every`` seconds.
    """

    def __init__(self, stream: IO[str], tally: Tally, *, summary_every: float = 5.0) -> None:
        self.stream = stream
        self.tally = tally
        self._summary_every = summary_every
        self._last_summary = tally.clock()

    def on_event(self, event: FleetEvent) -> None:
        """Write the event's line, if it has one, and the summary line when it is due."""
        line = self.line(event)
        if line is not None:
            self._write(line)
        if isinstance(event, FleetEnded) or not isinstance(event, TargetEnded | TargetStateChanged):
            return
        now = self.tally.clock()
        if now - self._last_summary >= self._summary_every:
            self._last_summary = now
            self._write("progress: " + self.tally.summary())

    def line(self, event: FleetEvent) -> str | None:  # noqa: PLR0911 -- one line per kind of event
        """The line for an event (``None`` for the events that get none, such as a service starting)."""
        match event:
            case FleetStarted():
                # The tally's total: the command may have counted a plan's selectors before the run.
                known = self.tally.total
                total = plural(known, "target") if known is not None else "targets resolve as the run goes"
                resumed = f", {event.resumed} already ended (journal)" if event.resumed else ""
                mode = "dry run: " if event.dry_run else ""
                return f"{mode}{total}, concurrency {event.concurrency}{resumed}"
            case BatchStarted():
                return f"batch {event.index + 1}: up to {plural(event.size, 'service')}"
            case BatchEnded():
                counts = ", ".join(f"{n} {o}" for o, n in event.counts.items() if n) or "nothing ran"
                return f"batch {event.index + 1} done: {counts}"
            case Baking():
                return f"baking {event.seconds:g}s before batch {event.next_batch + 1}"
            case TargetAccepted():
                return f"{'accepted':<{_WIDTH}} {event.service_id} ({event.state or 'no state'})"
            case TargetStateChanged():
                change = f"{event.old} -> {event.new} ({event.elapsed:.1f}s)"
                return f"{'state':<{_WIDTH}} {event.service_id} {change}"
            case TargetEnded():
                # A dry run's changes are listed once, by the summary, not here as well.
                return item_line(event.item) if event.item.diff is None else None
            case BudgetExceeded() | Stopping():
                return self.tally.notices[-1] if self.tally.notices else None
            case FleetEnded():
                return f"done in {format_duration(event.report.elapsed_seconds)}: {self.tally.summary()}"
        return None

    def _write(self, line: str) -> None:
        self.stream.write(f"{self.tally.elapsed:7.1f}s  {line}\n")
        self.stream.flush()
