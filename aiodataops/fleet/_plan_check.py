"""A plan's validation: every problem collected at once (``PlanCheck``), each naming its place in the plan."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import cattrs

from aiodataops._ids import ID_RULE, has_space, id_problem
from aiodataops._models import ServiceUpdate
from aiodataops._wire import WireValueError, converter, describe, format_path, iter_problems
from aiodataops.fleet._plan_types import SELECTABLE_FIELDS, Plan, Selector, Target

__all__ = ["PlanCheck"]

_UPDATE_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(ServiceUpdate))
_TOP_KEYS = ("targets", "update")
_ID_KEYS = ("data_ops_service_id", "update")
_SELECT_KEYS = ("select", "update")
_GLOB_CHARS = frozenset("*?[")


def _unknown_key(key: Any, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    hint = ""
    if isinstance(key, str) and (close := difflib.get_close_matches(key, allowed, n=1)):
        hint = f" (did you mean {close[0]!r}?)"
    return f"unknown key{hint}; expected one of: {', '.join(allowed)}"


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _empty_mappings(raw: Mapping[Any, Any], place: str) -> Iterator[str]:
    """The places of the empty mappings nested in ``raw``, in key order (an update's own emptiness is apart)."""
    for key, value in sorted(raw.items(), key=lambda item: str(item[0])):
        if isinstance(value, Mapping):
            where = f"{place}.{key}"
            if not value:
                yield where
            else:
                yield from _empty_mappings(value, where)


def _problems(exc: BaseException, path: str) -> Iterator[tuple[str, str]]:
    """Each leaf of cattrs' nested validation errors (walked by the wire module) as ``(place, problem)``."""
    for steps, leaf in iter_problems(exc):
        place = format_path(steps, root=path)
        if isinstance(leaf, cattrs.ForbiddenExtraKeysError):
            # ``extra`` holds unknown fields of a response; a plan can never write it, so it is no hint.
            allowed = [a.name for a in attrs.fields(leaf.cl) if a.name != "extra"]
            for key in sorted(leaf.extra_fields, key=str):  # keys from YAML may be ints too
                yield f"{place}.{key}", _unknown_key(key, allowed)
        elif isinstance(leaf, KeyError):
            yield place, "required, missing"
        else:
            message = str(leaf)
            if isinstance(leaf, WireValueError) and leaf.expected == "string" and leaf.got in (int, float):
                message += ' (write it quoted in YAML, e.g. "2")'
            yield place, message


@attrs.frozen
class _Top:
    """The top-level update as written, as validated, and whether it was valid."""

    raw: Any
    update: ServiceUpdate | None
    ok: bool


class PlanCheck:
    """Collects every problem of a plan instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self._ids: dict[str, str] = {}
        self._selectors: dict[Selector, str] = {}

    def add(self, place: str, problem: str) -> None:
        self.problems.append((place, problem))

    def plan(self, data: Any) -> Plan | None:
        if data is None:
            self.add("", "the plan is empty")
            return None
        if not isinstance(data, Mapping):
            self.add("", f"expected a mapping with 'update' and 'targets', got {describe(data)}")
            return None
        for key in data:
            if key not in _TOP_KEYS:
                self.add(str(key), _unknown_key(key, _TOP_KEYS))
        top_raw = data.get("update")
        top_update: ServiceUpdate | None = None
        if top_raw is not None:
            top_update = self.update(top_raw, "update")
        if "targets" not in data:
            self.add("targets", "required, missing")
            return None
        raw_targets = data["targets"]
        if not isinstance(raw_targets, list):
            self.add("targets", f"expected a list, got {describe(raw_targets)}")
            return None
        if not raw_targets:
            self.add("targets", "empty: a plan needs at least one target")
        top = _Top(top_raw, top_update, ok=top_raw is None or top_update is not None)
        targets = [self.target(entry, f"targets[{i}]", top) for i, entry in enumerate(raw_targets)]
        if self.problems:
            return None
        return Plan(targets=tuple(t for t in targets if t is not None), update=top_update)

    def update(self, raw: Any, place: str) -> ServiceUpdate | None:
        if not isinstance(raw, Mapping):
            self.add(place, f"expected a mapping of fields to change, got {describe(raw)}")
            return None
        try:
            update = converter.structure(raw, ServiceUpdate)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            for where, problem in _problems(exc, place):
                self.add(where, problem)
            return None
        if update == ServiceUpdate():
            self.add(place, f"sets no field; expected at least one of: {', '.join(_UPDATE_FIELDS)}")
            return None
        empty = list(_empty_mappings(raw, place))
        for where in empty:
            # {service_workload: {worker: {}}} would be sent as it is and change nothing: a slip, not an intent.
            self.add(where, "sets no field: give at least one, or leave the key out")
        return None if empty else update

    def target(self, entry: Any, place: str, top: _Top) -> Target | None:
        found = self.target_key(entry, place)
        if found is None:
            return None
        service_id, selector, own_raw = found
        self.duplicate(place, service_id, selector)
        if own_raw is None:
            if top.raw is None:
                self.add(place, "no update: set 'update' at the top of the plan or on this target")
            update = top.update
        elif not isinstance(own_raw, Mapping):
            self.add(f"{place}.update", f"expected a mapping of fields to change, got {describe(own_raw)}")
            return None
        elif not top.ok:
            return None  # the top-level update's own problems are already reported
        else:
            merged = _merge(top.raw, own_raw) if isinstance(top.raw, Mapping) else own_raw
            update = self.update(merged, f"{place}.update")
        if update is None:
            return None
        return Target(place=place, update=update, service_id=service_id, select=selector)

    def target_key(self, entry: Any, place: str) -> tuple[str | None, Selector | None, Any] | None:
        """The id or the selector of a target entry, and its own update as written."""
        if isinstance(entry, str):
            service_id = self.service_id(entry, place)
            return None if service_id is None else (service_id, None, None)
        if not isinstance(entry, Mapping):
            self.add(place, f"expected a service id or a mapping, got {describe(entry)}")
            return None
        if "select" in entry and "data_ops_service_id" in entry:
            self.add(place, "has both 'select' and 'data_ops_service_id'; use one")
            return None
        allowed = _SELECT_KEYS if "select" in entry else _ID_KEYS
        for key in entry:
            if key not in allowed:
                self.add(f"{place}.{key}", _unknown_key(key, allowed))
        if "select" in entry:
            selector = self.selector(entry["select"], f"{place}.select")
            return None if selector is None else (None, selector, entry.get("update"))
        if "data_ops_service_id" in entry:
            service_id = self.service_id(entry["data_ops_service_id"], f"{place}.data_ops_service_id")
            return None if service_id is None else (service_id, None, entry.get("update"))
        self.add(place, "expected 'data_ops_service_id' or 'select'")
        return None

    def service_id(self, value: Any, place: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add(place, f"expected a service id (DOPS_SERVICE-...), got {describe(value)}")
            return None
        # The regex of ``_ids``, not a generator over the characters: a plan of thousands of ids is checked here.
        if has_space(value):
            self.add(place, f"a service id has no spaces, got {value!r}")
            return None
        if (problem := id_problem(value)) is not None:
            self.add(place, f"not a usable service id: {problem} ({ID_RULE})")
            return None
        if _GLOB_CHARS & set(value):
            self.add(place, f"{value!r} looks like a glob; use select: {{data_ops_service_id: {value!r}}}")
            return None
        return value

    def selector(self, raw: Any, place: str) -> Selector | None:
        if not isinstance(raw, Mapping):
            self.add(place, f"expected a mapping of list-item fields to globs, got {describe(raw)}")
            return None
        if not raw:
            self.add(place, "empty: it would match every service; write {data_ops_service_id: '*'} to mean that")
            return None
        globs: list[tuple[str, tuple[str, ...]]] = []
        ok = True
        for key, value in raw.items():
            if key not in SELECTABLE_FIELDS:
                self.add(f"{place}.{key}", _unknown_key(key, SELECTABLE_FIELDS))
                ok = False
                continue
            patterns = value if isinstance(value, list) else [value]
            if not patterns or not all(isinstance(p, str) and p for p in patterns):
                self.add(f"{place}.{key}", f"expected a glob string or a list of them, got {describe(value)}")
                ok = False
                continue
            globs.append((key, tuple(patterns)))
        return Selector(tuple(sorted(globs))) if ok else None

    def duplicate(self, place: str, service_id: str | None, selector: Selector | None) -> None:
        if service_id is not None:
            if (first := self._ids.setdefault(service_id, place)) != place:
                self.add(place, f"duplicate target {service_id} (also {first})")
        elif selector is not None and (first := self._selectors.setdefault(selector, place)) != place:
            self.add(place, f"duplicate selector (same as {first})")
