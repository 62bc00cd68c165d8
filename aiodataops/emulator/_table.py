"""What the data ops table and the services table share: records by id and name, reads, lists, changes, deletes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

from aiodataops.emulator._refusals import BusyError, MissingError, UnknownIdError
from aiodataops.emulator._timeline import BUSY, CREATING, GONE, RUNNING, TERMINATING, UPDATING, Record

if TYPE_CHECKING:
    import re
    from collections.abc import Iterable

    from aiodataops.emulator._timeline import Timeline

__all__ = ["Table"]

_CACHE_SIZE: Final = 64


class Table:
    """One kind of resource: its records by id and by name, and the operations every kind answers the same way."""

    kind: ClassVar[str]  # "service", "data_ops": Record.kind
    object_type: ClassVar[str]  # "DataOpsService": named in not-found answers
    noun: ClassVar[str]  # "data ops service": named in refusals
    id_key: ClassVar[str]
    name_key: ClassVar[str]
    #: The keys of a list item, in the order of the documented list model.
    summary_keys: ClassVar[tuple[str, ...]]
    #: Query parameters that filter a list by exact match.
    filters: ClassVar[frozenset[str]]
    #: The form of this kind's ids; a GET of an id of another form is a 400, as live answers a malformed id.
    id_pattern: ClassVar[re.Pattern[str]]

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.records: dict[str, Record] = {}
        self.names: dict[str, str] = {}
        #: Every id this table ever held: a GET of one that is gone answers 404, of one never seen 400.
        self.issued: set[str] = set()
        self._cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._cache_version = -1

    # -- records ------------------------------------------------------------------------------------------------

    def add(self, body: dict[str, Any], state: str) -> Record:
        """Add a record in ``state`` (seeding, or an accepted create)."""
        record = Record(self.kind, body[self.id_key], {**body, "state": self.timeline.case(state)}, state)
        self.records[record.id] = record
        self.issued.add(record.id)
        self.names[body[self.name_key]] = record.id
        return record

    def accept_create(self, body: dict[str, Any], placeholder: Record, now: float) -> dict[str, Any]:
        """Add an accepted create in CREATING, stamped as ``placeholder`` was, on its way to RUNNING."""
        record = self.add(body, CREATING)
        record.last_ms = placeholder.last_ms
        self.timeline.begin(
            record,
            now,
            previous=None,
            in_progress=CREATING,
            duration=self.timeline.config.create_duration,
            target=RUNNING,
        )
        return record.body

    def remove(self, record: Record) -> None:
        """Forget a record whose delete has ended."""
        self.records.pop(record.id, None)
        self.names.pop(record.body[self.name_key], None)

    def record(self, rid: str, now: float) -> Record:
        """The record of an id as it is now (every due transition applied); ``MissingError`` if unknown."""
        self.timeline.advance(now)
        record = self.records.get(rid)
        if record is None:
            raise MissingError(self.object_type, rid)
        return record

    def get(self, rid: str, now: float) -> dict[str, Any]:
        """The body a read sees now.

        A malformed or unknown id is a 400 (``UnknownIdError``, saying "not found"), as observed live (a 404 with
        the ``unknown_ids_404`` quirk); one that is gone after a delete is a 404, or a 400 with ``gone_answers_400``
        (what live answers there is not known). A new resource not yet readable (stale window) is a 404.
        """
        self.timeline.advance(now)
        record = self.records.get(rid)
        if record is None:
            quirks = self.timeline.config.quirks
            if rid in self.issued:
                answers_400 = "gone_answers_400" in quirks
            else:
                answers_400 = "unknown_ids_404" not in quirks or not self.id_pattern.match(rid)
            if answers_400:
                raise UnknownIdError(self.object_type, rid)
            raise MissingError(self.object_type, rid)
        body = self.timeline.visible(record, now)
        if body is None:
            raise MissingError(self.object_type, rid)
        return body

    def name_taken(self, name: str, now: float) -> bool:
        """Whether a record already has this name."""
        self.timeline.advance(now)
        return name in self.names

    # -- changes ------------------------------------------------------------------------------------------------

    def refuse_if_busy(self, record: Record, doing: str) -> None:
        """409 while another change of the record runs."""
        if record.state in BUSY:
            raise BusyError(f"{self.noun} {record.id} is {record.state}; wait until it settles before {doing} it")

    def accept_update(self, record: Record, body: dict[str, Any], now: float, actor: str) -> dict[str, Any]:
        """Replace the body with ``body`` (stamped) and start the update; return the 202 body."""
        previous = record.body
        record.body = {**body, "modified_dt": self.timeline.stamp(record, now), "modified_by": actor}
        self.timeline.begin(
            record,
            now,
            previous=previous,
            in_progress=UPDATING,
            duration=self.timeline.config.update_duration,
            target=RUNNING,
        )
        return record.body

    def accept_delete(self, record: Record, now: float, actor: str) -> dict[str, Any]:
        """Start the delete: the body in TERMINATING; the record answers 'not found' once it ends."""
        previous = record.body
        record.body = {**previous, "modified_dt": self.timeline.stamp(record, now), "modified_by": actor}
        self.timeline.begin(
            record,
            now,
            previous=previous,
            in_progress=TERMINATING,
            duration=self.timeline.config.delete_duration,
            target=GONE,
        )
        return record.body

    # -- lists --------------------------------------------------------------------------------------------------

    def list_page(
        self,
        *,
        filters: tuple[tuple[str, str], ...],
        sorts: tuple[tuple[str, bool], ...],
        page: int,
        size: int,
        now: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """Return one page of summaries and the total count of matches, as reads see them now."""
        timeline = self.timeline
        timeline.advance(now)
        if self._cache_version != timeline.version:
            self._cache.clear()
            self._cache_version = timeline.version
        key = (filters, sorts)
        matches = self._cache.get(key)
        if matches is None:
            matches = self._match(self.records.values(), filters, sorts, now)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = matches
        keys = self.summary_keys
        start = page * size
        items = [{k: body[k] for k in keys if k in body} for body in matches[start : start + size]]
        return items, len(matches)

    def _match(
        self,
        records: Iterable[Record],
        filters: tuple[tuple[str, str], ...],
        sorts: tuple[tuple[str, bool], ...],
        now: float,
    ) -> list[dict[str, Any]]:
        visible = self.timeline.visible
        bodies = [b for b in (visible(r, now) for r in records) if b is not None]
        if filters:
            bodies = [b for b in bodies if all(b.get(k) == v for k, v in filters)]
        for field, descending in reversed(sorts):
            present = [b for b in bodies if b.get(field) is not None]
            absent = [b for b in bodies if b.get(field) is None]
            present.sort(key=lambda b: b[field], reverse=descending)
            bodies = present + absent
        return bodies
