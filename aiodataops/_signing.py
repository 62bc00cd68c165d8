"""Request signing as SCP's OpenAPI gateway checks it: pure functions, no I/O, no clock of their own.

The signed message is ``METHOD + URL + timestamp + access_key + client_type`` with no separators, where URL is the
absolute URL exactly as sent on the wire (see API.md, "Signing"). The body is not signed.

The API version each operation is sent with (``Scp-Api-Version: data-ops 1.2``) comes from one table,
``API_VERSIONS``, the versions the reference documents (``../shared/reference/dataops-documented.md``,
"Operations"): the two creates at 1.2, everything else at 1.1. A client overrides it per operation
(``DataOpsClient(api_versions={"create_service": "1.3"})``) or for the calls of one block
(``with client.api_versions(create_service="1.3"): ...``) when SCP moves on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "API_VERSION",
    "API_VERSIONS",
    "CLIENT_TYPE",
    "DEFAULT_API_VERSION",
    "SECRET_HEADERS",
    "Credentials",
    "api_version_for",
    "api_version_header",
    "check_api_versions",
    "now_ms",
    "sign",
    "signed_headers",
]

CLIENT_TYPE: Final = "Openapi"
#: The version of every operation the reference does not document otherwise.
DEFAULT_API_VERSION: Final = "1.1"
#: The ``Scp-Api-Version`` header of an operation at the default version.
API_VERSION: Final = f"data-ops {DEFAULT_API_VERSION}"

#: Operation name (as the client and the emulator call it) -> its documented version; the reference's operation id
#: in each comment. Only the creates differ from the default: they are documented at 1.2 only.
API_VERSIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "list_data_ops": "1.1",  # getdataopslistconsole
        "get_data_ops": "1.1",  # getdataopsdetail
        "create_data_ops": "1.2",  # createdataops (DataOpsCreateRequestV1Dot2)
        "update_data_ops": "1.1",  # updatedataopsv1
        "delete_data_ops": "1.1",  # deletedataopsv1
        "check_data_ops_name": "1.1",  # checkduplicationcontrollerv1
        "image_versions": "1.1",  # getdataopsimageversionv1
        "ingress_controllers": "1.1",  # getingresscontrollerlistv1
        "list_services": "1.1",  # getdataopsservicelistconsole
        "get_service": "1.1",  # getdataopsservice
        "create_service": "1.2",  # createdataopsservice (DataOpsServiceCreateRequestV1Dot2)
        "update_service": "1.1",  # updatedataopsservice
        "delete_service": "1.1",  # deletedataopsservice
        "check_service_name": "1.1",  # checkduplicationcontroller
        "validate_resources_create": "1.1",  # getdataopsservicevalidateresourcescreation
        "validate_resources_update": "1.1",  # getdataopsservicevalidateresourcesupdate
        "sub_versions": "1.1",  # getdataopssubversion
    }
)

_VERSION_FORM: Final = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def check_api_versions(versions: Mapping[str, str], *, where: str) -> dict[str, str]:
    """Return a copy of per-operation version overrides, refusing unknown operations and malformed versions."""
    checked: dict[str, str] = {}
    for operation, version in versions.items():
        if operation not in API_VERSIONS:
            raise ValueError(
                f"{where}: unknown operation {operation!r}; expected one of {', '.join(sorted(API_VERSIONS))}"
            )
        if not isinstance(version, str) or not _VERSION_FORM.match(version):
            raise ValueError(f"{where}[{operation!r}]: expected a version such as '1.2', got {version!r}")
        checked[operation] = version
    return checked


def api_version_for(operation: str, *overrides: Mapping[str, str] | None) -> str:
    """The version to send ``operation`` with: the first override naming it, else the table, else the default."""
    for layer in overrides:
        if layer and operation in layer:
            return layer[operation]
    return API_VERSIONS.get(operation, DEFAULT_API_VERSION)


def api_version_header(version: str) -> str:
    """The ``Scp-Api-Version`` value of a version: ``data-ops 1.2``."""
    return f"data-ops {version}"


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
    operation: str | None = None,
) -> dict[str, str]:
    """Return the full ``Scp-*`` header set for one request sent to ``url`` (``operation`` picks its version)."""
    headers = {
        "Scp-Accesskey": credentials.access_key,
        "Scp-Timestamp": str(timestamp_ms),
        "Scp-ClientType": CLIENT_TYPE,
        "Scp-Signature": sign(method, url, timestamp_ms, credentials),
        "Accept-Language": accept_language,
        "Scp-Api-Version": api_version_header(api_version_for(operation)) if operation else API_VERSION,
    }
    if credentials.auth_token:
        headers["X-Auth-Token"] = credentials.auth_token
    return headers
