"""What an update would change on a service, as report lines (``Change``), and what it would overwrite (its
before-image); the comparison is ``_changes``'.

Only fields the update sets are read from the service, so nothing else of it (an ``account_password`` above all)
reaches a diff or a before-image; a secret field the update sets is recorded as ``"changed"``, never its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from aiodataops._changes import differences
from aiodataops._wire import unstructure
from aiodataops.fleet._report import Change

if TYPE_CHECKING:
    from aiodataops._models import Service, ServiceUpdate

__all__ = ["SECRET_MARK", "before_image", "diff", "is_secret", "leaves", "nest"]

#: What a before-image holds for a secret field instead of its value.
SECRET_MARK: Final = "changed"  # noqa: S105 -- the word written instead of a secret, not one
#: Field names whose values are never written down (compared by the last part of a dotted path).
_SECRETS: Final = frozenset({"account_password", "password", "secret", "secret_key", "token"})


def diff(current: Service, update: ServiceUpdate | Mapping[str, Any]) -> tuple[Change, ...]:
    """The changes ``update`` (a model or its wire data) would make to ``current``; empty when it is already in
    place."""
    return tuple(Change(field=d.field, current=d.current, desired=d.desired) for d in differences(current, update))


def leaves(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A wire update's fields as dotted paths to the values it sets (objects descend, lists are one value), as
    ``_changes`` compares them."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(leaves(value, path + "."))
        else:
            out[path] = value
    return out


def is_secret(path: str) -> bool:
    """Whether a dotted field path names a secret."""
    return path.rsplit(".", 1)[-1] in _SECRETS


def before_image(current: Service, update: ServiceUpdate | Mapping[str, Any]) -> dict[str, Any]:
    """The current wire values of exactly the fields ``update`` (a model or its wire data) sets (``None`` where the
    service has none), a secret's as ``"changed"``: what a rollback puts back."""
    wanted = update if isinstance(update, Mapping) else unstructure(update)
    # Only the top-level fields the update sets, each as unstructuring the whole service would write it: the rest
    # of the service (most of it) was unstructured only to be thrown away.
    have: dict[str, Any] = {}
    if attrs.has(type(current)):
        for key in wanted:
            # ``extra`` (unknown fields the server sent) is never unstructured, so never part of an image.
            field = getattr(current, key, None) if key != "extra" else None
            if field is not None:
                have[key] = unstructure(field)
    image: dict[str, Any] = {}
    for path in leaves(wanted):
        if is_secret(path):
            image[path] = SECRET_MARK
            continue
        value: Any = have
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        image[path] = value
    return image


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted paths back to nested objects: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out
