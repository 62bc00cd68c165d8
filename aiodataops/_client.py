"""``DataOpsClient``: the one object a user holds; owns the transport and hands out the resources.

```python
async with DataOpsClient.from_env() as client:
    service = await client.services.get("DOPS_SERVICE-...")
```

The client is an async context manager because its ``aiohttp.ClientSession`` needs a running event loop; it is
cheap to build (nothing is connected before ``__aenter__``) and holds one connection pool sized from
``concurrency``. One client serves any number of concurrent tasks: share it, do not build one per request. It runs
on asyncio only (aiohttp does), and on the event loop that opened it: entering it under trio, or using it from
another event loop, is a clear ``ConfigurationError`` rather than an error from deep inside aiohttp.
"""

from __future__ import annotations

import asyncio
import functools
import os
import warnings
from typing import TYPE_CHECKING, Self

from aiodataops._clock import Clock, SystemClock
from aiodataops._config import resolve_settings
from aiodataops._data_ops import DataOpsResource
from aiodataops._errors import ConfigurationError
from aiodataops._limiter import DEFAULT_MAX_CONCURRENCY
from aiodataops._polling import PollPolicy
from aiodataops._proxy import FROM_ENVIRONMENT, ProxySetting, resolve_proxy
from aiodataops._services import Services
from aiodataops._timeouts import Timeouts, as_timeouts
from aiodataops._transport import DEFAULT_MAX_RESPONSE_SIZE, Transport, using_api_versions

if TYPE_CHECKING:
    import contextlib
    import ssl as ssl_module
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

    import aiohttp

    from aiodataops._limiter import AdaptiveLimiter
    from aiodataops._retry import RetryBudget, RetryPolicy
    from aiodataops._signing import Credentials
    from aiodataops.fleet import Fleet

__all__ = ["DataOpsClient"]


