"""The aiohttp application: routes for the 17 operations, and the middlewares around them.

Middlewares, outermost first: ``_observe`` (counters, request log, request id, dropped connections), ``_authenticate``
(signature check, API version), ``_limit`` (the rate limit per key, latency growing with load), ``_inject``
(latency and faults, before the operation takes effect), ``_translate`` (store refusals and unknown routes into
their error envelopes).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import cattrs
import orjson
from aiohttp import web

from aiodataops._clock import Clock
from aiodataops._models import (
    DataOpsCreate,
    DataOpsUpdate,
    ResourceCheckRequest,
    ServiceCreate,
    ServiceUpdate,
)
from aiodataops._signing import Credentials
from aiodataops._wire import converter, iter_problems
from aiodataops.emulator import _errors
from aiodataops.emulator._auth import AuthError, check_request, unsupported_version
from aiodataops.emulator._config import EDGE_417_RUN, QUIRK_SHARES, EmulatorConfig
from aiodataops.emulator._counters import DROPPED, Counters
from aiodataops.emulator._data_ops_table import DATA_OPS_FILTERS, DATA_OPS_SUMMARY_KEYS
from aiodataops.emulator._faults import FaultInjector
from aiodataops.emulator._operations import UNKNOWN
from aiodataops.emulator._random import unit
from aiodataops.emulator._rate_limit import RateLimiter
from aiodataops.emulator._refusals import BadQueryError, BusyError, InvalidError, MissingError, UnknownIdError
from aiodataops.emulator._service_table import SERVICE_FILTERS, SERVICE_SUMMARY_KEYS
from aiodataops.emulator._store import Store

if TYPE_CHECKING:
    from aiodataops.emulator._validate import Problem

__all__ = ["RUNTIME", "Runtime", "build_app", "make_rate_limiter"]

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_PAGE_SIZE: Final = 1000
DEFAULT_PAGE_SIZE: Final = 20
_DIGITS: Final = re.compile(r"^[0-9]+$")


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
_REQUEST_ID: Final = web.RequestKey("aiodataops.emulator.request_id", str)
_OPERATION: Final = web.RequestKey("aiodataops.emulator.operation", str)


class _DroppedError(Exception):
    """The connection was closed without an answer (on purpose, or by the client)."""


def _rt(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def _actor(request: web.Request) -> str:
    return request.headers.get("Scp-Accesskey", "")


# -- request parsing ----------------------------------------------------------------------------------------------


def _problems_of(exc: BaseException) -> list[Problem]:
    """Each leaf of a request's validation error (walked by the wire module) as a FastAPI-style problem."""
    problems: list[Problem] = []
    for steps, leaf in iter_problems(exc):
        loc = ("body", *steps)
        if isinstance(leaf, cattrs.ForbiddenExtraKeysError):
            problems.extend(
                ((*loc, name), "extra fields not permitted", "value_error.extra") for name in sorted(leaf.extra_fields)
            )
        elif isinstance(leaf, KeyError):
            problems.append((loc, "Field required", "value_error.missing"))
        else:
            problems.append((loc, str(leaf) or type(leaf).__name__, "type_error"))
    return problems


async def _body(request: web.Request, cls: type[T]) -> T:
    """Read the JSON body strictly into a request model; any misfit is a 400 naming the field."""
    try:
        raw = await request.read()
    except ConnectionResetError:
        # The client hung up (e.g. gave up on a slow answer) before its body was read: nothing to answer, and no
        # error of ours, so it is counted as dropped like an injected drop rather than logged with a traceback.
        raise _DroppedError from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidError([(("body",), f"invalid JSON: {exc}", "value_error.jsondecode")]) from None
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise InvalidError(_problems_of(exc)) from None


