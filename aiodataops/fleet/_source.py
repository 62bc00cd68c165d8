"""Where a run's targets come from, one at a time: a plan, or pairs from a list, an iterable or an async iterable.

A ``Source`` hands out ``ResolvedTarget`` s lazily, so a plan's selectors page through the service list only as
fast as the workers take services. ``count()`` reads everything ahead when a percentage (of batches or of the
failure budget) needs the fleet size; only then does memory hold the whole list of targets.

A list or tuple of pairs is checked whole before the run (a bad pair or a repeated id is an error and nothing is
sent); a lazy iterable is checked as it goes: a bad pair is an error, a repeated id is skipped with a warning.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any

from aiodataops._models import ServiceSummary, ServiceUpdate
from aiodataops.fleet._plan import Plan, PlanError, ResolvedTarget, Resolver, Target

__all__ = ["Source", "TargetsInput"]

_END = object()

TargetsInput = (
    Plan
    | Iterable[tuple[str, ServiceUpdate] | ResolvedTarget | Target]
    | AsyncIterable[tuple[str, ServiceUpdate] | ResolvedTarget | Target]
)
"""What ``Fleet.apply`` takes: a plan, or ``(service_id, update)`` pairs in any (async) iterable."""


def _pair(value: Any, place: str) -> ResolvedTarget:
    if isinstance(value, ResolvedTarget):
        return value
    if isinstance(value, Target):
        if value.service_id is None:
            raise TypeError(f"{place}: a selector Target needs a Plan to resolve it; pass the plan")
        return ResolvedTarget(value.service_id, value.update, value.place)
    if isinstance(value, tuple) and len(value) == 2:  # noqa: PLR2004 -- a pair
        sid, update = value
        if isinstance(sid, str) and sid and isinstance(update, ServiceUpdate):
            return ResolvedTarget(sid, update, place)
    raise TypeError(f"{place}: expected a (service_id: str, update: ServiceUpdate) pair, got {type(value).__name__}")


class Source:
    """Targets one at a time (``next()``; ``None`` at the end), with ``total`` once it is known."""

    def __init__(self, targets: TargetsInput, list_services: Callable[[], AsyncIterator[ServiceSummary]]) -> None:
        self.total: int | None = None
        self._resolver: Resolver | None = None
        self._ahead: deque[ResolvedTarget] | None = None
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        self._seen: set[str] = set()
        self._met = 0
        self._skipped_repeats: list[str] = []
        if isinstance(targets, Plan):
            self._resolver = Resolver(targets, list_services)
            self._async = aiter(self._resolver)
            if not targets.has_selectors:
                self.total = len(targets.targets)
        elif isinstance(targets, Sequence):
            pairs = [_pair(value, f"targets[{i}]") for i, value in enumerate(targets)]
            first: dict[str, int] = {}
            problems = [
                (f"targets[{i}]", f"duplicate target {p.service_id} (also targets[{first[p.service_id]}])")
                for i, p in enumerate(pairs)
                if first.setdefault(p.service_id, i) != i
            ]
            if problems:
                raise PlanError(problems)
            self._ahead = deque(pairs)
            self.total = len(pairs)
        elif isinstance(targets, AsyncIterable):
            self._async = aiter(targets)
        elif isinstance(targets, Iterable):
            self._sync = iter(targets)
        else:
            raise TypeError(f"targets: expected a Plan or an iterable of pairs, got {type(targets).__name__}")

    @property
    def warnings(self) -> tuple[str, ...]:
        """Selectors that matched nothing, and repeated ids that were skipped."""
        found = self._resolver.warnings if self._resolver is not None else ()
        return found + tuple(f"{sid} appeared more than once; updated once" for sid in self._skipped_repeats)

    async def count(self) -> int:
        """Read every remaining target ahead (resolving selectors) and return the fleet size."""
        if self.total is not None:
            return self.total
        ahead: deque[ResolvedTarget] = deque()
        while (target := await self._pull()) is not None:
            ahead.append(target)
        self._ahead = ahead
        self._sync = self._async = None
        self.total = self._met
        return self.total

    async def next(self) -> ResolvedTarget | None:
        """The next target, or ``None`` when there are no more."""
        if self._ahead is not None:
            return self._ahead.popleft() if self._ahead else None
        target = await self._pull()
        if target is None and self.total is None:
            self.total = self._met
        return target

    async def _pull(self) -> ResolvedTarget | None:
        while True:
            if self._sync is not None:
                value = next(self._sync, _END)
                if value is _END:
                    return None
            elif self._async is not None:
                try:
                    value = await anext(self._async)
                except StopAsyncIteration:
                    return None
            else:
                return None
            target = _pair(value, f"targets[{self._met + len(self._skipped_repeats)}]")
            # A plan's resolver already takes each service once; other lazy sources are checked here.
            if self._resolver is None:
                if target.service_id in self._seen:
                    self._skipped_repeats.append(target.service_id)
                    continue
                self._seen.add(target.service_id)
            self._met += 1
            return target

    async def aclose(self) -> None:
        """Stop a lazy source early (closes the service list it pages through)."""
        if self._async is not None and (aclose := getattr(self._async, "aclose", None)) is not None:
            await aclose()
        self._async = self._sync = None
