"""What every part of the emulator's application reaches: the runtime, the request keys and the error envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import attrs
from aiohttp import web

from aiodataops._clock import Clock
from aiodataops._signing import Credentials
from aiodataops.emulator import _errors
from aiodataops.emulator._config import EmulatorConfig
from aiodataops.emulator._counters import Counters
from aiodataops.emulator._faults import FaultInjector
from aiodataops.emulator._rate_limit import RateLimiter
from aiodataops.emulator._store import Store

__all__ = [
    "OPERATION",
    "REQUEST_ID",
    "RUNTIME",
    "DroppedError",
    "Handler",
    "Runtime",
    "actor_of",
    "envelope",
    "make_rate_limiter",
    "runtime_of",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class Runtime:
    """Everything a request handler reaches: data, counters, faults, keys, clock."""

    config: EmulatorConfig
    clock: Clock
    store: Store
    counters: Counters
    injector: FaultInjector
    credentials: dict[str, Credentials]
    requests_seen: int = 0
    #: Requests seen per operation and path, for the seeded bursts of the ``edge_417`` quirk.
    edge_seen: dict[str, int] = attrs.field(factory=dict)
    #: The per-key token buckets of ``EmulatorConfig.rate_limit`` (``None``: no limit).
    rate_limiter: RateLimiter | None = None


def make_rate_limiter(config: EmulatorConfig, clock: Clock) -> RateLimiter | None:
    """The rate limiter ``config`` asks for, or ``None``."""
    if config.rate_limit is None:
        return None
    return RateLimiter(config.rate_limit, config.rate_burst, clock)


RUNTIME: Final = web.AppKey("aiodataops.emulator.runtime", Runtime)
REQUEST_ID: Final = web.RequestKey("aiodataops.emulator.request_id", str)
OPERATION: Final = web.RequestKey("aiodataops.emulator.operation", str)


class DroppedError(Exception):
    """The connection was closed without an answer (on purpose, or by the client)."""


def runtime_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def actor_of(request: web.Request) -> str:
    return request.headers.get("Scp-Accesskey", "")


def envelope(
    request: web.Request,
    status: int,
    code: str,
    detail: str | list[str],
    headers: dict[str, str] | None = None,
    *,
    title: str | None = None,
) -> web.Response:
    """The live ``{"errors": [...]}`` answer, with the request's id, stringified with the ``detail_as_string`` quirk."""
    return _errors.errors_envelope(
        status,
        code,
        detail,
        headers,
        request_id=request.get(REQUEST_ID, ""),
        title=title,
        stringified="detail_as_string" in runtime_of(request).config.quirks,
    )