class DataOpsClient:
    """An asyncio client for SCP Data Ops: ``client.services``, ``client.data_ops``, ``client.fleet``.

    ``endpoint`` is a base URL (or pass ``region=`` and ``env=``); ``credentials`` an access key pair. Every
    missing or contradictory setting is reported at once in one ``ConfigurationError``. ``concurrency`` sizes the
    connection pool (default 256, the cap of ``fleet.apply(concurrency="auto")``: connections are opened as requests
    need them, so a large pool costs nothing until used, and a smaller one would cap the adaptive limit; pass a
    number to bound every request of the client). ``timeout`` bounds one attempt (a number of seconds, or
    ``Timeouts`` phase by phase), ``retry`` and ``poll`` tune the transport's retries and the waits for a settled
    state; ``retry_budget`` can be shared between clients; ``clock`` is injectable for tests, and so is
    ``wall_clock``, the epoch milliseconds requests are signed with (default ``aiodataops._signing.now_ms``).
    ``ssl`` takes an ``SSLContext`` or a CA bundle path (verification is always on); plain ``http://`` is for
    loopback hosts unless ``allow_insecure_http=True``.
    ``proxy`` is a proxy URL (``http://user:password@proxy.corp:3128``) or ``None`` to connect directly; left out,
    ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` decide, once (``aiodataops._proxy``). ``trace_configs`` are
    ``aiohttp.TraceConfig``s given to the session: every attempt of every request passes through them
    (OpenTelemetry's aiohttp instrumentation is one).
    ``api_versions`` maps operation names to the API version to send them at instead of the documented one
    (``aiodataops._signing.API_VERSIONS``).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        credentials: Credentials | None = None,
        *,
        region: str | None = None,
        env: str | None = None,
        concurrency: int = DEFAULT_MAX_CONCURRENCY,
        accept_language: str = "en-US",
        timeout: Timeouts | float | None = None,
        retry: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        poll: PollPolicy | None = None,
        clock: Clock | None = None,
        ssl: ssl_module.SSLContext | str | os.PathLike[str] | None = None,
        allow_insecure_http: bool = False,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        wall_clock: Callable[[], int] | None = None,
        api_versions: Mapping[str, str] | None = None,
        proxy: ProxySetting = FROM_ENVIRONMENT,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        settings = resolve_settings(
            endpoint=endpoint,
            credentials=credentials,
            region=region,
            env=env,
            accept_language=accept_language,
            allow_insecure_http=allow_insecure_http,
            environ={},
        )
        self._clock: Clock = clock or SystemClock()
        self._poll = poll or PollPolicy()
        self._transport = Transport(
            settings.endpoint,
            settings.credentials,
            concurrency=concurrency,
            accept_language=settings.accept_language,
            timeouts=as_timeouts(timeout),
            retry=retry,
            retry_budget=retry_budget,
            clock=self._clock,
            ssl=ssl,
            allow_insecure_http=allow_insecure_http,
            max_response_size=max_response_size,
            wall_clock=wall_clock,
            api_versions=api_versions,
            proxy=resolve_proxy(settings.endpoint, proxy, environ=os.environ),
            trace_configs=trace_configs,
        )
        self.services = Services(self, self._transport)
        self.data_ops = DataOpsResource(self, self._transport)

    @classmethod
    def from_env(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        config_dir: str | os.PathLike[str] | None = None,
        endpoint: str | None = None,
        credentials: Credentials | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        auth_token: str | None = None,
        region: str | None = None,
        env: str | None = None,
        accept_language: str | None = None,
        allow_insecure_http: bool = False,
        concurrency: int = DEFAULT_MAX_CONCURRENCY,
        timeout: Timeouts | float | None = None,
        retry: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        poll: PollPolicy | None = None,
        clock: Clock | None = None,
        ssl: ssl_module.SSLContext | str | os.PathLike[str] | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        wall_clock: Callable[[], int] | None = None,
        proxy: ProxySetting = FROM_ENVIRONMENT,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        api_versions: Mapping[str, str] | None = None,
    ) -> DataOpsClient:
        """Build a client from arguments, else ``SCP_*`` environment variables, else SCP's files.

        Reads ``SCP_ACCESS_KEY``, ``SCP_SECRET_KEY``, ``SCP_AUTH_TOKEN`` (optional), ``SCP_DATAOPS_ENDPOINT`` or
        ``SCP_REGION`` + ``SCP_ENV``, and ``SCP_ACCEPT_LANGUAGE``; what they leave unset comes from
        ``credentials.json`` and ``config.json`` in ``config_dir``, ``$SCP_CONFIG_DIR`` or ``~/.scp``. ``environ``
        replaces the process environment (proxy variables and ``HOME`` included). The other arguments are the
        constructor's.
        """
        environ = os.environ if environ is None else environ
        settings = resolve_settings(
            endpoint=endpoint,
            credentials=credentials,
            access_key=access_key,
            secret_key=secret_key,
            auth_token=auth_token,
            region=region,
            env=env,
            accept_language=accept_language,
            allow_insecure_http=allow_insecure_http,
            environ=environ,
            config_dir=config_dir,
        )
        return cls(
            settings.endpoint,
            settings.credentials,
            accept_language=settings.accept_language,
            allow_insecure_http=allow_insecure_http,
            concurrency=concurrency,
            timeout=timeout,
            retry=retry,
            retry_budget=retry_budget,
            poll=poll,
            clock=clock,
            ssl=ssl,
            max_response_size=max_response_size,
            wall_clock=wall_clock,
            proxy=resolve_proxy(settings.endpoint, proxy, environ=environ),
            trace_configs=trace_configs,
            api_versions=api_versions,
        )

    def __repr__(self) -> str:
        proxy = self._transport.proxy
        via = f", proxy={proxy.display!r}" if proxy is not None else ""
        return f"DataOpsClient(endpoint={self.endpoint!r}, concurrency={self._transport.concurrency}{via})"

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # Under trio (e.g. anyio.run(main, backend="trio")) aiohttp would fail deep inside with an obscure error.
            raise ConfigurationError(
                "DataOpsClient runs on asyncio only (its HTTP layer, aiohttp, is asyncio-only): run your code with "
                "asyncio.run(main()) or anyio.run(main) (the asyncio backend), not with trio"
            ) from None
        await self._transport.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (``async with`` does this for you)."""
        await self._transport.aclose()

    # -- what the layers above use ------------------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """Deprecated: the HTTP layer is internal; this name goes away in the next release."""
        warnings.warn(
            "DataOpsClient.transport is internal and goes away in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._transport

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self._transport.endpoint

    @property
    def clock(self) -> Clock:
        """The clock every backoff and wait sleeps through."""
        return self._clock

    @property
    def poll_policy(self) -> PollPolicy:
        """The default ``PollPolicy`` of ``wait_settled`` and the ``*_and_wait`` methods."""
        return self._poll

    @property
    def concurrency(self) -> int:
        """The size of the connection pool."""
        return self._transport.concurrency

    def adaptive_limiter(self, max_concurrency: int | None = None) -> AdaptiveLimiter:
        """This client's one adaptive concurrency limit, made on first use (a fleet with ``concurrency="auto"``
        asks for it); from then on every request of the client waits for a slot in it. Its cap is
        ``max_concurrency`` (default 256; ``None`` later leaves it as it is), never above the connection pool
        (``concurrency``). See ``aiodataops._limiter``.
        """
        return self._transport.adaptive_limiter(max_concurrency)

    @property
    def throttled_requests(self) -> int:
        """Attempts the server throttled so far (429, 417, 503 with ``Retry-After``), retried or not."""
        return self._transport.throttled_requests

    @staticmethod
    def api_versions(**versions: str) -> contextlib.AbstractContextManager[None]:
        """Send the named operations at these API versions for the calls made inside the block (in this task).

        ``with client.api_versions(create_service="1.3"): await client.services.create(...)``: for when SCP moves
        an operation on; ``DataOpsClient(api_versions={...})`` does it for every call of a client.
        """
        return using_api_versions(**versions)

    @functools.cached_property
    def fleet(self) -> Fleet:
        """Bulk, safe updates of many services (``await client.fleet.apply(plan, ...)``)."""
        from aiodataops.fleet import Fleet  # noqa: PLC0415 -- the fleet layer loads only when used

        return Fleet(self)
