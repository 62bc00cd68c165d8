"""The middlewares around the routes, outermost first.

``_observe`` (counters, request log, request id, dropped connections), ``_authenticate`` (signature check, API
version), ``_limit`` (the rate limit per key, latency growing with load), ``_inject`` (latency and faults, before the
operation takes effect), ``_translate`` (store refusals and unknown routes into their error envelopes).
"""

from __future__ import annotations

import math
import time
from typing import Final

from aiohttp import web

from aiodataops.emulator import _errors
from aiodataops.emulator._auth import AuthError, check_request, unsupported_version
from aiodataops.emulator._config import EDGE_417_RUN, QUIRK_SHARES
from aiodataops.emulator._counters import DROPPED
from aiodataops.emulator._operations import UNKNOWN
from aiodataops.emulator._random import unit
from aiodataops.emulator._refusals import BadQueryError, BusyError, InvalidError, MissingError, UnknownIdError
from aiodataops.emulator._routes import operation_of
from aiodataops.emulator._runtime import (
    OPERATION,
    REQUEST_ID,
    DroppedError,
    Handler,
    Runtime,
    actor_of,
    envelope,
    runtime_of,
)

__all__ = ["MIDDLEWARES"]

# -- middlewares --------------------------------------------------------------------------------------------------


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    rt = runtime_of(request)
    counters = rt.counters
    operation = operation_of(request)
    rt.requests_seen += 1
    request_id = f"emu-{rt.config.seed:x}-{rt.requests_seen:08x}"
    request[REQUEST_ID] = request_id
    request[OPERATION] = operation
    if operation == "update_service":
        counters.puts_per_service[request.match_info["service_id"]] += 1
    counters.started()
    status = DROPPED
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
    except DroppedError:
        # The transport is already aborted; aiohttp writes this answer nowhere, quietly.
        return web.Response(status=499)
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:
        status = 500
        raise
    finally:
        counters.finished(request.method, request.raw_path, operation, status)
    return response


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    rt = runtime_of(request)
    try:
        check_request(request, rt.credentials, time.time_ns() // 1_000_000, int(rt.config.timestamp_tolerance * 1000))
    except AuthError as failure:
        quirks = rt.config.quirks
        bare = not any(h.lower().startswith("scp-") for h in request.headers)
        if "bad_credentials_404" in quirks or ("unauthenticated_404" in quirks and bare):
            # What SCP's gateway answers an unauthenticated request: Spring's 404, not the API's.
            return _errors.route_error(404, request.path, request[REQUEST_ID])
        status = 412 if "signature_412" in quirks and failure.code == "AUTH_INVALID_SIGNATURE" else 401
        return _errors.legacy(status, failure.code, failure.message, request.path, request[REQUEST_ID])
    operation = request[OPERATION]
    refused = unsupported_version(operation, request.headers.get("Scp-Api-Version"))
    if refused is not None:
        return envelope(
            request,
            406,
            "NoSuchVersion",
            [f"{operation} is not served at Scp-Api-Version {refused!r}"],
            title="NoSuchVersion",
        )
    return await handler(request)


def _retry_headers(retry_after: float | str | None) -> dict[str, str] | None:
    if retry_after is None:
        return None
    return {"Retry-After": retry_after if isinstance(retry_after, str) else f"{retry_after:g}"}


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise DroppedError


@web.middleware
async def _limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The rate limit per access key (429 with ``Retry-After``, after the added latency), then latency that grows
    with the load."""
    rt = runtime_of(request)
    operation = request[OPERATION]
    if operation == UNKNOWN:
        return await handler(request)
    limiter = rt.rate_limiter
    if limiter is not None:
        wait = limiter.take(actor_of(request))
        if wait is not None:
            rt.counters.faults[operation, "rate_limit"] += 1
            # Decimal seconds, rounded up to the millisecond: a client that waits this long finds a token.
            retry_after = f"{math.ceil(wait * 1000) / 1000:g}"
            # A gateway's refusal crosses the same network as an answer: the added latency is paid either way
            # (answered at once, a 429 would tell a client of the limit a round trip sooner than a real API does).
            # Latency that grows with load is not: the refusal never reaches the loaded server.
            delay = rt.injector.latency(operation, request.path)
            if delay > 0:
                await rt.clock.sleep(delay)
            return envelope(request, 429, "TOO_MANY_REQUESTS", ["rate limit exceeded"], {"Retry-After": retry_after})
    per_in_flight = rt.config.latency_per_in_flight
    if per_in_flight > 0 and rt.counters.in_flight > 1:
        await rt.clock.sleep(per_in_flight * (rt.counters.in_flight - 1))
    return await handler(request)


@web.middleware
async def _inject(request: web.Request, handler: Handler) -> web.StreamResponse:
    rt = runtime_of(request)
    operation = request[OPERATION]
    if operation == UNKNOWN:
        return await handler(request)
    if "edge_417" in rt.config.quirks and _edge_burst(rt, operation, request.path):
        rt.counters.faults[operation, "417"] += 1
        return _errors.edge_rejected(request[REQUEST_ID])
    injector = rt.injector
    delay, rule = injector.decide(operation, request.path)
    delay += injector.latency(operation, request.path)
    if delay > 0:
        await rt.clock.sleep(delay)
    if rule is None:
        return await handler(request)
    rt.counters.faults[operation, rule.kind] += 1
    kind = rule.kind
    headers = _retry_headers(rule.retry_after)
    if kind in ("drop_after_apply", "accept_no_body"):
        response = await handler(request)
        if response.status >= 400:  # noqa: PLR2004 -- refused: nothing applied, answer normally
            return response
        if kind == "accept_no_body":
            return web.Response(status=response.status)
        _drop(request)
    if kind == "drop":
        _drop(request)
    return _fault_response(kind, request, headers)


def _edge_burst(rt: Runtime, operation: str, path: str) -> bool:
    """Whether the edge blocks this request: seeded per path, in runs of ``EDGE_417_RUN`` requests."""
    key = f"{operation} {path}"
    seen = rt.edge_seen.get(key, 0)
    rt.edge_seen[key] = seen + 1
    return unit(rt.config.seed, "edge_417", key, seen // EDGE_417_RUN) < QUIRK_SHARES["edge_417"]


def _fault_response(kind: str, request: web.Request, headers: dict[str, str] | None) -> web.Response:
    if kind == "503_text":
        return _errors.envoy_503(headers)
    if kind == "500":
        return _errors.legacy(
            500, "INTERNAL_SERVER_ERROR", "internal server error", request.path, request[REQUEST_ID], headers=headers
        )
    status = int(kind)
    code = {429: "TOO_MANY_REQUESTS", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}[status]
    return envelope(request, status, code, [f"{code.replace('_', ' ').lower()} (injected fault)"], headers)


@web.middleware
async def _translate(request: web.Request, handler: Handler) -> web.StreamResponse:  # noqa: PLR0911 -- one per refusal
    try:
        return await handler(request)
    except InvalidError as exc:
        return envelope(request, 400, "ValidationError", _errors.validation_reasons(exc.problems))
    except UnknownIdError as exc:
        # The live answer for an unknown or malformed id on the id-bound GETs (its body was not recorded).
        return envelope(request, 400, "BadRequest", [str(exc)], title="Bad Request")
    except MissingError as exc:
        return _errors.not_found(exc.object_type, exc.object_id)
    except BusyError as exc:
        return envelope(request, 409, "CONFLICT", [str(exc)])
    except BadQueryError as exc:
        return envelope(request, 400, "BAD_REQUEST", [str(exc)])
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            return _errors.route_error(exc.status, request.path, request.get(REQUEST_ID, ""))
        raise


#: Outermost first.
MIDDLEWARES: Final = (_observe, _authenticate, _limit, _inject, _translate)
