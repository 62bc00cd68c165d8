"""What an update would change on a service: the fields it sets whose current wire value differs.

Both sides are compared in wire form (``_wire.unstructure``), so ``host_alias.enabled`` is ``"true"`` on both and
lists (``host_alias_list``) compare whole. Only fields the update sets are read from the service, so nothing
else of it (an ``account_password`` above all) reaches a diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from aiodataops._wire import unstructure
from aiodataops.fleet._report import Change

if TYPE_CHECKING:
    from aiodataops._models import Service, ServiceUpdate

__all__ = ["diff"]


def diff(current: Service, update: ServiceUpdate) -> tuple[Change, ...]:
    """The changes ``update`` would make to ``current``; empty when it is already in place."""
    desired: dict[str, Any] = unstructure(update)
    changes: list[Change] = []
    for field, want in desired.items():
        _compare(field, _wire_value(getattr(current, field, None)), want, changes)
    return tuple(changes)


def _wire_value(value: Any) -> Any:
    return unstructure(value) if attrs.has(type(value)) else value


def _compare(path: str, have: Any, want: Any, out: list[Change]) -> None:
    if isinstance(want, Mapping):
        have_map = have if isinstance(have, Mapping) else {}
        for key, sub in want.items():
            _compare(f"{path}.{key}", have_map.get(key), sub, out)
    elif have != want:
        out.append(Change(field=path, current=have, desired=want))
