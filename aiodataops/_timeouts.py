"""How long one HTTP attempt may take, phase by phase; retries and polling have their own budgets elsewhere."""

from __future__ import annotations

import math
from typing import Any, Self

import aiohttp
import attrs

from aiodataops._errors import ConfigurationError

__all__ = ["Timeouts", "as_timeouts"]


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

    ``DataOpsClient(timeout=5.0)`` is ``Timeouts.per_attempt(5.0)``: no phase and no attempt longer than 5 s.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    pool: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    total: float | None = attrs.field(default=120.0, validator=_positive_or_none)

    @classmethod
    def per_attempt(cls, seconds: float) -> Self:
        """Bound one whole attempt, and so each of its phases, by ``seconds`` (what ``timeout=5.0`` means).

        Every phase gets the same bound rather than only ``total``, so that running out of time while waiting for a
        connection is still told apart (nothing was sent: even a POST may be retried) from a slow answer.
        """
        return cls(connect=seconds, pool=seconds, read=seconds, total=seconds)

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """Return the equivalent ``aiohttp.ClientTimeout``."""
        return aiohttp.ClientTimeout(
            total=self.total, connect=self.pool, sock_connect=self.connect, sock_read=self.read
        )


def as_timeouts(timeout: Timeouts | float | None) -> Timeouts:
    """Turn the client's ``timeout=`` into ``Timeouts``: a number is seconds per attempt, ``None`` the defaults.

    Raises ``ConfigurationError`` for a number that is not a positive, finite count of seconds (``True`` included:
    a flag is not a duration).
    """
    if timeout is None:
        return Timeouts()
    if isinstance(timeout, Timeouts):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ConfigurationError(f"timeout: expected seconds (a number) or a Timeouts, got {type(timeout).__name__}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ConfigurationError(f"timeout: must be a positive, finite number of seconds, got {timeout!r}")
    return Timeouts.per_attempt(float(timeout))
