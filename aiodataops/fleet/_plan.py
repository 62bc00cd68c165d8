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

This module resolves plans and is the entry point; a plan's parts are ``_plan_types``, reading its text
``_plan_text``, and checking it ``_plan_check``.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from aiodataops.fleet._plan_check import PlanCheck
from aiodataops.fleet._plan_text import TOO_DEEP, load_text
from aiodataops.fleet._plan_types import SELECTABLE_FIELDS, Plan, PlanError, ResolvedTarget, Selector, Target

if TYPE_CHECKING:
    from aiodataops._models import ServiceSummary

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

# The deepest a valid plan goes is about six levels (targets[i].update.host_alias.host_alias_list[j].hostnames[k]);
# validation recurses per level (repr, cattrs), so anything far deeper is refused before it is looked at.
_MAX_DEPTH = 64


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


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan file (``.json`` as JSON, anything else as YAML, which also reads JSON)."""
    name = os.fspath(path)
    try:
        raw = pathlib.Path(name).read_bytes()
    except OSError as exc:
        raise PlanError([("", f"cannot read the plan: {exc.strerror or exc}")], source=name) from None
    return parse_plan(raw, path=name)


def parse_plan(data: Any, *, path: str | None = None) -> Plan:
    """Validate a plan given as text (YAML/JSON) or as loaded data; raises ``PlanError`` listing every problem."""
    source = path
    if isinstance(data, bytes | str):
        data = load_text(data, path or "<plan>")
    if _deeper_than(data, _MAX_DEPTH):
        raise PlanError([("", TOO_DEEP)], source=source)
    checker = PlanCheck()
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
