"""The error answers of the emulator, in the envelopes SCP services really use (``../shared/reference/
dataops-documented.md``, "[LIVE / PLATFORM]"; API.md, "Errors").

Each kind of failure gets the envelope a different part of the real zoo answers with, so a client that parses only
one of them fails here first:

- body validation, an unknown or malformed id on a detail, sub-versions or ingress-controller GET (400, as live),
  query and paging problems, a version the operation is not served at (406 ``NoSuchVersion``), conflicts,
  throttling, 502/503/504: the live envelope ``{"errors": [{code, detail, global_request_id, links,
  related_resources, request_id, response, status, title}]}`` with ``detail`` a list of strings (or, with the
  ``detail_as_string`` quirk, that list stringified as Python writes it: ``"['Field required']"``);
- an unknown id on a change (PUT, DELETE, validate): ``{"code", "status", "object_type", "message"}``, status 404;
- signature and key rejections, and 500: the legacy gateway's ``{service, timestamp, message, status, code, path,
  requestId}`` (or, with the ``bad_credentials_404`` quirk, the gateway's Spring-style 404);
- a path no route knows, or a method it does not allow: a Spring-style ``{timestamp, status, error, path,
  requestId}``, which is also what SCP's gateway answers an unauthenticated request;
- ``"503_text"`` faults: Envoy's plain-text ``upstream connect error or disconnect/reset before headers``;
- the ``edge_417`` quirk: 417 with the platform edge's HTML "Request Rejected" page.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "EDGE_417_HTML",
    "ENVOY_503_TEXT",
    "edge_rejected",
    "envoy_503",
    "errors_envelope",
    "json_response",
    "legacy",
    "not_found",
    "route_error",
    "validation_reasons",
]

ENVOY_503_TEXT: Final = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
#: The platform edge's page for a blocked burst (its words as the live harness matched them).
EDGE_417_HTML: Final = (
    "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. "
    "Please consult with your administrator or contact SCP Support.<br><br>Your support ID is: {support_id}"
    "</body></html>"
)

_REASONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    417: "Expectation Failed",
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


def validation_reasons(problems: Sequence[tuple[Sequence[str | int], str, str]]) -> list[str]:
    """The ``detail`` strings of a validation 400: ``"body.field: message"`` per ``(location, message, type)``."""
    return [f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _ in problems]


def errors_envelope(
    status: int,
    code: str,
    detail: str | Sequence[str],
    headers: dict[str, str] | None = None,
    *,
    request_id: str = "",
    title: str | None = None,
    stringified: bool = False,
) -> web.Response:
    """The live ``{"errors": [...]}`` envelope: ``detail`` a list of reasons (``stringified``: Python's str of it)."""
    reasons = [detail] if isinstance(detail, str) else list(detail)
    item = {
        "code": code,
        "detail": str(reasons) if stringified else reasons,
        "global_request_id": request_id,
        "links": [],
        "related_resources": [],
        "request_id": request_id,
        "response": None,
        "status": status,
        "title": title or code,
    }
    return json_response({"errors": [item]}, status, headers)


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


def route_error(status: int, path: str, request_id: str = "") -> web.Response:
    """A Spring-style answer: a path no route knows (404), a method it does not take (405), or the gateway's
    refusal of an unauthenticated request (404, ``{timestamp, path, status, error, requestId}``)."""
    body: dict[str, Any] = {"timestamp": _now_iso(), "status": status, "error": _REASONS.get(status, "Error")}
    body["path"] = path
    if request_id:
        body["requestId"] = request_id
    return json_response(body, status)


def edge_rejected(support_id: str) -> web.Response:
    """417 with the platform edge's HTML "Request Rejected" page: a burst blocked before it reached the API."""
    return web.Response(
        text=EDGE_417_HTML.format(support_id=support_id), status=417, content_type="text/html", charset="utf-8"
    )


def envoy_503(headers: dict[str, str] | None = None) -> web.Response:
    """503 with an edge proxy's plain-text body."""
    return web.Response(text=ENVOY_503_TEXT, status=503, content_type="text/plain", headers=headers)
