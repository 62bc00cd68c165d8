"""Every error aiodataops raises, in one tree.

```
DataOpsError                      base of everything raised on purpose
├── ConfigurationError            missing or contradictory settings (names what is missing)
├── APIStatusError                the server answered with an HTTP error status
│   ├── BadRequestError           400, 422: the request is wrong; never retried
│   ├── AuthenticationError       401, 412 (legacy bad signature): key, signature, token or clock
│   ├── PermissionDeniedError     403
│   ├── NotFoundError             404
│   │   └── IdNotFoundError       400 whose body says the id is unknown: the live API's not-found
│   ├── GatewayRejectedError      404 in Spring's shape: the gateway refused the request (likely credentials)
│   ├── UnsupportedVersionError   406 NoSuchVersion: the operation is not offered at the API version sent
│   ├── ConflictError             409
│   ├── ThrottledError            429 (carries retry_after)
│   │   └── RequestRejectedError  417 "Request Rejected" page of the platform's edge: throttling, retried
│   └── ServerError               5xx, and 408
├── TransportError                no usable HTTP answer
│   ├── ConnectError              could not connect, or the connection dropped
│   └── RequestTimeoutError       an attempt's Timeouts, or the request deadline across attempts, ran out
├── ResponseShapeError            an answer that does not fit the model (names the field path), is over
│                                 max_response_size (decompressed) or cannot be decompressed; never retried
│   └── ListingError              a listing that would never end (a page repeats, past total_count or the cap)
└── WaitError                     a wait for a settled state ended without success
    ├── WaitFailedError           the service reached a failure state (ERROR, FAILED)
    ├── WaitEndedError            it reached a terminal state that is not the goal (STOPPED, UNDEPLOYED, ...)
    ├── WaitTimeoutError          the deadline passed
    ├── WaitVanishedError         the resource answered 404 too many times while waiting
    └── WaitTransientError        too many transient errors in a row while polling
```

``RequestTimeoutError`` names what ran out: ``Timeouts.connect``/``pool``, ``Timeouts.read`` (a stalled answer),
``Timeouts.total`` (one attempt) or ``RetryPolicy.total_deadline`` (the whole request, with the attempt it cut and
what that attempt was waiting for). It does not subclass the builtin ``TimeoutError`` on purpose: anyio's and asyncio's
cancellation machinery treat the builtin specially, and a request timeout must never look like a cancelled scope.
Its first name, ``TimeoutError_``, stays an alias of it for one release.

No message, attribute or repr here holds a secret: bodies are kept raw for debugging, but the server never echoes
the signature, and passwords are masked (``_masking``) in every string taken from an answer (message, details, body,
code, request id) before it is stored: by key (``account_password``), and by value, the transport passing the
passwords its request carried (``secrets``), so a server repeating the request back shows none of them.
"""

from __future__ import annotations

from typing import Any

from aiodataops._masking import NO_SECRETS, Secrets, mask_text, mask_value, redact_body
from aiodataops._plural import plural

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DataOpsError",
    "GatewayRejectedError",
    "IdNotFoundError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestRejectedError",
    "RequestTimeoutError",
    "ResponseShapeError",
    "ServerError",
    "ThrottledError",
    "TimeoutError_",
    "TransportError",
    "UnsupportedVersionError",
    "WaitEndedError",
    "WaitError",
    "WaitFailedError",
    "WaitTimeoutError",
    "WaitTransientError",
    "WaitVanishedError",
    "redact_body",
]


class DataOpsError(Exception):
    """Base of every error aiodataops raises on purpose."""


class ConfigurationError(DataOpsError):
    """Settings are missing or contradict each other."""


