"""Counted nouns in messages: ``1 poll``, ``2 polls``. The one helper for them, the CLI's included (``cli._common``
re-exports it; it cannot be imported from there by the core without an import cycle)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun that fits it: ``1 target``, ``0 targets``, ``1,200 targets`` (``many`` when the
    plural is not the noun plus ``s``)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
