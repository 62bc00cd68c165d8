"""The routes of the 17 operations: reading a request strictly, answering in the documented shapes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, TypeVar

import cattrs
import orjson
from aiohttp import web

from aiodataops._models import (
    DataOpsCreate,
    DataOpsUpdate,
    ResourceCheckRequest,
    ServiceCreate,
    ServiceUpdate,
)
from aiodataops._wire import converter, iter_problems
from aiodataops.emulator._data_ops_table import DATA_OPS_FILTERS, DATA_OPS_SUMMARY_KEYS
from aiodataops.emulator._operations import UNKNOWN
from aiodataops.emulator._refusals import BadQueryError, InvalidError
from aiodataops.emulator._runtime import (
    DroppedError,
    Handler,
    Runtime,
    actor_of,
    runtime_of,
)
from aiodataops.emulator._service_table import SERVICE_FILTERS, SERVICE_SUMMARY_KEYS

if TYPE_CHECKING:
    from aiodataops.emulator._validate import Problem

__all__ = ["ROUTES", "operation_of"]

T = TypeVar("T")

MAX_PAGE_SIZE: Final = 1000
DEFAULT_PAGE_SIZE: Final = 20
_DIGITS: Final = re.compile(r"^[0-9]+$")


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
        raise DroppedError from None
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
    rt = runtime_of(request)
    filters, sorts, page, size = _paging(request, DATA_OPS_FILTERS, DATA_OPS_SUMMARY_KEYS)
    items, total = rt.store.list_page(
        "data_ops", filters=filters, sorts=sorts, page=page, size=size, now=rt.clock.now()
    )
    return _json({"contents": items, "total_count": total})


async def get_data_ops(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    return _json(rt.store.data_ops_table.get(request.match_info["data_ops_id"], rt.clock.now()))


async def create_data_ops(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    body = await _body(request, DataOpsCreate)
    return _json(rt.store.data_ops_table.create(body, rt.clock.now(), actor_of(request)), 202)


async def update_data_ops(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    body = await _body(request, DataOpsUpdate)
    return _json(
        rt.store.data_ops_table.update(request.match_info["data_ops_id"], body, rt.clock.now(), actor_of(request)), 202
    )


async def delete_data_ops(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    return _json(
        rt.store.data_ops_table.delete(request.match_info["data_ops_id"], rt.clock.now(), actor_of(request)), 202
    )


async def check_data_ops_name(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    return _json({"result": rt.store.data_ops_table.name_taken(request.match_info["name"], rt.clock.now())})


async def image_versions(request: web.Request) -> web.Response:
    images = runtime_of(request).store.images
    return _json({"contents": images, "total_count": len(images)})


async def ingress_controllers(request: web.Request) -> web.Response:
    return _json(runtime_of(request).store.data_ops_table.ingress_controllers(request.match_info["cluster_id"]))


# -- handlers: services -----------------------------------------------------------------------------------------


async def list_services(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    filters, sorts, page, size = _paging(request, SERVICE_FILTERS, SERVICE_SUMMARY_KEYS)
    items, total = rt.store.list_page("service", filters=filters, sorts=sorts, page=page, size=size, now=rt.clock.now())
    return _json({"contents": items, "total_count": total})


async def get_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    return _service_json(rt, rt.store.service_table.get(request.match_info["service_id"], rt.clock.now()))


async def create_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    body = await _body(request, ServiceCreate)
    return _service_json(rt, rt.store.service_table.create(body, rt.clock.now(), actor_of(request)), 202)


async def update_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    service_id = request.match_info["service_id"]
    body = await _body(request, ServiceUpdate)
    answer = rt.store.service_table.update(service_id, body, rt.clock.now(), actor_of(request))
    rt.counters.accepted_puts_per_service[service_id] += 1
    return _service_json(rt, answer, 202, update=True)


async def delete_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    return _service_json(
        rt, rt.store.service_table.delete(request.match_info["service_id"], rt.clock.now(), actor_of(request)), 202
    )


async def check_service_name(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    return _json({"result": rt.store.service_table.name_taken(request.match_info["name"], rt.clock.now())})


async def validate_resources_create(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    body = await _body(request, ResourceCheckRequest)
    return _json(rt.store.service_table.check_resources_create(request.match_info["cluster_id"], body, rt.clock.now()))


async def validate_resources_update(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    body = await _body(request, ResourceCheckRequest)
    return _json(rt.store.service_table.check_resources_update(request.match_info["service_id"], body, rt.clock.now()))


async def sub_versions(request: web.Request) -> web.Response:
    rt = runtime_of(request)
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
