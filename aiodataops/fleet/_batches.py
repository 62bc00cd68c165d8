"""Canary batches: ``[1, 10, "25%"]`` runs one service, then ten, then a quarter of the fleet at a time.

The last size repeats until the fleet is done. A percentage is of the whole fleet (rounded down, at least one),
so a plan holding one is counted before the run starts (see ``Fleet.apply``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from aiodataops.fleet._amount import Amount, parse_amount

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["Batches", "parse_batches"]


@attrs.frozen
class Batches:
    """Batch sizes, the last one repeating."""

    sizes: tuple[Amount, ...] = attrs.field()

    @sizes.validator
    def _check(self, _: object, sizes: tuple[Amount, ...]) -> None:
        if not sizes:
            raise ValueError("batches: at least one size is needed")
        for amount in sizes:
            if amount.value <= 0:
                raise ValueError(f"batches: a batch size must be above zero, got {amount}")

    @property
    def needs_total(self) -> bool:
        """True when a size is a percentage of the fleet."""
        return any(a.percent for a in self.sizes)

    def size(self, index: int, total: int | None) -> int:
        """The size of batch ``index`` (0-based) in a fleet of ``total``."""
        amount = self.sizes[min(index, len(self.sizes) - 1)]
        return amount.of(total, minimum=1)

    def __str__(self) -> str:
        return ",".join(str(a) for a in self.sizes)


def parse_batches(value: str | Iterable[int | str] | Batches | None) -> Batches | None:
    """Read ``"1,10,25%"`` or ``[1, 10, "25%"]``; ``None`` means no batches (one stream of work)."""
    if value is None or isinstance(value, Batches):
        return value
    parts: Sequence[int | str] = value.split(",") if isinstance(value, str) else list(value)
    return Batches(tuple(parse_amount(p, what="batches") for p in parts))
