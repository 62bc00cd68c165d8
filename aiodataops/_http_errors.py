"""Turn an HTTP error answer into the typed error of ``_errors.py``, whatever envelope the server chose.

SCP services answer errors in several shapes (``../shared/reference/dataops-documented.md``, "[LIVE / PLATFORM]";
API.md, "Errors"); each is recognised here, and the message always carries the reasons the body gives:

- ``{"errors": [{"status", "code", "detail", "title", ...}]}``, where ``detail`` is a string, a list of strings (the
  live API's usual answer: ``["Field required", ...]``), a stringified Python list (``"['Field required']"``) or a
  list of ``{loc, msg, type}``;
- a JSON array of ``{"loc", "msg", "type", "ctx"}`` (a 400), also found under ``{"detail": [...]}``;
- ``{"code", "status", "object_type", "message"?}``;
- the legacy ``{"service", "timestamp", "message", "status", "code", "path", "requestId"}``;
- the gateway's ``{"status": "UNAUTHORIZED", "name": "Request was rejected by gateway", "message"}``;
- Spring's ``{"timestamp", "status", "error", "path", "requestId"?}``: as a 404 it is what SCP's gateway answers an
  unauthenticated request, so it becomes ``GatewayRejectedError``, never a ``NotFoundError``;
- anything else, JSON or not: an edge proxy's ``upstream connect error`` text still becomes a useful message, and
  the edge's 417 HTML "Request Rejected" page (throttling) becomes ``RequestRejectedError`` with its Support ID.

Two 4xx answers are told apart by their body: a 400 saying that an id is unknown (how the live API answers an
unknown or malformed id) is an ``IdNotFoundError``, and a 406 ``NoSuchVersion`` an ``UnsupportedVersionError``
naming the operation and the version sent.

Every string taken from the answer is masked (``_masking``): ``account_password`` values by key, and the passwords
the request carried by value, wherever the server repeats them. The raw body is always kept (masked) with the
status; a request id comes from a response header or the body, wherever present.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from typing import TYPE_CHECKING, Any, Final

import orjson

from aiodataops._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GatewayRejectedError,
    IdNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RequestRejectedError,
    ServerError,
    ThrottledError,
    UnsupportedVersionError,
)
from aiodataops._masking import NO_SECRETS, Secrets, mask_text, mask_value

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["REQUEST_ID_HEADERS", "error_class_for", "error_from_response", "parse_error_body"]

#: Response headers that may carry a request id, in order of preference (lower case).
REQUEST_ID_HEADERS: Final = ("x-request-id", "x-correlation-id", "request-id", "x-trace-id", "x-b3-traceid")
_BODY_REQUEST_ID_KEYS: Final = ("requestId", "request_id", "traceId", "trace_id", "x-request-id")

_MAX_MESSAGE: Final = 300
# Words of a refusal about the request's time. A bare "timestamp" is not one: a signature mismatch names the
# timestamp among the signed inputs, and telling that user to fix their clock would send them the wrong way.
_CLOCK_WORDS: Final = ("clock", "skew", "out of range", "too old", "too far", "time window")
_CLOCK_CODE_WORDS: Final = ("TIMESTAMP", "CLOCK", "SKEW")
# "Expired" is about the clock only when nothing says what expired, or the request, signature or timestamp did:
# an expired token (or session, or temporary credentials) needs new credentials, and no clock fixes that.
_EXPIRED_WORDS: Final = ("expired", "expiry", "has expire", "no longer valid")
_TEMPORARY_WORDS: Final = ("token", "credential", "session")

_BY_STATUS: Final[Mapping[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ServerError,
    406: UnsupportedVersionError,
    409: ConflictError,
    412: AuthenticationError,
    417: RequestRejectedError,
    422: BadRequestError,
    429: ThrottledError,
}
#: Words of a 400 that mean "no such id" (the live API answers unknown and malformed ids with a 400).
_NOT_FOUND_WORDS: Final = re.compile(r"not found|does not exist|no such|notfound|not_found", re.IGNORECASE)
_ID_METHODS: Final = frozenset({"GET", "PUT", "DELETE"})
_SPRING_KEYS: Final = frozenset({"timestamp", "status", "error", "path"})
_SUPPORT_ID: Final = re.compile(r"Support ID(?:\s+is)?[^0-9A-Za-z]*([0-9A-Za-z-]+)", re.IGNORECASE)
_REJECTED_WORDS: Final = ("request rejected", "request was blocked", "support id")


def error_class_for(status: int) -> type[APIStatusError]:
    """Return the error class for an HTTP status (5xx and 408 are server errors)."""
    if status >= 500:  # noqa: PLR2004 -- the 5xx family
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _reasons(detail: Any) -> list[str]:
    """The reasons an ``errors[].detail`` gives, whatever its shape: a string, a list, or a stringified list."""
    if isinstance(detail, str):
        text = detail.strip()
        if text.startswith("[") and text.endswith("]"):
            # Some SCP services send str(list) from Python: "['Field required', 'Field required']".
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                parsed = None
            if isinstance(parsed, list):
                return _reasons(parsed)
        return [text] if text else []
    if isinstance(detail, list):
        found = _validation_items(detail)
        if found:
            return [found[0]]
        reasons: list[str] = []
        for item in detail:
            if isinstance(item, str | list):
                reasons.extend(_reasons(item))
            elif (scalar := _str(item)) is not None:
                reasons.append(scalar)
        return reasons
    scalar = _str(detail)
    return [scalar] if scalar else []


def _summarise(reasons: list[str]) -> str:
    """Join reasons, counting repeats: seven bare "Field required" read "Field required (x7)"."""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return "; ".join(f"{r} (x{n})" if n > 1 else r for r, n in counts.items())


def _validation_items(items: list[Any]) -> tuple[str, str | None] | None:
    """Read a list of ``{loc, msg, type, ctx}``; ``None`` when the items do not look like that."""
    parts: list[str] = []
    code: str | None = None
    for item in items:
        if not isinstance(item, dict) or "msg" not in item:
            return None
        loc = item.get("loc")
        where = ".".join(str(p) for p in loc) if isinstance(loc, list) else _str(loc)
        msg = _str(item.get("msg")) or "invalid"
        parts.append(f"{where}: {msg}" if where else msg)
        code = code or _str(item.get("type"))
    if not parts:
        return None
    return "; ".join(parts), code


def parse_error_body(data: Any) -> tuple[str | None, str | None, str | None]:  # noqa: C901 -- one branch per envelope
    """Return ``(message, code, request_id)`` read from a decoded JSON error body; each may be ``None``."""
    if isinstance(data, list):
        found = _validation_items(data)
        return (found[0], found[1], None) if found else (None, None, None)
    if not isinstance(data, dict):
        return (_str(data), None, None)
    request_id = next((r for k in _BODY_REQUEST_ID_KEYS if (r := _str(data.get(k)))), None)
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        messages: list[str] = []
        code: str | None = None
        for item in errors:
            if isinstance(item, dict):
                reasons = _reasons(item.get("detail"))
                text = _summarise(reasons) if reasons else _str(item.get("message")) or _str(item.get("title"))
                if text:
                    messages.append(text)
                code = code or _str(item.get("code"))
                request_id = request_id or _str(item.get("requestId")) or _str(item.get("request_id"))
            elif isinstance(item, str):
                messages.append(item)
        return ("; ".join(messages) or None, code, request_id)
    detail = data.get("detail")
    if isinstance(detail, list):
        found = _validation_items(detail)
        if found:
            return found[0], found[1], request_id
    code = _str(data.get("code"))
    reasons = _reasons(detail)
    message = _str(data.get("message")) or (_summarise(reasons) if reasons else None)
    message = message or _str(data.get("error_description"))
    name = _str(data.get("name"))  # the gateway's {"status", "name": "Request was rejected by gateway", "message"}
    if name and (not message or name not in message):
        message = f"{name}: {message}" if message else name
    error = _str(data.get("error"))
    if message and error and error not in message:
        message = f"{error}: {message}"
    message = message or error
    if message is None and code is not None and "object_type" in data:
        message = f"{code} ({_str(data.get('object_type')) or 'unknown object'})"
    return message, code, request_id


def _request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def error_from_response(
    *,
    status: int,
    reason: str | None,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    retry_after: float | None = None,
    operation: str = "",
    api_version: str = "",
    secrets: Secrets = NO_SECRETS,
) -> APIStatusError:
    """Build the typed error for one HTTP error answer; never raises, whatever the body holds.

    ``operation`` and ``api_version`` (what the request was sent as) name the way out of a 406 ``NoSuchVersion``.
    ``secrets`` are the passwords the request carried: a server that repeats the request back in its error shows
    none of them (masked in the text and the decoded body before anything is read from them, or cut short).
    """
    text = mask_text(body.decode("utf-8", "replace"), secrets)
    message: str | None = None
    code: str | None = None
    body_request_id: str | None = None
    details: Any = None
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            details = mask_value(orjson.loads(body), secrets)
        except orjson.JSONDecodeError:
            details = None
        else:
            message, code, body_request_id = parse_error_body(details)
    if message is None and details is None and stripped:
        # Not JSON: an edge proxy's text or HTML page. Its first line is usually the useful part.
        message = _short(stripped.splitlines()[0]) if not stripped.startswith("<") else None
    message = _short(message) if message else (reason or "no message")
    if status in (401, 412):
        message += _auth_hint(status, message, code)
    request_id = _request_id_from_headers(headers) or body_request_id
    cls = error_class_for(status)
    extra: dict[str, Any] = {}
    if status == 404 and _is_spring(details):  # noqa: PLR2004 -- the gateway's answer to unauthenticated calls
        cls = GatewayRejectedError
        message = (
            f"the SCP gateway refused the request ({message}, answered in Spring's shape rather than by the Data "
            "Ops API): SCP answers an unauthenticated request this way, so check the access key, the secret key, "
            "the auth token of temporary credentials and the endpoint"
        )
    elif status == 400 and method.upper() in _ID_METHODS and _NOT_FOUND_WORDS.search(f"{code} {message}"):  # noqa: PLR2004
        cls = IdNotFoundError
    elif status == 406:  # noqa: PLR2004 -- NoSuchVersion
        sent = f"Scp-Api-Version 'data-ops {api_version}'" if api_version else "the Scp-Api-Version sent"
        what = operation or "this operation"
        message = (
            f"{what} is not offered at {sent} ({message}); choose another version with "
            f"DataOpsClient(api_versions={{{what!r}: 'X.Y'}}) or, for some calls, "
            f"`with client.api_versions({what}='X.Y'):`"
        )
        extra = {"operation": operation, "api_version": api_version}
    elif status == 417:  # noqa: PLR2004 -- the edge's "Request Rejected" page
        message = _edge_rejection(text, message)
    return cls(
        message,
        status=status,
        method=method,
        url=url,
        code=code,
        request_id=request_id,
        body=text,
        details=details,
        retry_after=retry_after,
        secrets=secrets,
        **extra,
    )


def _is_spring(details: Any) -> bool:
    """Whether a body is Spring's ``{timestamp, status, error, path}`` error, with no API error inside."""
    return (
        isinstance(details, dict)
        and details.keys() >= _SPRING_KEYS
        and "errors" not in details
        and "code" not in details
    )


