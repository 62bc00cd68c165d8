"""A count or a percentage of the fleet (``10`` or ``"25%"``), as batch sizes and failure budgets are written."""

from __future__ import annotations

import math
import re
from typing import Any

import attrs

__all__ = ["Amount", "parse_amount"]

_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_COUNT_RE = re.compile(r"^\s*(\d+)\s*$")


@attrs.frozen
class Amount:
    """``value`` targets, or ``value`` percent of the fleet when ``percent`` is true."""

    value: float
    percent: bool = False

    def of(self, total: int | None, *, minimum: int = 0) -> int:
        """The count for a fleet of ``total``: a percentage rounds down, and is never below ``minimum``."""
        if not self.percent:
            return max(minimum, int(self.value))
        if total is None:
            raise ValueError("a percentage needs the fleet size")
        # The small epsilon keeps 10% of 30 at 3 despite binary floating point.
        return max(minimum, math.floor(total * self.value / 100 + 1e-9))

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else str(int(self.value))


def parse_amount(value: Any, *, what: str) -> Amount:
    """Read ``3``, ``"3"`` or ``"25%"``; raises ``ValueError`` naming ``what`` otherwise."""
    if type(value) is int and value >= 0:
        return Amount(value)
    if isinstance(value, str):
        if match := _COUNT_RE.match(value):
            return Amount(int(match.group(1)))
        if match := _PERCENT_RE.match(value):
            pct = float(match.group(1))
            if pct <= 100:  # noqa: PLR2004 -- a percentage
                return Amount(pct, percent=True)
    raise ValueError(f"{what}: expected a whole number >= 0 or a percentage like '25%', got {value!r}")
