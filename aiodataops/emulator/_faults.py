"""Seeded fault injection and added latency, decided per request before the operation takes effect.

A rule's decision for a request depends only on the seed, the rule, the operation, the resource path and how many
requests that rule has seen for that path (see ``_random``): the third PUT to one service meets the same fate on
every run with the same seed, however the requests of a fleet interleave.

Kinds:

- ``"429"``: Too Many Requests, with ``Retry-After`` when ``retry_after`` is set.
- ``"500"``, ``"502"``, ``"503"``, ``"504"``: a JSON ``{"errors": [...]}`` answer (``retry_after`` adds the header).
- ``"503_text"``: 503 with Envoy's plain-text body ``upstream connect error or disconnect/reset before headers``.
- ``"drop"``: the connection is closed without an answer; nothing was applied.
- ``"drop_after_apply"``: the operation IS applied, then the connection is closed without an answer: the client
  cannot know whether its change happened (tests of "no double update" use it).
- ``"accept_no_body"``: the operation IS applied and answered with its success status (202 for a change) and an
  empty body, which the documented API allows for creates and deletes and a proxy may do to any answer: the client
  then knows that its change was accepted, but not the state it was accepted in.
- ``"slow"``: ``delay`` seconds are added, then the request proceeds (combines with one other fault).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from aiodataops.emulator._operations import OPERATIONS
from aiodataops.emulator._random import between, lognormal, unit

__all__ = ["FAULT_KINDS", "FaultInjector", "FaultRule", "Latency", "LatencySpec"]

FAULT_KINDS: Final = frozenset(
    {"429", "500", "502", "503", "503_text", "504", "accept_no_body", "drop", "drop_after_apply", "slow"}
)


def _check_operation(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value != "*" and value not in OPERATIONS:
        raise ValueError(
            f"FaultRule.{attribute.name}: unknown operation {value!r}; expected '*' or one of {', '.join(OPERATIONS)}"
        )


def _check_kind(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(
            f"FaultRule.{attribute.name}: unknown kind {value!r}; expected one of {', '.join(sorted(FAULT_KINDS))}"
        )


def _check_share(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name}: must be between 0 and 1, got {value!r}")


def _check_non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name}: must not be negative, got {value!r}")


@attrs.frozen
class FaultRule:
    """Inject ``kind`` into a share ``rate`` of the requests of ``operation`` (``"*"``: every operation)."""

    operation: str = attrs.field(validator=_check_operation)
    kind: str = attrs.field(validator=_check_kind)
    rate: float = attrs.field(default=1.0, validator=_check_share)
    #: Seconds (or an HTTP date) sent as ``Retry-After`` with a 429 or 5xx; ``None`` sends no header.
    retry_after: float | str | None = None
    #: Seconds added by a ``"slow"`` rule.
    delay: float = attrs.field(default=1.0, validator=_check_non_negative)
    #: At most this many injections by this rule in the emulator's life (``None``: no limit).
    limit: int | None = attrs.field(default=None, validator=_check_non_negative)
    #: Only requests whose path contains this text (e.g. one service id); ``None``: every request.
    target: str | None = None

    @property
    def terminal(self) -> bool:
        """Whether this fault replaces the answer (everything except ``"slow"``)."""
        return self.kind != "slow"


@attrs.frozen
class Latency:
    """A distribution of added latency in seconds: ``Latency.uniform(lo, hi)`` or ``Latency.lognormal(median)``."""

    distribution: Literal["uniform", "lognormal"]
    low: float = attrs.field(default=0.0, validator=_check_non_negative)
    high: float = attrs.field(default=0.0, validator=_check_non_negative)
    median: float = attrs.field(default=0.0, validator=_check_non_negative)
    sigma: float = attrs.field(default=0.5, validator=_check_non_negative)
    #: Upper bound of a log-normal draw (its tail is long).
    cap: float = attrs.field(default=5.0, validator=_check_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.distribution not in ("uniform", "lognormal"):
            raise ValueError(f"Latency.distribution: expected 'uniform' or 'lognormal', got {self.distribution!r}")
        if self.low > self.high:
            raise ValueError(f"Latency: low {self.low} is above high {self.high}")

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        """Uniformly between ``low`` and ``high`` seconds."""
        return cls("uniform", low=low, high=high)

    @classmethod
    def lognormal(cls, median: float, sigma: float = 0.5, cap: float = 5.0) -> Latency:
        """Log-normal with this median (seconds) and shape, cut at ``cap``."""
        return cls("lognormal", median=median, sigma=sigma, cap=cap)

    def sample(self, u: float) -> float:
        """Return the latency for the uniform draw ``u`` in ``[0, 1)``."""
        if self.distribution == "uniform":
            return between(self.low, self.high, u)
        return min(self.cap, lognormal(self.median, self.sigma, u))


#: ``EmulatorConfig.latency``: one distribution for every operation, or one per operation name (``"*"``: default).
LatencySpec = Latency | Mapping[str, Latency] | None


class FaultInjector:
    """Decides, per request, the added delay and the fault (if any) to answer with."""

    def __init__(self, seed: int, rules: tuple[FaultRule, ...], latency: LatencySpec) -> None:
        self._seed = seed
        self._latency = latency
        self._seen: Counter[tuple[int, str]] = Counter()
        self._latency_seen: Counter[str] = Counter()
        self._injected: Counter[int] = Counter()
        self.rules = rules

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The rules in force, first match wins (``"slow"`` ones add up and do not stop the search)."""
        return self._rules

    @rules.setter
    def rules(self, rules: tuple[FaultRule, ...]) -> None:
        for rule in rules:
            if not isinstance(rule, FaultRule):
                raise TypeError(f"faults: expected FaultRule items, got {type(rule).__name__}")
        self._rules = tuple(rules)
        # New rules start their own streams; indexes of the old ones must not carry over.
        self._seen.clear()
        self._injected.clear()

    def set_latency(self, latency: LatencySpec) -> None:
        """Use another latency distribution from the next request on."""
        self._latency = latency

    def latency(self, operation: str, path: str) -> float:
        """Return the added latency for this request (0.0 when none is configured)."""
        spec = self._latency
        if spec is None:
            return 0.0
        if not isinstance(spec, Latency):
            found = spec.get(operation) or spec.get("*")
            if found is None:
                return 0.0
            spec = found
        key = f"{operation} {path}"
        self._latency_seen[key] += 1
        return spec.sample(unit(self._seed, "latency", key, self._latency_seen[key]))

    def decide(self, operation: str, path: str) -> tuple[float, FaultRule | None]:
        """Return ``(extra delay, fault)`` for this request; the fault is ``None`` when it proceeds normally."""
        delay = 0.0
        if not self._rules:
            return delay, None
        key = f"{operation} {path}"
        for index, rule in enumerate(self._rules):
            if rule.operation not in ("*", operation):
                continue
            if rule.target is not None and rule.target not in path:
                continue
            if rule.limit is not None and self._injected[index] >= rule.limit:
                continue
            self._seen[index, key] += 1
            if rule.rate < 1.0 and unit(self._seed, "fault", index, key, self._seen[index, key]) >= rule.rate:
                continue
            self._injected[index] += 1
            if not rule.terminal:
                delay += rule.delay
                continue
            return delay, rule
        return delay, None
