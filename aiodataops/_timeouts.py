"""How long one HTTP attempt may take, phase by phase; retries and polling have their own budgets elsewhere."""

from __future__ import annotations

from typing import Any

import aiohttp
import attrs

__all__ = ["Timeouts"]


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"Timeouts.{attribute.name}: must be a positive number of seconds or None, got {value!r}")


@attrs.frozen
class Timeouts:
    """Per-attempt timeouts in seconds; ``None`` disables one.

    - ``connect``: opening one TCP (and TLS) connection.
    - ``pool``: waiting for a free pooled connection plus connecting (aiohttp's ``ClientTimeout.connect``); the pool
      is sized from the client's concurrency, so this only bites when callers exceed it.
    - ``read``: the longest silence between two reads of an answer.
    - ``total``: one whole attempt, from sending to the last byte of the answer.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    pool: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    total: float | None = attrs.field(default=120.0, validator=_positive_or_none)

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """Return the equivalent ``aiohttp.ClientTimeout``."""
        return aiohttp.ClientTimeout(
            total=self.total, connect=self.pool, sock_connect=self.connect, sock_read=self.read
        )
