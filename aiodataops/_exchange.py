"""One attempt of a request on the wire: send it through aiohttp, read the answer within its size limit, and say
how it ended (the 2xx ``Answer``, or a ``Failure`` with what the retry decision needs); ``_transport`` decides what
happens next (retries, deadlines, the adaptive limit). Split from ``_transport`` to keep each module small.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import aiohttp
import attrs

from aiodataops._errors import RequestTimeoutError
from aiodataops._failures import (
    THROTTLE_STATUSES,
    AttemptSetup,
    Failure,
    Progress,
    classify,
    retry_after_of,
    too_large,
)
from aiodataops._http_errors import error_from_response
from aiodataops._masking import secrets_in_body
from aiodataops._wire import loads

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp import ClientResponse
    from multidict import CIMultiDict
    from yarl import URL

    from aiodataops._proxy import Proxy
    from aiodataops._retry import RetryPolicy
    from aiodataops._timeouts import Timeouts

__all__ = ["LOGGED_HEADERS", "Answer", "Call", "Exchanges", "loggable"]

logger: Final = logging.getLogger("aiodataops.transport")

#: The only headers that may appear in a log line (lower case): nothing secret or secret-derived.
LOGGED_HEADERS: Final = frozenset(
    {
        "accept",
        "accept-language",
        "content-length",
        "content-type",
        "content-encoding",
        "date",
        "location",
        "retry-after",
        "scp-api-version",
        "scp-clienttype",
        "scp-timestamp",
        "server",
        "user-agent",
        "x-request-id",
        "x-correlation-id",
        "request-id",
        "x-trace-id",
    }
)


class Answer(NamedTuple):
    """A successful (2xx) answer: status, headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON; ``None`` for an empty body."""
        body = self.body
        # isspace() instead of strip(): the same test (ASCII whitespace), without copying the body.
        return loads(body) if body and not body.isspace() else None


def loggable(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() in LOGGED_HEADERS}


class Call:
    """What every attempt of one request shares (one object, instead of a dozen arguments per attempt)."""

    __slots__ = ("body", "debug", "headers", "method", "operation", "url", "url_text", "version")

    def __init__(
        self,
        method: str,
        *,
        url: URL,
        url_text: str,
        body: bytes | None,
        headers: CIMultiDict[str],
        operation: str,
        version: str,
        debug: bool,
    ) -> None:
        self.method = method
        self.url = url
        self.url_text = url_text
        self.body = body
        self.headers = headers
        self.operation = operation
        self.version = version
        self.debug = debug


class Exchanges:
    """The attempt and the reading of its answer, for ``Transport`` (which sets these attributes)."""

    retry: RetryPolicy
    timeouts: Timeouts
    max_response_size: int
    proxy: Proxy | None
    _max_redirects: int
    _proxy_headers: Mapping[str, str] | None

    @property
    def _setup(self) -> AttemptSetup:
        """What telling a failure apart needs of this transport (built only when an attempt fails)."""
        return AttemptSetup(
            retry=self.retry, timeouts=self.timeouts, max_redirects=self._max_redirects, proxy=self.proxy
        )

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        call: Call,
        attempt: int,
        progress: Progress,
        time_left: float | None,
    ) -> Answer | Failure:
        """Make one attempt; return the 2xx answer, or the failure with what the retry decision needs.

        ``time_left`` is what remains of the request deadline: when it is shorter than ``Timeouts.total`` it becomes
        this attempt's total timeout (aiohttp's own timer: no cost when the deadline is far), and running out is a
        ``Failure`` marked ``deadline``.
        """
        method, url_text, body, debug = call.method, call.url_text, call.body, call.debug
        started = time.perf_counter() if debug else 0.0
        timeout = session.timeout
        per_attempt = timeout.total
        deadline_binds = time_left is not None and (per_attempt is None or time_left < per_attempt)
        if deadline_binds:
            timeout = attrs.evolve(timeout, total=max(time_left or 0.0, 0.001))
        try:
            async with session.request(
                method,
                call.url,
                data=body,
                headers=call.headers,
                allow_redirects=True,
                max_redirects=self._max_redirects,
                proxy_headers=self._proxy_headers,
                timeout=timeout,
            ) as response:
                progress.response = response
                status = response.status
                data = await self._read(response, method, url_text)
                if debug:
                    logger.debug(
                        "answer %s %s %s -> %d in %.1f ms (attempt %d) headers=%s",
                        call.operation,
                        method,
                        url_text,
                        status,
                        (time.perf_counter() - started) * 1000,
                        attempt + 1,
                        loggable(response.headers),
                    )
                if 200 <= status < 300:  # noqa: PLR2004 -- the success family
                    return Answer(status, response.headers, data)
                retryable = status in self.retry.retryable_statuses
                # A 429 (or the edge's 417 "Request Rejected", throttling too) carries its hint even when not retried.
                retry_after = retry_after_of(response.headers) if retryable or status in THROTTLE_STATUSES else None
                error = error_from_response(
                    status=status,
                    reason=response.reason,
                    method=method,
                    url=url_text,
                    headers=response.headers,
                    body=data,
                    retry_after=retry_after,
                    operation=call.operation,
                    api_version=call.version,
                    # The passwords this request carried: masked wherever the server repeats them.
                    secrets=secrets_in_body(body),
                )
                return Failure(error, never_sent=False, timeout=False, retryable=retryable, retry_after=retry_after)
        except aiohttp.ClientError as exc:
            return classify(exc, method, url_text, secrets_in_body(body), self._setup)
        except TimeoutError as exc:
            # aiohttp's total timeout for the attempt: the request may have been received.
            if deadline_binds:  # the request deadline, not Timeouts.total, set this attempt's total
                return Failure(exc, never_sent=False, timeout=True, retryable=False, deadline=True)
            return Failure(
                RequestTimeoutError(
                    f"no complete answer within {self.timeouts.total:g}s (Timeouts.total, one attempt)",
                    method=method,
                    url=url_text,
                ),
                never_sent=False,
                timeout=True,
                retryable=self.retry.retry_timeouts,
            )

    async def _read(self, response: ClientResponse, method: str, url: str) -> bytes:
        """Read the whole body, refusing one over ``max_response_size`` without reading the rest."""
        limit = self.max_response_size
        length = response.content_length
        encoding = response.headers.get("Content-Encoding")
        if length is not None and length > limit:
            response.close()
            raise too_large(limit, method, url, length, encoding)
        if length is not None and encoding is None:
            return await response.read()
        # Unknown or compressed length: count the decoded bytes as they arrive.
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.content.iter_any():
            total += len(chunk)
            if total > limit:
                response.close()
                raise too_large(limit, method, url, None, encoding)
            chunks.append(chunk)
        return b"".join(chunks)
