"""The emulator's lifecycle in time: records, their accepted changes, and one heap of timed events.

No task runs per resource: every accepted change pushes its end (and the end of its stale-read window) onto one
heap of timed events, and each request first applies the events that are due (``advance``). A fleet of 10,000
services costs a dict entry each, and a rollout costs a heap push per change.

Bodies are wire dicts (the JSON the API answers), replaced, never mutated, on every change: the previous snapshot
can be kept as is for the stale-read window, and an answer is one ``orjson.dumps`` away.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import time
from typing import TYPE_CHECKING, Any, Final

from aiodataops._wire import format_datetime
from aiodataops.emulator._config import QUIRK_SHARES
from aiodataops.emulator._random import between, unit

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops._clock import Clock
    from aiodataops.emulator._config import EmulatorConfig

__all__ = [
    "BUSY",
    "CREATING",
    "ERROR",
    "GONE",
    "RUNNING",
    "STOPPED",
    "TERMINATING",
    "UPDATING",
    "Record",
    "Timeline",
    "format_ms",
]

RUNNING: Final = "RUNNING"
ERROR: Final = "ERROR"
CREATING: Final = "CREATING"
UPDATING: Final = "UPDATING"
TERMINATING: Final = "TERMINATING"
#: Where a share of updates end with the ``updates_end_stopped`` quirk: settled neither as success nor as failure.
STOPPED: Final = "STOPPED"
#: The target of a delete: the record leaves its table when the change ends.
GONE: Final = "<gone>"
#: States in which a resource refuses another change (409).
BUSY: Final = frozenset({CREATING, UPDATING, TERMINATING})


class Record:
    """One data ops or service: its true body and state, its pending change and its stale snapshot."""

    __slots__ = ("body", "changes", "generation", "id", "kind", "last_ms", "stale_body", "stale_until", "state")

    def __init__(self, kind: str, rid: str, body: dict[str, Any], state: str) -> None:
        self.kind = kind
        self.id = rid
        self.body = body
        self.state = state
        #: What reads answer until ``stale_until``; ``None`` there means "not visible yet" (a fresh create).
        self.stale_body: dict[str, Any] | None = None
        self.stale_until = -math.inf
        self.changes = 0
        self.generation = 0
        self.last_ms = 0


def _title(state: str) -> str:
    return state.title()


def _upper(state: str) -> str:
    return state


class Timeline:
    """When each accepted change ends, what reads see meanwhile, and the clock all of it runs on.

    ``on_gone`` is called with a record whose delete has ended, so that its table forgets it.
    """

    def __init__(self, config: EmulatorConfig, clock: Clock, on_gone: Callable[[Record], None]) -> None:
        self._config = config
        self._clock = clock
        self._seed = config.seed
        self._on_gone = on_gone
        self.case = _title if config.state_case == "title" else _upper
        self._mono0 = clock.now()
        self.wall0 = time.time()
        self._heap: list[tuple[float, int, str, Record, int, str]] = []
        self._seq = itertools.count()
        self._forced: dict[str, str] = {}
        #: Resource id -> the clock time its latest accepted change ends (or ended).
        self.settle_times: dict[str, float] = {}
        #: Bumped on every visible change; list answers are cached per version.
        self.version = 0

    @property
    def config(self) -> EmulatorConfig:
        """The lifecycle settings in force."""
        return self._config

    def now(self) -> float:
        """Return the clock's time, the one every transition is measured on."""
        return self._clock.now()

    @staticmethod
    def format_seconds(seconds: float) -> str:
        """Format epoch seconds as the API writes datetimes."""
        return format_ms(int(seconds * 1000))

    def stamp(self, record: Record, now: float) -> str:
        """Return a new ``modified_dt``: the clock's wall time, strictly later than the record's last one."""
        ms = max(int((self.wall0 + now - self._mono0) * 1000), record.last_ms + 1)
        record.last_ms = ms
        return format_ms(ms)

    def advance(self, now: float) -> None:
        """Apply every transition and stale-window end that is due at ``now``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, event, record, generation, target = heapq.heappop(heap)
            self.version += 1
            if generation != record.generation:
                continue
            if event == "unstale":
                record.stale_body = None
                record.stale_until = -math.inf
            elif target == GONE:
                self._on_gone(record)
            else:
                self.set_record_state(record, target)

    def set_record_state(self, record: Record, state: str) -> None:
        """Set a record's state and the ``state`` of its body, cased as configured."""
        record.state = state
        record.body = {**record.body, "state": self.case(state)}

    def begin(
        self,
        record: Record,
        now: float,
        *,
        previous: dict[str, Any] | None,
        in_progress: str,
        duration: tuple[float, float],
        target: str,
    ) -> None:
        """Start a change: set the in-progress state, open the stale window, schedule the end."""
        self.version += 1
        record.changes += 1
        record.generation += 1
        self.set_record_state(record, in_progress)
        stale = self._config.stale_read_seconds
        if stale > 0:
            record.stale_body = previous
            record.stale_until = now + stale
            heapq.heappush(self._heap, (now + stale, next(self._seq), "unstale", record, record.generation, ""))
        target = self._outcome(record, in_progress, target)
        at = now + between(*duration, unit(self._seed, "duration", record.id, record.changes))
        self.settle_times[record.id] = at
        heapq.heappush(self._heap, (at, next(self._seq), "settle", record, record.generation, target))

    def _outcome(self, record: Record, in_progress: str, target: str) -> str:
        """The state a change ends in: a forced one, else a seeded share of updates end in ERROR (or STOPPED)."""
        forced = self._forced.pop(record.id, None)
        if forced is not None and target != GONE:
            return forced
        if target != RUNNING or in_progress != UPDATING:
            return target
        config = self._config
        if config.error_rate > 0 and unit(self._seed, "outcome", record.id, record.changes) < config.error_rate:
            return ERROR
        stopped = QUIRK_SHARES["updates_end_stopped"]
        if "updates_end_stopped" in config.quirks and unit(self._seed, "stopped", record.id, record.changes) < stopped:
            return STOPPED
        return target

    def reconfigure(self, config: EmulatorConfig) -> None:
        """Use new lifecycle settings from the next change on (durations, stale window, error rate)."""
        self._config = config

    def force_outcome(self, resource_id: str, state: str) -> None:
        """Make the next change of this resource end in ``state`` (e.g. ``"ERROR"``) whatever the dice say."""
        self._forced[resource_id] = state.upper()

    def reset(self, record: Record, state: str) -> None:
        """Set a record's true state at once, cancelling its change in progress and its stale window."""
        record.generation += 1
        record.stale_body = None
        record.stale_until = -math.inf
        self.version += 1
        self.set_record_state(record, state.upper())

    @staticmethod
    def visible(record: Record, now: float) -> dict[str, Any] | None:
        """Return what a read sees now: the stale snapshot inside its window (``None``: not visible yet)."""
        if now < record.stale_until:
            return record.stale_body
        return record.body


def format_ms(ms: int) -> str:
    """Format epoch milliseconds as the API writes datetimes (UTC, milliseconds, ``Z``)."""
    seconds, millis = divmod(ms, 1000)
    return format_datetime(dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=millis * 1000))
