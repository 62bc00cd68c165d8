"""A validated fleet plan's parts: ``Plan``, its ``Target`` s and ``Selector`` s, ``ResolvedTarget``, ``PlanError``."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

import attrs

from aiodataops._errors import DataOpsError
from aiodataops._models import ServiceSummary, ServiceUpdate
from aiodataops._wire import format_datetime

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["SELECTABLE_FIELDS", "Plan", "PlanError", "ResolvedTarget", "Selector", "Target"]

SELECTABLE_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(ServiceSummary) if a.name != "extra")
_MAX_SHOWN = 20


class PlanError(DataOpsError, ValueError):
    """A plan is not valid; ``problems`` lists every ``(place, problem)`` found, e.g.
    ``("targets[3].update.service_workload.worker.cpu", "expected a string, got int 2")``.
    """

    def __init__(self, problems: Iterable[tuple[str, str]], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        lines = [f"{place}: {problem}" if place else problem for place, problem in self.problems]
        if len(lines) == 1:
            message = prefix + lines[0]
        else:
            shown = lines[:_MAX_SHOWN]
            more = len(lines) - len(shown)
            message = f"{prefix}{len(lines)} problems in the plan:\n  " + "\n  ".join(shown)
            if more:
                message += f"\n  ... and {more} more"
        super().__init__(message)

    @property
    def place(self) -> str:
        """Where the first problem is."""
        return self.problems[0][0] if self.problems else ""

    @property
    def problem(self) -> str:
        """What the first problem is."""
        return self.problems[0][1] if self.problems else ""


@attrs.frozen
class Selector:
    """Field globs over a ``ServiceSummary``; a service matches when every field matches one of its globs."""

    globs: tuple[tuple[str, tuple[str, ...]], ...]

    def matches(self, summary: ServiceSummary) -> bool:
        """True when ``summary`` matches every field of this selector."""
        for field, patterns in self.globs:
            value = getattr(summary, field)
            if value is None:
                return False
            text = format_datetime(value) if not isinstance(value, str) else value
            if field == "state":
                text = text.upper()
                if not any(fnmatch.fnmatchcase(text, p.upper()) for p in patterns):
                    return False
            elif not any(fnmatch.fnmatchcase(text, p) for p in patterns):
                return False
        return True

    def __str__(self) -> str:
        return " ".join(f"{field}={'|'.join(pats)}" for field, pats in self.globs)


@attrs.frozen
class Target:
    """One entry of ``targets``: a ``service_id`` or a ``select``, with its effective (merged) ``update``."""

    place: str
    update: ServiceUpdate
    service_id: str | None = None
    select: Selector | None = None


@attrs.frozen
class ResolvedTarget:
    """A service to update, with the update for it and the plan entry it came from."""

    service_id: str
    update: ServiceUpdate
    place: str | None = None


@attrs.frozen
class Plan:
    """A validated plan. ``data`` is the plan as loaded (JSON-able; a journal embeds it), ``sha256`` its digest."""

    targets: tuple[Target, ...]
    update: ServiceUpdate | None = None
    data: Any = attrs.field(default=None, eq=False, repr=False)
    path: str | None = None
    sha256: str = ""

    @property
    def explicit_ids(self) -> frozenset[str]:
        """The ids listed by id."""
        return frozenset(t.service_id for t in self.targets if t.service_id is not None)

    @property
    def has_selectors(self) -> bool:
        """True when resolving needs the service list."""
        return any(t.select is not None for t in self.targets)
