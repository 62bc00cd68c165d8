"""The error answers of the emulator, in the several envelopes SCP services really use (API.md, "Errors").

Each kind of failure gets the envelope a different part of the real zoo answers with, so a client that parses only
one of them fails here first:

- body validation (unknown or ill-typed field, bad value): a bare JSON array of ``{loc, msg, type, ctx}``
  (FastAPI style), status 400;
- query and paging problems, unknown API version, conflicts, throttling, 502/503/504: ``{"errors": [{"status",
  "code", "detail"}]}`` with ``status`` as a string;
- an unknown resource id: ``{"code", "status", "object_type", "message"}``, status 404;
- signature and key rejections, and 500: the legacy gateway's ``{service, timestamp, message, status, code, path,
  requestId}``;
- a path no route knows, or a method it does not allow: a Spring-style ``{timestamp, status, error, path}``;
- ``"503_text"`` faults: Envoy's plain-text ``upstream connect error or disconnect/reset before headers``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ENVOY_503_TEXT",
    "conflict",
    "envoy_503",
    "errors_envelope",
    "json_response",
    "legacy",
    "not_found",
    "route_error",
    "validation",
]

ENVOY_503_TEXT: Final = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"

_REASONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Answer JSON serialised by orjson."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def validation(problems: Sequence[tuple[Sequence[str | int], str, str]]) -> web.Response:
    """400 with a bare list of ``{loc, msg, type}``: one per ``(location, message, type)``."""
    body = [{"loc": list(loc), "msg": msg, "type": kind, "ctx": {}} for loc, msg, kind in problems]
    return json_response(body, 400)


def errors_envelope(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    """``{"errors": [{"status", "code", "detail"}]}``."""
    return json_response({"errors": [{"status": str(status), "code": code, "detail": detail}]}, status, headers)


def conflict(detail: str) -> web.Response:
    """409: the resource is busy with another change, or the name is taken."""
    return errors_envelope(409, "CONFLICT", detail)


def not_found(object_type: str, object_id: str) -> web.Response:
    """404 for an unknown resource id, in the ``{code, status, object_type}`` envelope."""
    code = "".join(f"_{c}" if c.isupper() else c.upper() for c in object_type).lstrip("_") + "_NOT_FOUND"
    return json_response(
        {"code": code, "status": 404, "object_type": object_type, "message": f"{object_type} {object_id} not found"},
        404,
    )


def legacy(
    status: int, code: str, message: str, path: str, request_id: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    """The legacy gateway envelope ``{service, timestamp, message, status, code, path, requestId}``."""
    body = {
        "service": "data-ops",
        "timestamp": _now_iso(),
        "message": message,
        "status": status,
        "code": code,
        "path": path,
        "requestId": request_id,
    }
    return json_response(body, status, headers)


def route_error(status: int, path: str) -> web.Response:
    """A Spring-style answer for a path no route knows (404) or a method it does not take (405)."""
    return json_response(
        {"timestamp": _now_iso(), "status": status, "error": _REASONS.get(status, "Error"), "path": path}, status
    )


def envoy_503(headers: dict[str, str] | None = None) -> web.Response:
    """503 with an edge proxy's plain-text body."""
    return web.Response(text=ENVOY_503_TEXT, status=503, content_type="text/plain", headers=headers)
