"""Fleet plans: parsing and whole validation (before any request), and lazy resolution of selectors.

A plan (YAML or JSON)::

    update:                       # a DataOpsServiceUpdateRequest applied to every target
      service_workload:
        worker: {cpu: "2", memory: "4", replica: "3"}
    targets:
      - DOPS_SERVICE-8a3c...                        # a service id
      - data_ops_service_id: DOPS_SERVICE-1f0e...   # an id with its own update, merged over the top-level one
        update: {description: "pinned"}
      - select: {data_ops_name: "prod-*"}           # every service whose data ops name matches the glob
        update: {...}                               # optional here too

Rules:

- Every problem is collected and reported at once, each naming its place (``targets[3].update.service_workload.
  worker.cpu: expected a string, got int 2``); a plan with a problem sends nothing.
- A target's ``update`` is merged over the top-level one key by key (objects merge, anything else replaces); the
  merged update must set at least one field. Workload values are strings: YAML's ``cpu: 2`` is an error, not a
  silent conversion.
- ``select`` maps any field of the service list item to a shell-style glob (or a list of globs, any of which may
  match). Globs are case-sensitive, except on ``state``, which the API spells in varying case. Datetime fields
  match their wire form (``2025-01-31T09:00:00.000Z``). An empty ``select`` is an error: write
  ``{data_ops_service_id: "*"}`` to mean every service.
- A service id is checked by the rule the CLI uses (``aiodataops._ids``): not empty, ``.`` or ``..``, and no
  ``/``, whitespace or control characters.
- The same id listed twice, or the same selector twice, is an error. A service matched by a selector and also
  listed by id is updated once, with the listed entry's update; a service matched by two selectors takes the
  first one's.
- Resolution: the listed ids come first (in file order), then one lazy pass over the service list, in the order
  the server gives, matched on the client side (the server's filters are a guess, so none are sent).
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import os
import pathlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs
import cattrs
import orjson
import yaml

from aiodataops._errors import DataOpsError
from aiodataops._ids import ID_RULE, has_space, id_problem
from aiodataops._models import ServiceSummary, ServiceUpdate
from aiodataops._wire import WireValueError, converter, describe, format_datetime, format_path, iter_problems

__all__ = [
    "SELECTABLE_FIELDS",
    "Plan",
    "PlanError",
    "ResolvedTarget",
    "Resolver",
    "Selector",
    "Target",
    "load_plan",
    "parse_plan",
]

SELECTABLE_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(ServiceSummary) if a.name != "extra")
_UPDATE_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(ServiceUpdate))
_TOP_KEYS = ("targets", "update")
_ID_KEYS = ("data_ops_service_id", "update")
_SELECT_KEYS = ("select", "update")
_GLOB_CHARS = frozenset("*?[")
_MAX_SHOWN = 20

# The deepest a valid plan goes is about six levels (targets[i].update.host_alias.host_alias_list[j].hostnames[k]);
# validation recurses per level (repr, cattrs), so anything far deeper is refused before it is looked at.
_MAX_DEPTH = 64
_TOO_DEEP = "nested too deeply to be a plan"


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


class Resolver:
    """Turns a plan into ``ResolvedTarget`` s lazily: listed ids first, then one pass over the service list.

    ``matched`` counts the services each selector took (by place); ``warnings`` names selectors that took none.
    """

    def __init__(self, plan: Plan, list_services: Callable[[], AsyncIterator[ServiceSummary]]) -> None:
        self.plan = plan
        self._list_services = list_services
        self.matched: dict[str, int] = {t.place: 0 for t in plan.targets if t.select is not None}

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per selector that matched no service."""
        selectors = {t.place: t.select for t in self.plan.targets if t.select is not None}
        return tuple(
            f"{place} (select {selectors[place]}) matched no service" for place, n in self.matched.items() if n == 0
        )

    async def __aiter__(self) -> AsyncIterator[ResolvedTarget]:
        explicit = self.plan.explicit_ids
        for target in self.plan.targets:
            if target.service_id is not None:
                yield ResolvedTarget(target.service_id, target.update, target.place)
        selectors = [t for t in self.plan.targets if t.select is not None]
        if not selectors:
            return
        seen: set[str] = set()
        listing = self._list_services()
        try:
            async for summary in listing:
                sid = summary.data_ops_service_id
                # A page that shifts while the fleet changes can repeat an item: each service is taken once.
                if sid in explicit or sid in seen:
                    continue
                for target in selectors:
                    assert target.select is not None
                    if target.select.matches(summary):
                        seen.add(sid)
                        self.matched[target.place] += 1
                        yield ResolvedTarget(sid, target.update, target.place)
                        break
        finally:
            aclose = getattr(listing, "aclose", None)
            if aclose is not None:
                await aclose()


# -- loading ------------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error (it silently wins otherwise)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan file (``.json`` as JSON, anything else as YAML, which also reads JSON)."""
    name = os.fspath(path)
    try:
        raw = pathlib.Path(name).read_bytes()
    except OSError as exc:
        raise PlanError([("", f"cannot read the plan: {exc.strerror or exc}")], source=name) from None
    return parse_plan(raw, path=name)


def _parse_text(text: bytes | str, source: str) -> Any:
    try:
        return _load_text(text, source)
    except RecursionError:
        # PyYAML composes and constructs one Python frame per nesting level, so a few hundred levels exhaust the
        # stack; no plan is nested more than a handful deep, so this is a bad file, not a crash.
        raise PlanError([("", _TOO_DEEP)], source=source) from None


def _load_text(text: bytes | str, source: str) -> Any:
    if source.endswith(".json"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PlanError([("", f"not valid JSON: {exc}")], source=source) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 -- _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "not valid YAML"
        if exc.context and exc.problem:
            problem = f"{problem} ({exc.context})"
        raise PlanError([(where, f"not valid YAML: {problem}")], source=source) from None
    except yaml.YAMLError as exc:
        raise PlanError([("", f"not valid YAML: {exc}")], source=source) from None
    except UnicodeDecodeError:
        raise PlanError([("", "not valid UTF-8 text")], source=source) from None


# -- validation ---------------------------------------------------------------------------------------------


def parse_plan(data: Any, *, path: str | None = None) -> Plan:
    """Validate a plan given as text (YAML/JSON) or as loaded data; raises ``PlanError`` listing every problem."""
    source = path
    if isinstance(data, bytes | str):
        data = _parse_text(data, path or "<plan>")
    if _deeper_than(data, _MAX_DEPTH):
        raise PlanError([("", _TOO_DEEP)], source=source)
    checker = _Checker()
    plan = checker.plan(data)
    if checker.problems:
        raise PlanError(checker.problems, source=source)
    assert plan is not None
    digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return attrs.evolve(plan, data=data, path=path, sha256=digest)


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether lists and mappings nest more than ``limit`` levels (iterative: the data may be deeper than the stack)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    # YAML aliases share one object between many places: walk it again only when met deeper than before.
    deepest: dict[int, int] = {}
    while stack:
        value, depth = stack.pop()
        if deepest.get(id(value), -1) >= depth:
            continue
        deepest[id(value)] = depth
        if isinstance(value, Mapping):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


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


class _Checker:
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
