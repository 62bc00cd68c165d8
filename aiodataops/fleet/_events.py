"""What a fleet run tells ``on_event`` as it goes: one small frozen value per happening.

Every event has a ``kind`` string (for a ``match`` or a dispatch table) and ``to_dict()`` (for plain-line or JSON
progress). The order for one service is ``TargetStarted``, ``TargetAccepted``, any number of
``TargetStateChanged``, then ``TargetEnded`` (a target never started gets ``TargetEnded`` alone); around them come
``FleetStarted``, ``BatchStarted``/``BatchEnded``, ``Baking``, ``BudgetExceeded``, ``Stopping``,
``TargetsResolved`` and finally ``FleetEnded``. ``elapsed`` values are seconds on the run's clock.

An ``on_event`` callback may be a plain function or a coroutine function; it runs in the worker that made the
event, so it should be quick. An exception it raises is logged and otherwise ignored: a progress display must not
take a fleet run down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal, TypeAlias, cast

import attrs

from aiodataops.fleet._report import FleetReport, ItemReport, Outcome

__all__ = [
    "Baking",
    "BatchEnded",
    "BatchStarted",
    "BudgetExceeded",
    "EventCallback",
    "FleetEnded",
    "FleetEvent",
    "FleetStarted",
    "PaceChanged",
    "Stopping",
    "TargetAccepted",
    "TargetEnded",
    "TargetStarted",
    "TargetStateChanged",
    "TargetsResolved",
]


class _Event:
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON data: ``kind`` plus the fields."""
        data = attrs.asdict(cast("attrs.AttrsInstance", self), recurse=False)
        for key, value in data.items():
            if isinstance(value, ItemReport | FleetReport):
                data[key] = value.to_dict()
        return {"kind": self.kind, **data}


@attrs.frozen
class FleetStarted(_Event):
    """The run starts; ``total`` is the fleet size when known before starting (``None`` while selectors resolve)."""

    kind: ClassVar[str] = "fleet_started"
    total: int | None
    concurrency: int | Literal["auto"]
    dry_run: bool
    resumed: int = 0
    """Targets a journal already shows ended (they are not run again)."""


@attrs.frozen
class TargetsResolved(_Event):
    """Every target is now known: ``total`` services in all."""

    kind: ClassVar[str] = "targets_resolved"
    total: int


@attrs.frozen
class BatchStarted(_Event):
    """Canary batch ``index`` (0-based) starts, holding up to ``size`` services."""

    kind: ClassVar[str] = "batch_started"
    index: int
    size: int


@attrs.frozen
class BatchEnded(_Event):
    """Every service of batch ``index`` ended; ``counts`` per outcome within the batch."""

    kind: ClassVar[str] = "batch_ended"
    index: int
    counts: dict[str, int]


@attrs.frozen
class Baking(_Event):
    """Waiting ``seconds`` before batch ``next_batch`` starts."""

    kind: ClassVar[str] = "baking"
    seconds: float
    next_batch: int


@attrs.frozen
class TargetStarted(_Event):
    """A worker took a service; ``reattach`` when it only follows an update accepted before a crash."""

    kind: ClassVar[str] = "target_started"
    service_id: str
    batch: int | None
    reattach: bool = False


@attrs.frozen
class TargetAccepted(_Event):
    """The server answered 202 to the PUT (after ``attempts`` PUTs by this engine), ``elapsed`` after start."""

    kind: ClassVar[str] = "target_accepted"
    service_id: str
    state: str | None
    attempts: int
    elapsed: float


@attrs.frozen
class TargetStateChanged(_Event):
    """A poll read a new state (``old`` -> ``new``), ``elapsed`` seconds after acceptance."""

    kind: ClassVar[str] = "target_state_changed"
    service_id: str
    old: str | None
    new: str | None
    elapsed: float
    polls: int


@attrs.frozen
class TargetEnded(_Event):
    """A target ended; ``item`` is its final report line."""

    kind: ClassVar[str] = "target_ended"
    item: ItemReport

    @property
    def service_id(self) -> str:
        """The service id."""
        return self.item.data_ops_service_id

    @property
    def outcome(self) -> Outcome:
        """How it ended."""
        return self.item.outcome


@attrs.frozen
class BudgetExceeded(_Event):
    """More targets failed than ``limit`` allows: no new service starts; in-flight ones settle."""

    kind: ClassVar[str] = "budget_exceeded"
    failures: int
    limit: int


@attrs.frozen
class Stopping(_Event):
    """No new service starts (``reason``: ``interrupted``, ``aborted`` or ``error``); in-flight ones settle
    (except after ``aborted``)."""

    kind: ClassVar[str] = "stopping"
    reason: str
    in_flight: int


@attrs.frozen
class PaceChanged(_Event):
    """``concurrency="auto"``: the client's adaptive limit is now ``limit`` requests in flight; the run keeps
    ``workers`` services going (``in_flight`` of them busy)."""

    kind: ClassVar[str] = "pace_changed"
    limit: int
    workers: int
    in_flight: int


@attrs.frozen
class FleetEnded(_Event):
    """The run is over; ``report`` is what ``apply`` returns."""

    kind: ClassVar[str] = "fleet_ended"
    report: FleetReport


FleetEvent = (
    FleetStarted
    | TargetsResolved
    | BatchStarted
    | BatchEnded
    | Baking
    | TargetStarted
    | TargetAccepted
    | TargetStateChanged
    | TargetEnded
    | BudgetExceeded
    | Stopping
    | PaceChanged
    | FleetEnded
)
EventCallback: TypeAlias = Callable[[FleetEvent], Awaitable[None] | None]
"""What ``on_event`` may be: a function or a coroutine function taking one event."""
