"""What an update would change on a resource: the fields it sets whose current wire value differs.

Both sides are compared in wire form (``_wire.unstructure``), so ``host_alias.enabled`` is ``"true"`` on both and
lists (``host_alias_list``) compare whole. Only fields the update sets are read from the resource, so nothing else
of it (an ``account_password`` above all) reaches a difference. Used by waits (a settled read must show the update)
and by the fleet (``fleet._diff``: dry runs, and whether a PUT whose answer was lost already landed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import attrs

from aiodataops._wire import unstructure

__all__ = ["Difference", "differences", "not_visible"]

#: Fields never compared by ``not_visible``: the server need not echo a secret back.
_UNCOMPARED = frozenset({"account"})


class Difference(NamedTuple):
    """One field the update sets whose current value differs: dotted ``field`` path, ``current``, ``desired``."""

    field: str
    current: Any
    desired: Any


def differences(current: Any, update: Any) -> list[Difference]:
    """The changes ``update`` (a model, or its wire form from ``unstructure``) would make to ``current``; empty when
    it is already in place."""
    # A caller that compares one update with many reads (fleet.apply) passes its wire form, unstructured once.
    desired: Mapping[str, Any] = update if isinstance(update, Mapping) else unstructure(update)
    out: list[Difference] = []
    for field, want in desired.items():
        _compare(field, _wire_value(getattr(current, field, None)), want, out)
    return out


def not_visible(current: Any, update: Any) -> str | None:
    """``None`` when ``current`` shows every field of ``update`` (a model or its wire form) its model has, else a
    short account of what not.

    Fields the resource's model does not declare (the server cannot show them) and secrets are not compared.
    """
    declared = _declared(type(current))
    missing = [
        d
        for d in differences(current, update)
        if d.field.split(".", 1)[0] in declared and d.field.split(".", 1)[0] not in _UNCOMPARED
    ]
    if not missing:
        return None
    shown = ", ".join(f"{d.field} is {d.current!r}, not {d.desired!r}" for d in missing[:3])
    return shown + (f" (and {len(missing) - 3} more)" if len(missing) > 3 else "")  # noqa: PLR2004 -- a few


#: Each model's field names, asked once per settled read of an update, so kept (a handful of classes).
_DECLARED: dict[type, frozenset[str]] = {}


def _declared(cls: type) -> frozenset[str]:
    """The field names a model declares (none for anything else)."""
    names = _DECLARED.get(cls)
    if names is None:
        names = _DECLARED[cls] = frozenset(a.name for a in attrs.fields(cls)) if attrs.has(cls) else frozenset()
    return names


def _wire_value(value: Any) -> Any:
    return unstructure(value) if attrs.has(type(value)) else value


def _compare(path: str, have: Any, want: Any, out: list[Difference]) -> None:
    if isinstance(want, Mapping):
        have_map = have if isinstance(have, Mapping) else {}
        for key, sub in want.items():
            _compare(f"{path}.{key}", have_map.get(key), sub, out)
    elif have != want:
        out.append(Difference(path, have, want))
