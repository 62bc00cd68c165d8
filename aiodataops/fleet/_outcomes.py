"""How an exception becomes a report line: its ``ErrorKind``, HTTP status and message, and its ``Outcome``."""

from __future__ import annotations

from aiodataops._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ResponseShapeError,
    ServerError,
    ThrottledError,
    TransportError,
    WaitFailedError,
    WaitTimeoutError,
    WaitTransientError,
    WaitVanishedError,
)
from aiodataops._waiting import WaitEndedError
from aiodataops.fleet._report import ErrorInfo, ErrorKind, Outcome

__all__ = ["error_info", "outcome_of"]

# Most specific first: the first class an exception is an instance of names its kind.
_KINDS: tuple[tuple[type[BaseException], ErrorKind], ...] = (
    (WaitFailedError, ErrorKind.WAIT_FAILED),
    (WaitEndedError, ErrorKind.WAIT_ENDED),
    (WaitTimeoutError, ErrorKind.WAIT_TIMEOUT),
    (WaitVanishedError, ErrorKind.VANISHED),
    (WaitTransientError, ErrorKind.WAIT_TRANSIENT),
    (BadRequestError, ErrorKind.BAD_REQUEST),
    (AuthenticationError, ErrorKind.AUTHENTICATION),
    (PermissionDeniedError, ErrorKind.PERMISSION_DENIED),
    (NotFoundError, ErrorKind.NOT_FOUND),
    (ConflictError, ErrorKind.CONFLICT),
    (ThrottledError, ErrorKind.THROTTLED),
    (ServerError, ErrorKind.SERVER_ERROR),
    (APIStatusError, ErrorKind.HTTP_ERROR),
    (ConnectError, ErrorKind.CONNECT),
    (RequestTimeoutError, ErrorKind.TIMEOUT),
    (TransportError, ErrorKind.TRANSPORT),
    (ResponseShapeError, ErrorKind.RESPONSE_SHAPE),
)


def error_info(exc: BaseException) -> ErrorInfo:
    """A report's summary of an exception: a short kind, the HTTP status if any, and the message."""
    kind = next((name for cls, name in _KINDS if isinstance(exc, cls)), ErrorKind.INTERNAL)
    status = exc.status if isinstance(exc, APIStatusError) else None
    return ErrorInfo(kind=kind, message=str(exc) or type(exc).__name__, status=status)


def outcome_of(exc: BaseException) -> Outcome:
    """``timed_out`` for a wait that ran out of time, ``failed`` for anything else (an ended state included)."""
    return Outcome.TIMED_OUT if isinstance(exc, WaitTimeoutError) else Outcome.FAILED
