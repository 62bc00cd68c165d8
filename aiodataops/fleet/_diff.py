"""What an update would change on a service, as report lines (``Change``); the comparison is ``_changes``'.

Only fields the update sets are read from the service, so nothing else of it (an ``account_password`` above all)
reaches a diff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiodataops._changes import differences
from aiodataops.fleet._report import Change

if TYPE_CHECKING:
    from aiodataops._models import Service, ServiceUpdate

__all__ = ["diff"]


def diff(current: Service, update: ServiceUpdate) -> tuple[Change, ...]:
    """The changes ``update`` would make to ``current``; empty when it is already in place."""
    return tuple(Change(field=d.field, current=d.current, desired=d.desired) for d in differences(current, update))