def _edge_rejection(text: str, message: str) -> str:
    """Say what the edge's 417 page means, with its Support ID when it shows one."""
    lowered = text.lower()
    if not any(word in lowered for word in _REJECTED_WORDS):
        return f"{message} (HTTP 417 from the platform's edge: treated as throttling)"
    found = _SUPPORT_ID.search(text)
    support = f", Support ID {found.group(1)}" if found else ""
    return f"the platform's edge rejected the request (Request Rejected{support}): throttling, retried with backoff"


def _auth_hint(status: int, message: str, code: str | None) -> str:
    """The way out of a 401/412, chosen by what the message and code say was refused (tested word by word)."""
    lowered = message.lower()
    upper_code = (code or "").upper()
    expired = any(word in lowered for word in _EXPIRED_WORDS) or "EXPIRE" in upper_code
    token = "token" in lowered or "TOKEN" in upper_code
    temporary = token or any(word in lowered for word in _TEMPORARY_WORDS) or "CREDENTIAL" in upper_code
    if expired and temporary:
        return (
            " -- the temporary credentials have expired: renew them and use the new auth token "
            "(Credentials.auth_token, SCP_AUTH_TOKEN or --auth-token-file) with the access and secret key issued "
            "with it"
        )
    about_time = (
        expired or any(word in lowered for word in _CLOCK_WORDS) or any(w in upper_code for w in _CLOCK_CODE_WORDS)
    )
    if about_time:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").removesuffix("+00:00")
        return (
            f" -- the server rejected the request time: check your clock (this machine reads {now} UTC); "
            "signatures are valid for 15 minutes"
        )
    if token:
        return (
            " -- the auth token was refused: check it (SCP_AUTH_TOKEN or --auth-token-file) and, as temporary "
            "credentials expire, renew them if needed"
        )
    if status == 412:  # noqa: PLR2004 -- the legacy gateway's "wrong signature"
        return " -- the signature did not match: check the secret key"
    return " -- check the access key, the secret key and, for temporary credentials, the auth token"
