"""The emulator's data: one timeline and one table per kind of resource, seeded at construction.

- ``_timeline.py``: records, accepted changes and when they end, stale reads (the lifecycle in time);
- ``_table.py``: what both kinds share (reads, lists, updates, deletes);
- ``_data_ops_table.py`` and ``_service_table.py``: what only one kind does (creates, checks, sub-versions);
- ``_refusals.py``: what a table refuses, turned into error envelopes by ``_middlewares``.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from aiodataops.emulator import _seed
from aiodataops.emulator._data_ops_table import DataOpsTable
from aiodataops.emulator._service_table import ServiceTable
from aiodataops.emulator._timeline import RUNNING, Timeline

if TYPE_CHECKING:
    from aiodataops._clock import Clock
    from aiodataops.emulator._config import EmulatorConfig
    from aiodataops.emulator._table import Table
    from aiodataops.emulator._timeline import Record

__all__ = ["Store"]


class Store:
    """All data ops, services, clusters and images of one emulator, and the clock their lifecycle runs on."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.timeline = Timeline(config, clock, self._gone)
        rng = random.Random(config.seed + 1)  # noqa: S311 -- ids and passwords of test data
        fleet = _seed.seed_fleet(
            config.seed, config.service_counts(), self.timeline.wall0, self.timeline.format_seconds
        )
        self.clusters = fleet.clusters
        self.images = fleet.images
        self.data_ops_table = DataOpsTable(self.timeline, rng, fleet.clusters, fleet.images)
        self.service_table = ServiceTable(self.timeline, rng, self.data_ops_table)
        for body in fleet.data_ops:
            self.data_ops_table.add(body, RUNNING)
        for body in fleet.services:
            self.service_table.add(body, RUNNING)

    def _gone(self, record: Record) -> None:
        self.table(record.kind).remove(record)

    def table(self, kind: str) -> Table:
        """The table of ``"service"`` or ``"data_ops"`` records."""
        return self.service_table if kind == "service" else self.data_ops_table

    @property
    def services(self) -> dict[str, Record]:
        """Service records by id, as they are now (call ``advance`` first for the latest)."""
        return self.service_table.records

    @property
    def data_ops(self) -> dict[str, Record]:
        """Data ops records by id."""
        return self.data_ops_table.records

    @property
    def settle_times(self) -> dict[str, float]:
        """Resource id -> the clock time its latest accepted change ends (or ended)."""
        return self.timeline.settle_times

    def now(self) -> float:
        """Return the clock's time, the one every transition is measured on."""
        return self.timeline.now()

    def advance(self, now: float) -> None:
        """Apply every transition and stale-window end that is due at ``now``."""
        self.timeline.advance(now)

    def reconfigure(self, config: EmulatorConfig) -> None:
        """Use new lifecycle settings from the next change on (durations, stale window, error rate)."""
        self.timeline.reconfigure(config)

    def force_outcome(self, resource_id: str, state: str) -> None:
        """Make the next change of this resource end in ``state`` (e.g. ``"ERROR"``) whatever the dice say."""
        self.timeline.force_outcome(resource_id, state)

    def set_state(self, resource_id: str, state: str) -> None:
        """Set a resource's true state at once (test set-up: a service stuck in ERROR, say)."""
        record = self.services.get(resource_id) or self.data_ops.get(resource_id)
        if record is None:
            raise KeyError(resource_id)
        self.timeline.reset(record, state)

    def list_page(
        self,
        kind: str,
        *,
        filters: tuple[tuple[str, str], ...],
        sorts: tuple[tuple[str, bool], ...],
        page: int,
        size: int,
        now: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """Return one page of ``kind``'s summaries and the total count of matches, as reads see them now."""
        return self.table(kind).list_page(filters=filters, sorts=sorts, page=page, size=size, now=now)
