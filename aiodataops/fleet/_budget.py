"""The failure budget: how many targets may fail (or time out) before no new service starts.

``max_failures=0`` stops starting new services after the first failure (as SSM's ``MaxErrors: 0``); ``"10%"`` is
a percentage of the fleet, rounded down; ``None`` never stops. In-flight services always settle.
"""

from __future__ import annotations

import attrs

from aiodataops.fleet._amount import Amount, parse_amount

__all__ = ["FailureBudget", "parse_max_failures"]


@attrs.define
class FailureBudget:
    """Counts failures against a limit; ``exceeded`` once failures pass the limit."""

    limit: int | None
    failures: int = 0

    @property
    def exceeded(self) -> bool:
        """True once more targets failed than the limit allows."""
        return self.limit is not None and self.failures > self.limit

    def record_failure(self) -> bool:
        """Count one failure; returns True when this very failure exceeded the budget."""
        before = self.exceeded
        self.failures += 1
        return self.exceeded and not before


def parse_max_failures(value: int | str | Amount | None) -> Amount | None:
    """Read ``3``, ``"3"`` or ``"10%"``; ``None`` means no limit."""
    if value is None or isinstance(value, Amount):
        return value
    return parse_amount(value, what="max_failures")