def _paging(
    request: web.Request, filters: frozenset[str], sortable: tuple[str, ...]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, bool], ...], int, int]:
    query = request.query
    page_text = query.get("page", "0")
    size_text = query.get("size", str(DEFAULT_PAGE_SIZE))
    if not _DIGITS.match(page_text):
        raise BadQueryError(f"page: must be a whole number >= 0 (pages count from 0), got {page_text!r}")
    if not _DIGITS.match(size_text) or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
        raise BadQueryError(f"size: must be a whole number from 1 to {MAX_PAGE_SIZE}, got {size_text!r}")
    sorts: list[tuple[str, bool]] = []
    for spec in query.getall("sort", []):
        for part in filter(None, spec.split(",")) if ":" in spec else [spec]:
            field, _, direction = part.partition(":")
            direction = direction.lower() or "asc"
            if field not in sortable:
                raise BadQueryError(f"sort: unknown field {field!r}; expected one of {', '.join(sortable)}")
            if direction not in ("asc", "desc"):
                raise BadQueryError(f"sort: direction must be 'asc' or 'desc', got {direction!r}")
            sorts.append((field, direction == "desc"))
    chosen = tuple(sorted((k, v) for k, v in query.items() if k in filters))
    return chosen, tuple(sorts), int(page_text), int(size_text)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _envelope(
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
        request_id=request.get(_REQUEST_ID, ""),
        title=title,
        stringified="detail_as_string" in _rt(request).config.quirks,
    )


def _service_json(rt: Runtime, body: dict[str, Any], status: int = 200, *, update: bool = False) -> web.Response:
    """Answer a service body, in the wire forms the configured quirks ask for.

    The 202 of an update carries ``service_workload: ""``, as the documented example does (updatedataopsservice):
    the accepted answer does not say which workload the service will end with.
    """
    quirks = rt.config.quirks
    if not quirks and not update:
        return _json(body, status)
    out = dict(body)
    workload = out.get("service_workload")
    if update:
        out["service_workload"] = ""
    elif "workload_as_json_string" in quirks and isinstance(workload, dict):
        out["service_workload"] = orjson.dumps(workload).decode()
    if "ports_as_integers" in quirks:
        for key in ("http_port", "https_port"):
            if isinstance(out.get(key), str) and out[key].isdigit():
                out[key] = int(out[key])
    alias = out.get("host_alias")
    if "enabled_as_bool" in quirks and isinstance(alias, dict):
        out["host_alias"] = {**alias, "enabled": str(alias.get("enabled")).lower() == "true"}
    return _json(out, status)


# -- handlers: data ops -----------------------------------------------------------------------------------------


async def list_data_ops(request: web.Request) -> web.Response:
    rt = _rt(request)
    filters, sorts, page, size = _paging(request, DATA_OPS_FILTERS, DATA_OPS_SUMMARY_KEYS)
    items, total = rt.store.list_page(
        "data_ops", filters=filters, sorts=sorts, page=page, size=size, now=rt.clock.now()
    )
    return _json({"contents": items, "total_count": total})


async def get_data_ops(request: web.Request) -> web.Response:
    rt = _rt(request)
    return _json(rt.store.data_ops_table.get(request.match_info["data_ops_id"], rt.clock.now()))


async def create_data_ops(request: web.Request) -> web.Response:
    rt = _rt(request)
    body = await _body(request, DataOpsCreate)
    return _json(rt.store.data_ops_table.create(body, rt.clock.now(), _actor(request)), 202)


async def update_data_ops(request: web.Request) -> web.Response:
    rt = _rt(request)
    body = await _body(request, DataOpsUpdate)
    return _json(
        rt.store.data_ops_table.update(request.match_info["data_ops_id"], body, rt.clock.now(), _actor(request)), 202
    )


async def delete_data_ops(request: web.Request) -> web.Response:
    rt = _rt(request)
    return _json(
        rt.store.data_ops_table.delete(request.match_info["data_ops_id"], rt.clock.now(), _actor(request)), 202
    )


async def check_data_ops_name(request: web.Request) -> web.Response:
    rt = _rt(request)
    return _json({"result": rt.store.data_ops_table.name_taken(request.match_info["name"], rt.clock.now())})


async def image_versions(request: web.Request) -> web.Response:
    images = _rt(request).store.images
    return _json({"contents": images, "total_count": len(images)})


async def ingress_controllers(request: web.Request) -> web.Response:
    return _json(_rt(request).store.data_ops_table.ingress_controllers(request.match_info["cluster_id"]))


# -- handlers: services -----------------------------------------------------------------------------------------


async def list_services(request: web.Request) -> web.Response:
    rt = _rt(request)
    filters, sorts, page, size = _paging(request, SERVICE_FILTERS, SERVICE_SUMMARY_KEYS)
    items, total = rt.store.list_page("service", filters=filters, sorts=sorts, page=page, size=size, now=rt.clock.now())
    return _json({"contents": items, "total_count": total})


