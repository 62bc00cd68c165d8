"""What one failed attempt of a request was, told apart: a typed error, whether it may be retried, and the clocks.

``classify`` turns aiohttp's exceptions into a ``Failure`` (TLS, connect and pool time-outs, a stalled read, a
proxy's refusal, a dropped connection, a body that cannot be decompressed, ...); ``too_large`` and ``undecodable``
name answers the transport refuses to read; ``Deadline`` and ``Progress`` let the transport say what a request's
total deadline cut. The transport (``_transport``) decides with them whether and when to try again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final, NamedTuple

import aiohttp
import attrs
from aiohttp.http_exceptions import ContentEncodingError

from aiodataops._errors import ConnectError, RequestTimeoutError, ResponseShapeError, TransportError
from aiodataops._plural import plural
from aiodataops._proxy import Proxy
from aiodataops._retry import RetryPolicy, parse_retry_after
from aiodataops._timeouts import Timeouts

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp import ClientResponse

    from aiodataops._clock import Clock
    from aiodataops._masking import Secrets

__all__ = [
    "THROTTLE_STATUSES",
    "AttemptSetup",
    "Deadline",
    "Failure",
    "Progress",
    "classify",
    "deadline_error",
    "is_throttle",
    "retry_after_of",
    "too_large",
    "undecodable",
]

THROTTLE_STATUSES: Final = frozenset({417, 429})


@attrs.frozen
class AttemptSetup:
    """What telling failures apart needs of the transport: its policy, timeouts, redirect cap and proxy."""

    retry: RetryPolicy
    timeouts: Timeouts
    max_redirects: int
    proxy: Proxy | None


class Failure(NamedTuple):
    """A failed attempt and what the retry decision needs to know about it."""

    error: Exception
    never_sent: bool
    timeout: bool
    retryable: bool
    retry_after: float | None = None
    deadline: bool = False  # the request deadline ran out during this attempt


class Progress:
    """How far one attempt got, for saying what a deadline cut: its response, once the status line arrived."""

    __slots__ = ("response",)

    def __init__(self) -> None:
        self.response: ClientResponse | None = None


class Deadline:
    """The time left to one request: the event loop's time spent on its attempts, plus its waits as the injected
    ``Clock`` slept them (so a ``VirtualClock``'s instant waits still count for what they stand for)."""

    __slots__ = ("_credit", "_start", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._start = time.monotonic()
        self._credit = 0.0  # the waits' clock time minus the loop time they took (0 on the real clock)

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(self.seconds - (time.monotonic() - self._start + self._credit), 0.0)

    async def sleep(self, clock: Clock, delay: float) -> None:
        """Sleep ``delay`` on ``clock``, counting it as ``delay`` however long the event loop took."""
        started = time.monotonic()
        await clock.sleep(delay)
        self._credit += delay - (time.monotonic() - started)


def classify(  # noqa: PLR0911 -- one return per failure kind
    exc: aiohttp.ClientError, method: str, url: str, secrets: Secrets, setup: AttemptSetup
) -> Failure:
    """What an aiohttp exception means for one attempt: the typed error, and whether it may be retried."""
    policy = setup.retry
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        # Certificate and TLS failures do not heal by retrying.
        return Failure(
            ConnectError(f"TLS failed: {exc}", method=method, url=url, secrets=secrets),
            never_sent=True,
            timeout=False,
            retryable=False,
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        # Raised while waiting for a connection: nothing of this request was sent yet.
        return Failure(
            RequestTimeoutError(
                f"could not connect in time (Timeouts.connect, or Timeouts.pool waiting for a free connection): {exc}",
                method=method,
                url=url,
                secrets=secrets,
            ),
            never_sent=True,
            timeout=True,
            retryable=policy.retry_timeouts,
        )
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return Failure(
            RequestTimeoutError(
                f"the answer stalled: nothing arrived for {setup.timeouts.read:g}s (Timeouts.read)",
                method=method,
                url=url,
            ),
            never_sent=False,
            timeout=True,
            retryable=policy.retry_timeouts,
        )
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return proxy_failure(exc, method, url, setup)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure(
            ConnectError(f"could not connect: {exc.os_error or exc}", method=method, url=url, secrets=secrets),
            never_sent=True,
            timeout=False,
            retryable=policy.retry_connection_errors,
        )
    if isinstance(exc, aiohttp.TooManyRedirects):
        return Failure(
            TransportError(f"more than {plural(setup.max_redirects, 'redirect')}", method=method, url=url),
            never_sent=False,
            timeout=False,
            retryable=False,
        )
    if (shape_error := undecodable(exc, method, url)) is not None:
        # Not a dropped connection: the bytes arrived and cannot be inflated (a decompression bomb of many gzip
        # members, or a corrupt body); the server would send the same again, so it is not retried.
        return Failure(shape_error, never_sent=False, timeout=False, retryable=False)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return Failure(
            ConnectError(
                f"the connection dropped: {type(exc).__name__} {exc}".rstrip(),
                method=method,
                url=url,
                secrets=secrets,
            ),
            never_sent=False,
            timeout=False,
            retryable=policy.retry_connection_errors,
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        return Failure(
            ConnectError(f"not a valid HTTP answer: {exc.message}", method=method, url=url, secrets=secrets),
            never_sent=False,
            timeout=False,
            retryable=policy.retry_connection_errors,
        )
    return Failure(
        TransportError(f"{type(exc).__name__}: {exc}", method=method, url=url, secrets=secrets),
        never_sent=False,
        timeout=False,
        retryable=False,
    )


def proxy_failure(
    exc: aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError, method: str, url: str, setup: AttemptSetup
) -> Failure:
    """A proxy that could not be reached or refused the tunnel: nothing reached the API, the proxy named safely."""
    proxy = setup.proxy.display if setup.proxy is not None else "the proxy"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return Failure(
            ConnectError(f"could not connect to the proxy {proxy}: {exc.os_error or exc}", method=method, url=url),
            never_sent=True,
            timeout=False,
            retryable=setup.retry.retry_connection_errors,
        )
    wants_credentials = exc.status == 407  # noqa: PLR2004 -- Proxy Authentication Required
    hint = ""
    if wants_credentials:
        given = setup.proxy is not None and setup.proxy.authorization is not None
        hint = " (it refused the credentials given)" if given else " (give them: http://user:password@host:port)"
    refused = f"the proxy {proxy} refused the connection: {exc.status} {exc.message}{hint}"
    return Failure(
        ConnectError(refused, method=method, url=url),
        never_sent=True,
        timeout=False,
        retryable=exc.status in setup.retry.retryable_statuses,
    )


def is_throttle(failure: Failure) -> bool:
    """Whether the server said "slow down": 429, the edge's 417, or a 503 carrying ``Retry-After``."""
    status = getattr(failure.error, "status", None)
    return status in THROTTLE_STATUSES or (status == 503 and failure.retry_after is not None)  # noqa: PLR2004 -- Service Unavailable


def too_large(limit: int, method: str, url: str, length: int | None, encoding: str | None) -> ResponseShapeError:
    if length is not None:
        what = f"{length} bytes{f' ({encoding}-compressed)' if encoding else ''}"
    elif encoding:
        # A small compressed body that inflates past the cap: a decompression bomb, or just far too much data.
        what = f"its {encoding}-compressed body inflated past {limit} bytes and was abandoned"
    else:
        what = f"more than {limit} bytes"
    return ResponseShapeError(
        f"answer to {method} {url} too large: {what}, over the limit of {limit} bytes "
        "(max_response_size, the size cap); not retried"
    )


def undecodable(exc: BaseException, method: str, url: str) -> ResponseShapeError | None:
    """The error for an answer whose ``Content-Encoding`` could not be decoded, or ``None`` for any other failure."""
    seen: BaseException | None = exc
    encoding_error: BaseException | None = None
    depth = 0
    while seen is not None and depth < 8:  # noqa: PLR2004 -- aiohttp chains three; a bound, not a meaning
        if isinstance(seen, ContentEncodingError):
            encoding_error = seen
        elif encoding_error is not None and "members" in str(seen):
            # aiohttp refuses a gzip/zstd stream of over 1024 members: a decompression bomb's usual shape.
            return ResponseShapeError(
                f"answer to {method} {url} refused: its compressed body is a decompression bomb ({seen}); not retried"
            )
        seen = seen.__cause__ or seen.__context__
        depth += 1
    if encoding_error is None:
        return None
    return ResponseShapeError(
        f"answer to {method} {url} could not be decompressed (corrupt or not what its Content-Encoding says: "
        f"{getattr(encoding_error, 'message', encoding_error)}); not retried"
    )


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    millis = headers.get("retry-after-ms")
    if millis:
        parsed = parse_retry_after(millis)
        if parsed is not None:
            return parsed / 1000.0
    return parse_retry_after(headers.get("retry-after"))


def deadline_error(
    deadline: Deadline, method: str, url: str, *, attempt: int, progress: Progress, failures: list[Failure]
) -> RequestTimeoutError:
    """Say that the request ``deadline`` cut attempt ``attempt`` (0-based), what it was waiting for,
    and how the attempt before it failed."""
    response = progress.response
    if response is None:
        doing = "had no answer yet (connecting, sending, or waiting for the status line)"
    else:
        received = response.content.total_bytes
        doing = (
            f"had received HTTP {response.status} and {received} bytes of its body, still arriving (a trickling answer)"
            if received
            else f"had received HTTP {response.status} and was waiting for its body"
        )
    message = (
        f"no answer within the request deadline of {deadline.seconds:g}s "
        f"(RetryPolicy.total_deadline) across {attempt + 1} attempt{'s' if attempt else ''}: "
        f"attempt {attempt + 1} {doing}"
    )
    if failures:
        before = str(failures[-1].error).removeprefix(f"{method} {url}: ")
        message += f"; attempt {attempt} failed with: {before}"
    return RequestTimeoutError(message, method=method, url=url)
