"""``Options``: a fleet run's settings, validated where they are parsed (``Fleet.apply``), recorded by the journal."""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs

from aiodataops.fleet._amount import Amount
from aiodataops.fleet._batches import Batches

__all__ = ["OPTION_NAMES", "Options"]


@attrs.frozen
class Options:
    """A run's settings, validated; ``to_dict`` is what a journal header records."""

    #: Services in flight at most, or ``"auto"``: follow the client's adaptive limit (``aiodataops._limiter``).
    concurrency: int | Literal["auto"] = "auto"
    rate: float | None = None
    batches: Batches | None = None
    bake: float = 0.0
    max_failures: Amount | None = None
    timeout: float | None = None
    dry_run: bool = False
    put_retries: int = 3
    force: bool = False
    """Send every update even when a read shows it already in place (no ``unchanged`` outcome)."""
    #: The cap of ``concurrency="auto"``.
    max_concurrency: int = 256
    #: Schedule polls from the run's first settle times (``_learned_polling``); ``False``: the poll policy alone.
    learned_polling: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON data (batches and budget in their written form, e.g. ``"1,10,25%"``)."""
        return {
            "concurrency": self.concurrency,
            "rate": self.rate,
            "batches": str(self.batches) if self.batches else None,
            "bake": self.bake,
            "max_failures": str(self.max_failures) if self.max_failures is not None else None,
            "timeout": self.timeout,
            "put_retries": self.put_retries,
            "force": self.force,
            "max_concurrency": self.max_concurrency,
            "learned_polling": self.learned_polling,
        }


#: The options a journal records and ``resume``/``rollback`` (and the CLI's flags) may override: every field but
#: ``dry_run``, which is the call's, not the run's. Derived, so that a new option reaches all of them at once.
OPTION_NAMES: Final = tuple(field.name for field in attrs.fields(Options) if field.name != "dry_run")