async def get_service(request: web.Request) -> web.Response:
    rt = _rt(request)
    return _service_json(rt, rt.store.service_table.get(request.match_info["service_id"], rt.clock.now()))


async def create_service(request: web.Request) -> web.Response:
    rt = _rt(request)
    body = await _body(request, ServiceCreate)
    return _service_json(rt, rt.store.service_table.create(body, rt.clock.now(), _actor(request)), 202)


async def update_service(request: web.Request) -> web.Response:
    rt = _rt(request)
    service_id = request.match_info["service_id"]
    body = await _body(request, ServiceUpdate)
    answer = rt.store.service_table.update(service_id, body, rt.clock.now(), _actor(request))
    rt.counters.accepted_puts_per_service[service_id] += 1
    return _service_json(rt, answer, 202, update=True)


async def delete_service(request: web.Request) -> web.Response:
    rt = _rt(request)
    return _service_json(
        rt, rt.store.service_table.delete(request.match_info["service_id"], rt.clock.now(), _actor(request)), 202
    )


async def check_service_name(request: web.Request) -> web.Response:
    rt = _rt(request)
    return _json({"result": rt.store.service_table.name_taken(request.match_info["name"], rt.clock.now())})


async def validate_resources_create(request: web.Request) -> web.Response:
    rt = _rt(request)
    body = await _body(request, ResourceCheckRequest)
    return _json(rt.store.service_table.check_resources_create(request.match_info["cluster_id"], body, rt.clock.now()))


async def validate_resources_update(request: web.Request) -> web.Response:
    rt = _rt(request)
    body = await _body(request, ResourceCheckRequest)
    return _json(rt.store.service_table.check_resources_update(request.match_info["service_id"], body, rt.clock.now()))


async def sub_versions(request: web.Request) -> web.Response:
    rt = _rt(request)
    return _json(rt.store.service_table.sub_versions(request.match_info["data_ops_id"], rt.clock.now()))


#: (method, path, handler, operation name); the order matters: literal segments before ``{id}`` ones.
ROUTES: Final[tuple[tuple[str, str, Handler, str], ...]] = (
    ("GET", "/v1/data-ops", list_data_ops, "list_data_ops"),
    ("POST", "/v1/data-ops", create_data_ops, "create_data_ops"),
    ("GET", "/v1/data-ops/image-versions", image_versions, "image_versions"),
    ("GET", "/v1/data-ops/clusters/{cluster_id}/ingress-controllers", ingress_controllers, "ingress_controllers"),
    ("GET", "/v1/data-ops/{name}/check-duplication", check_data_ops_name, "check_data_ops_name"),
    ("GET", "/v1/data-ops/{data_ops_id}", get_data_ops, "get_data_ops"),
    ("PUT", "/v1/data-ops/{data_ops_id}", update_data_ops, "update_data_ops"),
    ("DELETE", "/v1/data-ops/{data_ops_id}", delete_data_ops, "delete_data_ops"),
    ("GET", "/v1/data-ops-services", list_services, "list_services"),
    ("POST", "/v1/data-ops-services", create_service, "create_service"),
    (
        "POST",
        "/v1/data-ops-services/clusters/{cluster_id}/validate-resources",
        validate_resources_create,
        "validate_resources_create",
    ),
    ("GET", "/v1/data-ops-services/data-ops/{data_ops_id}/sub-versions", sub_versions, "sub_versions"),
    ("GET", "/v1/data-ops-services/{name}/check-duplication", check_service_name, "check_service_name"),
    (
        "POST",
        "/v1/data-ops-services/{service_id}/validate-resources",
        validate_resources_update,
        "validate_resources_update",
    ),
    ("GET", "/v1/data-ops-services/{service_id}", get_service, "get_service"),
    ("PUT", "/v1/data-ops-services/{service_id}", update_service, "update_service"),
    ("DELETE", "/v1/data-ops-services/{service_id}", delete_service, "delete_service"),
)

_OPERATION_OF: Final = {handler: operation for _, _, handler, operation in ROUTES}


def operation_of(request: web.Request) -> str:
    """Return the operation name of a request (``"unknown"`` when no route matched)."""
    match = request.match_info
    if match.http_exception is not None:
        return UNKNOWN
    return _OPERATION_OF.get(match.handler, UNKNOWN)


