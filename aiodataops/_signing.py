"""Request signing as SCP's OpenAPI gateway checks it: pure functions, no I/O, no clock of their own.

The signed message is ``METHOD + URL + timestamp + access_key + client_type`` with no separators, where URL is the
absolute URL exactly as sent on the wire (see API.md, "Signing"). The body is not signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Final

import attrs

__all__ = [
    "API_VERSION",
    "CLIENT_TYPE",
    "SECRET_HEADERS",
    "Credentials",
    "now_ms",
    "sign",
    "signed_headers",
]

CLIENT_TYPE: Final = "Openapi"
API_VERSION: Final = "data-ops 1.1"

#: Headers whose values are secret or secret-derived; logs and reprs must never show them.
SECRET_HEADERS: Final = frozenset({"scp-signature", "x-auth-token", "authorization", "cookie", "set-cookie"})


def _is_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # Not attrs.validators.instance_of: its message and args echo the value, and this value may be a secret.
    if type(value) is not str and not (value is None and attribute.name == "auth_token"):
        raise TypeError(f"Credentials.{attribute.name}: expected a string, got {type(value).__name__}")


@attrs.frozen(repr=False)
class Credentials:
    """An SCP access key pair, with the optional token of temporary credentials; never shows its secrets."""

    access_key: str = attrs.field(validator=_is_text)
    secret_key: str = attrs.field(validator=_is_text)
    auth_token: str | None = attrs.field(default=None, validator=_is_text)

    def __attrs_post_init__(self) -> None:
        if not self.access_key:
            raise ValueError("Credentials.access_key: must not be empty")
        if not self.secret_key:
            raise ValueError("Credentials.secret_key: must not be empty")

    def __repr__(self) -> str:
        token = ", auth_token='***'" if self.auth_token else ""
        return f"Credentials(access_key={self.access_key!r}, secret_key='***'{token})"

    __str__ = __repr__


def now_ms() -> int:
    """Return the current time in milliseconds since the Unix epoch, the unit of ``Scp-Timestamp``."""
    return time.time_ns() // 1_000_000


def sign(method: str, url: str, timestamp_ms: int, credentials: Credentials) -> str:
    """Return the ``Scp-Signature`` for one request: base64 of HMAC-SHA256 over the gateway's message."""
    message = f"{method.upper()}{url}{timestamp_ms}{credentials.access_key}{CLIENT_TYPE}"
    digest = hmac.new(credentials.secret_key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(
    method: str,
    url: str,
    timestamp_ms: int,
    credentials: Credentials,
    *,
    accept_language: str = "en-US",
) -> dict[str, str]:
    """Return the full ``Scp-*`` header set for one request sent to ``url``."""
    headers = {
        "Scp-Accesskey": credentials.access_key,
        "Scp-Timestamp": str(timestamp_ms),
        "Scp-ClientType": CLIENT_TYPE,
        "Scp-Signature": sign(method, url, timestamp_ms, credentials),
        "Accept-Language": accept_language,
        "Scp-Api-Version": API_VERSION,
    }
    if credentials.auth_token:
        headers["X-Auth-Token"] = credentials.auth_token
    return headers