class APIStatusError(DataOpsError):
    """The server answered with an HTTP error status; carries what it said, with secrets masked."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        url: str,
        code: str | None = None,
        request_id: str | None = None,
        body: str = "",
        details: Any = None,
        retry_after: float | None = None,
        secrets: Secrets = NO_SECRETS,
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.code = None if code is None else mask_text(code, secrets)
        self.message = message = mask_text(message, secrets)
        self.request_id = None if request_id is None else mask_text(request_id, secrets)
        self.body = redact_body(body, secrets)
        self.details = mask_value(details, secrets)
        self.retry_after = retry_after
        parts = [f"{method} {url} -> HTTP {status}"]
        if self.code:
            parts.append(f"[{self.code}]")
        parts.append(message)
        if self.request_id:
            parts.append(f"(request id {self.request_id})")
        super().__init__(" ".join(parts))


class BadRequestError(APIStatusError):
    """400 or 422: the request itself is wrong; retrying cannot help."""


class AuthenticationError(APIStatusError):
    """401 or 412: the access key, the signature, the token or the clock (a timestamp over 15 min off)."""


class PermissionDeniedError(APIStatusError):
    """403: the credentials are valid but may not do this."""


class NotFoundError(APIStatusError):
    """404: no such resource (the gateway's Spring-style 404 for an unauthenticated request is a
    ``GatewayRejectedError`` instead; the live API's 400 "not found" is an ``IdNotFoundError``, a subclass)."""


class ConflictError(APIStatusError):
    """409: the resource is busy or the name is taken."""


class ThrottledError(APIStatusError):
    """429: too many requests; ``retry_after`` holds the server's hint in seconds, if it gave one."""


class IdNotFoundError(NotFoundError):
    """400 whose body says the id is unknown: how the live API answers an unknown or malformed id on its GETs.

    A ``NotFoundError`` by meaning (``status`` stays 400), so code waiting for a resource to be gone treats it as
    the API's not-found, and nobody is told to fix a request that was well formed.
    """


class GatewayRejectedError(APIStatusError):
    """404 in Spring's shape (``{timestamp, path, status, error, requestId}``): SCP's gateway refused the request.

    The gateway answers an unauthenticated request this way on every SCP service, so it almost always means the
    credentials (or the endpoint) are wrong. It is NOT a ``NotFoundError``: the resource may well exist.
    """


class UnsupportedVersionError(APIStatusError):
    """406 ``NoSuchVersion``: the server does not offer this operation at the ``Scp-Api-Version`` sent.

    ``operation`` and ``api_version`` say what was sent; choose another version with
    ``DataOpsClient(api_versions={operation: "X.Y"})`` or ``with client.api_versions(operation="X.Y"):``.
    """

    def __init__(self, message: str, *, operation: str = "", api_version: str = "", **kwargs: Any) -> None:
        self.operation = operation
        self.api_version = api_version
        super().__init__(message, **kwargs)


class RequestRejectedError(ThrottledError):
    """417 with the platform edge's HTML "Request Rejected" page: a burst was blocked before reaching the API.

    Throttling: retried like a 429, and never taken for a change that may have landed.
    """


class ServerError(APIStatusError):
    """5xx or 408: the server or a proxy in front of it failed; safe methods are retried."""


class TransportError(DataOpsError):
    """No usable HTTP answer arrived."""

    def __init__(self, message: str, *, method: str, url: str, secrets: Secrets = NO_SECRETS) -> None:
        self.method = method
        self.url = url
        super().__init__(f"{method} {url}: {mask_text(message, secrets)}")


class ConnectError(TransportError):
    """The connection could not be made, or it dropped before a whole answer arrived."""


class RequestTimeoutError(TransportError):
    """A timeout ran out: one of an attempt's ``Timeouts`` or ``RetryPolicy.total_deadline``; the message says which."""


#: The first name of ``RequestTimeoutError``, kept for one release.
TimeoutError_ = RequestTimeoutError


class ResponseShapeError(DataOpsError):
    """An answer does not fit the model; ``path`` names the field, e.g. ``$.contents[3].state``."""

    def __init__(self, message: str, *, path: str = "$", body: str = "", secrets: Secrets = NO_SECRETS) -> None:
        self.path = path
        self.problem = message = mask_text(message, secrets)
        self.body = redact_body(body, secrets)
        super().__init__(f"field {path}: {message}")


class WaitError(DataOpsError):
    """A wait for a settled state ended without success; carries what was last seen."""

    def __init__(
        self,
        message: str,
        *,
        resource_id: str,
        last_state: str | None,
        last_body: Any = None,
        elapsed: float,
        polls: int,
        cause: BaseException | None = None,
    ) -> None:
        self.resource_id = resource_id
        self.last_state = last_state
        self.last_body = last_body
        self.elapsed = elapsed
        self.polls = polls
        self.cause = cause
        super().__init__(
            f"{resource_id}: {message} (last state {last_state!r}, {plural(polls, 'poll')} in {elapsed:.1f}s)"
        )


class WaitEndedError(WaitError):
    """The resource reached a terminal state that is neither success nor failure (STOPPED, UNDEPLOYED, and
    TERMINATED/DELETED while waiting for anything but a delete): it will not settle, so the wait ends at once.
    """

    @property
    def final_state(self) -> str | None:
        """The terminal state the resource reached (also ``last_state``)."""
        return self.last_state


class WaitFailedError(WaitError):
    """The resource reached a failure state such as ERROR or FAILED."""


class WaitTimeoutError(WaitError):
    """The wait's deadline passed before the resource settled."""


class WaitVanishedError(WaitError):
    """The resource answered 404 more times in a row than the policy tolerates."""


class WaitTransientError(WaitError):
    """Polling met more transient errors in a row than the policy tolerates."""