# -- middlewares --------------------------------------------------------------------------------------------------


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    rt = _rt(request)
    counters = rt.counters
    operation = operation_of(request)
    rt.requests_seen += 1
    request_id = f"emu-{rt.config.seed:x}-{rt.requests_seen:08x}"
    request[_REQUEST_ID] = request_id
    request[_OPERATION] = operation
    if operation == "update_service":
        counters.puts_per_service[request.match_info["service_id"]] += 1
    counters.started()
    status = DROPPED
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
    except _DroppedError:
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
    rt = _rt(request)
    try:
        check_request(request, rt.credentials, time.time_ns() // 1_000_000, int(rt.config.timestamp_tolerance * 1000))
    except AuthError as failure:
        quirks = rt.config.quirks
        bare = not any(h.lower().startswith("scp-") for h in request.headers)
        if "bad_credentials_404" in quirks or ("unauthenticated_404" in quirks and bare):
            # What SCP's gateway answers an unauthenticated request: Spring's 404, not the API's.
            return _errors.route_error(404, request.path, request[_REQUEST_ID])
        status = 412 if "signature_412" in quirks and failure.code == "AUTH_INVALID_SIGNATURE" else 401
        return _errors.legacy(status, failure.code, failure.message, request.path, request[_REQUEST_ID])
    operation = request[_OPERATION]
    refused = unsupported_version(operation, request.headers.get("Scp-Api-Version"))
    if refused is not None:
        return _envelope(
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
    raise _DroppedError


@web.middleware
async def _limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The rate limit per access key (429 with ``Retry-After``), then latency that grows with the load."""
    rt = _rt(request)
    operation = request[_OPERATION]
    if operation == UNKNOWN:
        return await handler(request)
    limiter = rt.rate_limiter
    if limiter is not None:
        wait = limiter.take(_actor(request))
        if wait is not None:
            rt.counters.faults[operation, "rate_limit"] += 1
            # Decimal seconds, rounded up to the millisecond: a client that waits this long finds a token.
            retry_after = f"{math.ceil(wait * 1000) / 1000:g}"
            return _envelope(request, 429, "TOO_MANY_REQUESTS", ["rate limit exceeded"], {"Retry-After": retry_after})
    per_in_flight = rt.config.latency_per_in_flight
    if per_in_flight > 0 and rt.counters.in_flight > 1:
        await rt.clock.sleep(per_in_flight * (rt.counters.in_flight - 1))
    return await handler(request)


@web.middleware
async def _inject(request: web.Request, handler: Handler) -> web.StreamResponse:
    rt = _rt(request)
    operation = request[_OPERATION]
    if operation == UNKNOWN:
        return await handler(request)
    if "edge_417" in rt.config.quirks and _edge_burst(rt, operation, request.path):
        rt.counters.faults[operation, "417"] += 1
        return _errors.edge_rejected(request[_REQUEST_ID])
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
            500, "INTERNAL_SERVER_ERROR", "internal server error", request.path, request[_REQUEST_ID], headers=headers
        )
    status = int(kind)
    code = {429: "TOO_MANY_REQUESTS", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}[status]
    return _envelope(request, status, code, [f"{code.replace('_', ' ').lower()} (injected fault)"], headers)


@web.middleware
async def _translate(request: web.Request, handler: Handler) -> web.StreamResponse:  # noqa: PLR0911 -- one per refusal
    try:
        return await handler(request)
    except InvalidError as exc:
        return _envelope(request, 400, "ValidationError", _errors.validation_reasons(exc.problems))
    except UnknownIdError as exc:
        # The live answer for an unknown or malformed id on the id-bound GETs (its body was not recorded).
        return _envelope(request, 400, "BadRequest", [str(exc)], title="Bad Request")
    except MissingError as exc:
        return _errors.not_found(exc.object_type, exc.object_id)
    except BusyError as exc:
        return _envelope(request, 409, "CONFLICT", [str(exc)])
    except BadQueryError as exc:
        return _envelope(request, 400, "BAD_REQUEST", [str(exc)])
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            return _errors.route_error(exc.status, request.path, request.get(_REQUEST_ID, ""))
        raise


def build_app(runtime: Runtime) -> web.Application:
    """Build the application serving the 17 operations for ``runtime``."""
    app = web.Application(
        middlewares=[_observe, _authenticate, _limit, _inject, _translate], client_max_size=4 * 1024 * 1024
    )
    app[RUNTIME] = runtime
    for method, path, handler, _operation in ROUTES:
        app.router.add_route(method, path, handler)
    return app
