"""The gateway's signature check, as a server middleware.

The signature is recomputed over the URL exactly as it arrived: scheme, the ``Host`` header, and the raw request
target (``request.raw_path``: path and query, byte for byte, percent-encoding untouched). A client that signs one
spelling of a URL and sends another (``%3A`` signed, ``:`` sent) is refused, as the real gateway refuses it.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web

from aiodataops._signing import API_VERSIONS, CLIENT_TYPE, Credentials, api_version_header, sign

__all__ = ["SUPPORTED_API_VERSIONS", "AuthError", "check_request", "signed_url", "unsupported_version"]

#: The ``Scp-Api-Version`` values each operation is served at: the one the reference documents (the creates at
#: 1.2 only, the rest at 1.1). A request without the header gets the latest, as the real server does.
SUPPORTED_API_VERSIONS: Final = {operation: frozenset({api_version_header(v)}) for operation, v in API_VERSIONS.items()}

_REQUIRED: Final = ("Scp-Accesskey", "Scp-Timestamp", "Scp-ClientType", "Scp-Signature")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AuthError(Exception):
    """Why a request is refused; ``code`` is the legacy gateway's code, the message never holds a secret."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def signed_url(request: web.BaseRequest) -> str:
    """Return the absolute URL as it arrived on the wire: what the client must have signed."""
    return f"{request.scheme}://{request.host}{request.raw_path}"


def unsupported_version(operation: str, header: str | None) -> str | None:
    """The version sent when ``operation`` is not served at it (a 406 ``NoSuchVersion``), else ``None``."""
    if header is None or operation not in SUPPORTED_API_VERSIONS:
        return None
    return None if header in SUPPORTED_API_VERSIONS[operation] else header


def check_request(
    request: web.BaseRequest,
    accepted: Mapping[str, Credentials],
    now_ms: int,
    tolerance_ms: int,
) -> Credentials:
    """Return the credentials that signed this request, or raise ``AuthError`` saying why not."""
    headers = request.headers
    missing = [name for name in _REQUIRED if not headers.get(name)]
    if missing:
        raise AuthError("AUTH_MISSING_HEADER", f"missing header(s): {', '.join(missing)}")
    client_type = headers["Scp-ClientType"]
    if client_type != CLIENT_TYPE:
        raise AuthError("AUTH_INVALID_CLIENT_TYPE", f"Scp-ClientType must be {CLIENT_TYPE!r}, got {client_type!r}")
    credentials = accepted.get(headers["Scp-Accesskey"])
    if credentials is None:
        raise AuthError("AUTH_UNKNOWN_ACCESS_KEY", "the access key is not known (Scp-Accesskey)")
    raw_timestamp = headers["Scp-Timestamp"]
    if not raw_timestamp.isdigit():
        raise AuthError(
            "AUTH_INVALID_TIMESTAMP", "Scp-Timestamp must be milliseconds since the Unix epoch as a decimal string"
        )
    timestamp = int(raw_timestamp)
    skew = timestamp - now_ms
    if abs(skew) > tolerance_ms:
        direction = "behind" if skew < 0 else "ahead of"
        raise AuthError(
            "AUTH_TIMESTAMP_OUT_OF_RANGE",
            f"Scp-Timestamp is out of range: {abs(skew) / 60000:.1f} minutes {direction} the server's clock "
            f"(at most {tolerance_ms / 60000:g} minutes allowed)",
        )
    expected = sign(request.method, signed_url(request), timestamp, credentials)
    if not hmac.compare_digest(expected.encode(), headers["Scp-Signature"].encode()):
        raise AuthError(
            "AUTH_INVALID_SIGNATURE",
            "Scp-Signature does not match the request (method, URL as sent, timestamp, access key)",
        )
    if credentials.auth_token is not None:
        token = headers.get("X-Auth-Token", "")
        if not hmac.compare_digest(token.encode(), credentials.auth_token.encode()):
            raise AuthError("AUTH_INVALID_TOKEN", "X-Auth-Token is missing or does not match")
    return credentials
