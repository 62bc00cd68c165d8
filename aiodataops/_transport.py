"""The HTTP layer: one aiohttp session, signing in a client middleware, retries, size limits and error mapping.

How one request travels:

1. ``request()`` builds the URL once, already percent-encoded (query keys sorted, values form-encoded as SCP's Go
   SDK does), and hands aiohttp a ``yarl.URL(..., encoded=True)`` so nothing re-encodes it on the way.
   It carries the ``Scp-Api-Version`` of its operation: the documented one (``_signing.API_VERSIONS``), unless the
   client's ``api_versions`` or a ``using_api_versions`` block names another; a 406 says which one was refused.
2. The signing middleware runs for every attempt *and* every redirect hop: it signs ``str(request.url)``, the URL
   aiohttp is about to put on the wire, with a fresh timestamp.
3. Redirects are followed only within the endpoint's origin (scheme, host, port). A hop to any other origin is
   refused by the middleware before anything is sent (a ``TransportError``): credentials, the signature and the
   body (which may hold ``account_password``) never go to a host the user did not configure, and an https to http
   downgrade counts as another origin.
4. The answer is read with a size limit (``ResponseShapeError`` "too large" without reading the rest), counted
   after decompression, so a small gzip body that inflates past it is named as such; a compressed body that cannot
   be inflated (corrupt, or a bomb of many gzip members) is a ``ResponseShapeError`` too, never a "dropped
   connection", and neither is retried. 2xx is returned, anything else becomes the typed error of ``_http_errors``.
5. Retries: 408/417/429/500/502/503/504, dropped connections and timeouts are retried for idempotent requests
   (GET, PUT, DELETE, and POSTs the caller marks idempotent); any request, POST included, is retried when it
   provably never left (the connection could not be made, or no pooled connection was free in time). Waits are
   full-jitter exponential or the server's ``Retry-After`` (capped), slept through the injected ``Clock``, and
   every retry spends from the client's shared ``RetryBudget``.
6. Deadlines: each attempt is bounded by ``Timeouts`` (connect, a stalled read, the whole answer), and the whole
   request, attempts and waits, by ``RetryPolicy.total_deadline``. The error says which one ran out: the setting's
   name, and for the deadline the attempt it cut, what that attempt was waiting for (no status line yet, or a body
   still trickling in, with the bytes received) and how the attempt before it failed.

One attempt and the reading of its answer (4, and the mapping to a ``Failure``) are ``_exchange``'s; the read
timeout's timer is ``_read_timer``'s.

Logging goes to ``aiodataops.transport`` at DEBUG, with headers from an allow-list only: the signature, the access
key, the token and bodies never reach a log line. Nothing is formatted unless DEBUG is enabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import platform
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final, Self

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from aiodataops._clock import Clock, SystemClock
from aiodataops._config import make_ssl_context, normalise_endpoint
from aiodataops._errors import (
    ConfigurationError,
    TransportError,
)
from aiodataops._exchange import LOGGED_HEADERS, Answer, Call, Exchanges, loggable
from aiodataops._failures import (
    Deadline,
    Failure,
    Progress,
    deadline_error,
    is_throttle,
)
from aiodataops._limiter import DEFAULT_MAX_CONCURRENCY, AdaptiveLimiter
from aiodataops._read_timer import install as install_read_timer
from aiodataops._retry import RetryBudget, RetryPolicy
from aiodataops._signing import (
    CLIENT_TYPE,
    Credentials,
    api_version_for,
    api_version_header,
    check_api_versions,
    now_ms,
    sign,
)
from aiodataops._timeouts import Timeouts
from aiodataops._urls import encode_query

if TYPE_CHECKING:
    import os
    import random
    import ssl
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import TracebackType

    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

    from aiodataops._proxy import Proxy

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "LOGGED_HEADERS",
    "Answer",
    "Transport",
    "using_api_versions",
]

logger: Final = logging.getLogger("aiodataops.transport")

DEFAULT_MAX_RESPONSE_SIZE: Final = 10 * 1024 * 1024

_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_JSON_HEADERS: Final = CIMultiDict({"Content-Type": "application/json"})
_USER_AGENT: Final = (
    f"aiodataops/{importlib.metadata.version('aiodataops')} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)
#: Per-operation API versions for the calls made inside ``using_api_versions`` (in this task and its children).
_CALL_VERSIONS: Final[ContextVar[Mapping[str, str] | None]] = ContextVar("aiodataops_api_versions", default=None)


@contextlib.contextmanager
def using_api_versions(**versions: str) -> Iterator[None]:
    """Send the named operations at these API versions for the calls made inside the block.

    ``with using_api_versions(create_service="1.3"): await client.services.create(...)``; it takes precedence over
    the client's ``api_versions`` and the documented table (``aiodataops._signing.API_VERSIONS``).
    """
    checked = check_api_versions(versions, where="api_versions")
    token = _CALL_VERSIONS.set({**(_CALL_VERSIONS.get() or {}), **checked})
    try:
        yield
    finally:
        _CALL_VERSIONS.reset(token)


#: Paths whose URL is kept (text and ``yarl.URL``): a fleet reads each service many times. Past this many the cache
#: starts again, so that it never grows with the fleet.
_URL_CACHE_SIZE: Final = 4096


class Transport(Exchanges):
    """Signed, retried HTTP to one Data Ops endpoint; an async context manager owning one ``ClientSession``."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        # As large as the adaptive limit's cap: the pool bounds that limit (past it requests would queue for a
        # connection where the limiter cannot see them), and aiohttp opens connections only as requests need them.
        concurrency: int = DEFAULT_MAX_CONCURRENCY,
        accept_language: str = "en-US",
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        clock: Clock | None = None,
        ssl: ssl.SSLContext | str | os.PathLike[str] | bool | None = None,
        allow_insecure_http: bool = False,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        max_redirects: int = 5,
        rng: random.Random | None = None,
        wall_clock: Callable[[], int] | None = None,
        api_versions: Mapping[str, str] | None = None,
        proxy: Proxy | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError(f"concurrency: must be at least 1, got {concurrency!r}")
        if max_response_size < 1:
            raise ConfigurationError(f"max_response_size: must be at least 1 byte, got {max_response_size!r}")
        self.endpoint = normalise_endpoint(endpoint, allow_insecure_http=allow_insecure_http)
        self._base_url = URL(self.endpoint)
        self._scheme = self._base_url.scheme
        self._host_port = self._base_url.host_port_subcomponent
        self._credentials = credentials
        self._accept_language = accept_language
        self.concurrency = concurrency
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.retry_budget = retry_budget or RetryBudget()
        self.clock: Clock = clock or SystemClock()
        # Signing needs the wall clock (epoch milliseconds, checked by the server), which ``clock`` (monotonic,
        # for waits) is not; injectable so that tests can sign as a skewed machine would.
        self._wall_clock: Callable[[], int] = wall_clock or now_ms
        self._ssl = make_ssl_context(ssl)
        self.max_response_size = max_response_size
        self._max_redirects = max_redirects
        self._rng = rng
        try:
            #: Per-operation API versions that replace the documented ones for every call of this transport.
            self.api_versions: Mapping[str, str] = check_api_versions(api_versions or {}, where="api_versions")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.proxy = proxy  # resolved once (aiodataops._proxy): the session sends every request through it
        # The proxy's credentials go on the CONNECT of an https tunnel, or on each request to an http endpoint (the
        # proxy reads them from the request it forwards); never logged (not in LOGGED_HEADERS).
        credentials_header = {"Proxy-Authorization": proxy.authorization} if proxy and proxy.authorization else None
        self._proxy_headers = credentials_header if self._scheme == "https" else None
        self._plain_headers = CIMultiDict(credentials_header) if credentials_header and self._scheme == "http" else None
        self._trace_configs = list(trace_configs)
        #: The adaptive concurrency limit every attempt passes through, once ``adaptive_limiter()`` made it.
        self.limiter: AdaptiveLimiter | None = None
        #: Attempts the server throttled (429, 417, 503 with ``Retry-After``), since the transport was made.
        self.throttled_requests = 0
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop that opened the session, the only one it serves
        # Per request, built once and reused (aiohttp copies headers into each request, and a URL is immutable).
        self._urls: dict[str, tuple[str, URL]] = {}
        self._header_sets: dict[tuple[str, bool], CIMultiDict[str]] = {}

    def __repr__(self) -> str:
        via = f", proxy={self.proxy.display!r}" if self.proxy is not None else ""
        return f"Transport(endpoint={self.endpoint!r}, credentials={self._credentials!r}{via})"

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Create the session (needs a running event loop); opening twice is an error."""
        if self._session is not None:
            raise RuntimeError("the transport is already open")
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0, ssl=self._ssl)
        install_read_timer(connector)  # Timeouts.read without a timer handle per chunk (``_read_timer``)
        static = {
            "Accept": "application/json",
            "Accept-Language": self._accept_language,
            "Scp-ClientType": CLIENT_TYPE,
            "User-Agent": _USER_AGENT,
        }
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeouts.to_aiohttp(),
            headers=static,
            middlewares=(self._sign,),
            cookie_jar=aiohttp.DummyCookieJar(),  # an API client has no use for cookies; skipping them is cheaper
            raise_for_status=False,
            # The proxy was resolved once, from proxy= or the environment (aiodataops._proxy); trust_env=True would
            # look it up again on every request, in a thread.
            trust_env=False,
            proxy=self.proxy.url if self.proxy is not None else None,
            trace_configs=self._trace_configs or None,
        )
        if self.proxy is not None and logger.isEnabledFor(logging.DEBUG):
            logger.debug("requests to %s go through %s (%s)", self.endpoint, self.proxy.display, self.proxy.source)
        if hasattr(self._session, "_retry_connection"):
            # aiohttp re-sends an idempotent request once, at once, when its connection drops; that hidden attempt
            # would bypass the policy's backoff, attempt count and shared budget, so every re-send goes through ours.
            self._session._retry_connection = False  # noqa: SLF001 -- no public switch exists (aiohttp 3.14)
        self._loop = asyncio.get_running_loop()

    def adaptive_limiter(self, max_concurrency: int | None = None) -> AdaptiveLimiter:
        """The client's one adaptive limit (``aiodataops._limiter``), made on first use; from then on every attempt
        of this transport (PUTs, polls, listings) waits for a slot in it.

        Its cap is ``max_concurrency`` (default 256), and never above the connection pool (``concurrency``): past
        the pool, requests would queue for a connection where the limiter cannot see them. A later call with another
        cap changes the cap of the same limiter; without one, it leaves the cap as it is.
        """
        limiter = self.limiter
        if max_concurrency is None:
            if limiter is not None:
                return limiter
            max_concurrency = DEFAULT_MAX_CONCURRENCY
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency: must be at least 1, got {max_concurrency!r}")
        cap = min(max_concurrency, self.concurrency)
        if limiter is None:
            limiter = self.limiter = AdaptiveLimiter(self.clock, max_limit=cap, initial=min(4, cap))
        elif limiter.max_limit != cap:
            limiter.max_limit = cap
            limiter.limit = min(limiter.limit, float(cap))
        return limiter

    async def aclose(self) -> None:
        """Close the session and its connections; closing twice is harmless."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- signing middleware -------------------------------------------------------------------------------------

    async def _sign(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Sign exactly the URL about to be sent, with a fresh timestamp, on every attempt and redirect hop."""
        url = request.url
        if url.scheme != self._scheme or url.host_port_subcomponent != self._host_port:
            # A redirect to another origin: the request would carry our headers and body there. Refuse.
            raise TransportError(
                f"refusing to follow a redirect to another origin ({url.scheme}://{url.host_port_subcomponent})",
                method=request.method,
                url=str(url.with_query(None)),
            )
        credentials = self._credentials
        url_text = str(url)
        timestamp = self._wall_clock()
        headers = request.headers
        # The session's static headers dropped on a cross-origin hop never apply here: that hop is refused above.
        # Set here, not as a session default: aiohttp sends the session's defaults on a proxy's CONNECT too.
        headers["Scp-Accesskey"] = credentials.access_key
        headers["Scp-Timestamp"] = str(timestamp)
        headers["Scp-Signature"] = sign(request.method, url_text, timestamp, credentials)
        if credentials.auth_token:
            headers["X-Auth-Token"] = credentials.auth_token
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("send %s %s headers=%s", request.method, url_text, loggable(headers))
        return await handler(request)

    # -- requests -----------------------------------------------------------------------------------------------

    def url_for(self, path: str, params: Mapping[str, str | int | bool | None] | None = None) -> str:
        """Return the absolute, encoded URL of ``path`` (already encoded) with ``params``."""
        query = encode_query(params) if params else ""
        return f"{self.endpoint}{path}?{query}" if query else f"{self.endpoint}{path}"

    def _headers(self, version: str, *, has_body: bool) -> CIMultiDict[str]:
        """The per-request headers: the operation's API version (the creates are documented at 1.2 only), JSON's
        when there is a body, and a plain-http proxy's credentials (an https proxy gets them on its CONNECT).

        Made once per version and kind, and shared: aiohttp copies them into each request it builds (the signing
        middleware writes to that copy), and nothing here changes them.
        """
        key = (version, has_body)
        headers = self._header_sets.get(key)
        if headers is None:
            headers = CIMultiDict({"Scp-Api-Version": api_version_header(version)})
            if has_body:
                headers.update(_JSON_HEADERS)
            if self._plain_headers:
                headers.update(self._plain_headers)
            self._header_sets[key] = headers
        return headers

    def _url(self, path: str, params: Mapping[str, str | int | bool | None] | None) -> tuple[str, URL]:
        """The URL of a request as text (for signing, errors and logs) and as the ``yarl.URL`` aiohttp is given."""
        if params:
            text = self.url_for(path, params)
            return text, URL(text, encoded=True)
        cached = self._urls.get(path)
        if cached is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            text = f"{self.endpoint}{path}"
            cached = self._urls[path] = (text, URL(text, encoded=True))
        return cached

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool | None] | None = None,
        body: bytes | None = None,
        idempotent: bool | None = None,
        operation: str = "",
    ) -> Answer:
        """Send one logical request (retrying as the policy allows) and return its 2xx answer.

        ``path`` is already percent-encoded (see ``encode_path``). ``idempotent`` defaults to the method's
        semantics; pass ``True`` for a POST that only checks something. Raises the typed errors of ``_errors``.
        """
        session = self._session
        if session is None:
            raise RuntimeError("the client is not open: use `async with DataOpsClient(...) as client:`")
        if asyncio.get_running_loop() is not self._loop:
            # aiohttp would fail with "Timeout context manager should be used inside a task".
            raise ConfigurationError(
                "this client was opened on another event loop; a client serves only the loop that opened it: "
                "open one client per event loop (per thread, or per asyncio.run/anyio.run call)"
            )
        url_text, url = self._url(path, params)
        method = method.upper()
        version = api_version_for(operation, _CALL_VERSIONS.get(), self.api_versions)
        debug = logger.isEnabledFor(logging.DEBUG)
        call = Call(
            method,
            url=url,
            url_text=url_text,
            body=body,
            headers=self._headers(version, has_body=body is not None),
            operation=operation,
            version=version,
            debug=debug,
        )
        retry_sent = (method in _IDEMPOTENT_METHODS) if idempotent is None else idempotent
        total_deadline = self.retry.total_deadline
        deadline = None if total_deadline is None else Deadline(total_deadline)
        spent = 0
        attempt = 0
        failures: list[Failure] = []
        while True:
            progress = Progress()
            time_left = None if deadline is None else deadline.remaining()
            if self.limiter is None:
                # Without an adaptive limit, straight to the attempt: one coroutine less on every await of it.
                outcome = await self._attempt(session, call, attempt, progress, time_left)
                if not isinstance(outcome, Answer) and is_throttle(outcome):
                    self.throttled_requests += 1
            else:
                outcome = await self._paced_attempt(session, call, attempt, progress, time_left)
            if isinstance(outcome, Failure) and outcome.deadline and deadline is not None:
                raise deadline_error(
                    deadline, method, url_text, attempt=attempt, progress=progress, failures=failures
                ) from (failures[-1].error if failures else None)
            if isinstance(outcome, Answer):
                self.retry_budget.refund(spent)
                return outcome
            failures.append(outcome)
            delay, cost = self._next_wait(outcome, attempt, retry_sent=retry_sent, deadline=deadline)
            spent += cost
            if debug:
                logger.debug(
                    "retry %s %s in %.3fs after attempt %d: %s", method, url_text, delay, attempt + 1, outcome.error
                )
            if deadline is None:
                await self.clock.sleep(delay)
            else:
                await deadline.sleep(self.clock, delay)
            attempt += 1

    def _next_wait(
        self, outcome: Failure, attempt: int, *, retry_sent: bool, deadline: Deadline | None
    ) -> tuple[float, int]:
        """The wait before the next attempt and the budget it spent; raises the failure's error when not retrying.

        Not retried: a failure the policy does not retry, the last attempt, a wait that would end past the request
        deadline (the error gets a note saying so), an empty retry budget.
        """
        policy = self.retry
        if not (outcome.retryable and (retry_sent or outcome.never_sent) and attempt + 1 < policy.max_attempts):
            raise outcome.error
        delay = policy.delay(attempt, outcome.retry_after, self._rng)
        if deadline is not None and delay >= deadline.remaining():
            note = (
                f"not retried: the wait of {delay:.3g}s before attempt {attempt + 2} would pass the request "
                f"deadline of {policy.total_deadline:g}s (RetryPolicy.total_deadline)"
            )
            logger.debug("%s", note)
            outcome.error.add_note(note)
            raise outcome.error
        cost = self.retry_budget.try_spend(timeout=outcome.timeout)
        if cost is None:
            logger.debug("retry budget exhausted: not retrying after %s", outcome.error)
            raise outcome.error
        return delay, cost

    async def _paced_attempt(
        self,
        session: aiohttp.ClientSession,
        call: Call,
        attempt: int,
        progress: Progress,
        time_left: float | None,
    ) -> Answer | Failure:
        """One attempt in a slot of the adaptive limit, telling it how the attempt ended."""
        limiter = self.limiter
        assert limiter is not None  # request() calls this only with a limit
        permit = await limiter.acquire()
        try:
            outcome = await self._attempt(session, call, attempt, progress, time_left)
        except BaseException:
            limiter.released(permit)
            raise
        if isinstance(outcome, Answer):
            limiter.succeeded(permit)
        elif is_throttle(outcome):
            self.throttled_requests += 1
            limiter.throttled_by_server(permit, outcome.retry_after)
        else:
            limiter.released(permit)
        return outcome
