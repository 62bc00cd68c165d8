"""``Emulator``: the application, its data and counters, served on a loopback port for as long as it is open."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import web

from aiodataops._clock import Clock, SystemClock
from aiodataops.emulator._app import build_app
from aiodataops.emulator._config import EmulatorConfig
from aiodataops.emulator._counters import Counters
from aiodataops.emulator._faults import FaultInjector, FaultRule
from aiodataops.emulator._runtime import Runtime, make_rate_limiter
from aiodataops.emulator._store import Store

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from aiodataops._signing import Credentials

__all__ = ["RUNTIME_SETTINGS", "Emulator"]

#: The settings ``Emulator.reconfigure`` can change while it serves.
RUNTIME_SETTINGS: Final = frozenset(
    {
        "create_duration",
        "delete_duration",
        "error_rate",
        "faults",
        "latency",
        "latency_per_in_flight",
        "quirks",
        "rate_burst",
        "rate_limit",
        "stale_read_seconds",
        "timestamp_tolerance",
        "update_duration",
    }
)


class Emulator:
    """A local Data Ops API: ``async with Emulator(data_ops=2, seed=0) as emu: ... emu.base_url ...``.

    Takes an ``EmulatorConfig``, or its fields as keyword arguments (which also override a given config's). The
    fleet is seeded at construction, so ids are known before the server starts.
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        if config is None:
            config = EmulatorConfig(**overrides)
        elif overrides:
            config = attrs.evolve(config, **overrides)
        self.config = config
        self.clock: Clock = config.clock or SystemClock()
        self.credentials: Credentials = config.effective_credentials
        self.counters = Counters(config.log_limit)
        self.store = Store(config, self.clock)
        self._injector = FaultInjector(config.seed, config.faults, config.latency)
        self.runtime = Runtime(
            config=config,
            clock=self.clock,
            store=self.store,
            counters=self.counters,
            injector=self._injector,
            credentials={self.credentials.access_key: self.credentials},
            rate_limiter=make_rate_limiter(config, self.clock),
        )
        self.app = build_app(self.runtime)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    def __repr__(self) -> str:
        where = self._base_url or "not started"
        return (
            f"Emulator({where}, data_ops={len(self.store.data_ops)}, services={len(self.store.services)}, "
            f"seed={self.config.seed})"
        )

    # -- serving ----------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._base_url is None:
            raise RuntimeError("Emulator is not started: use 'async with Emulator(...) as emu' or await emu.start()")
        return self._base_url

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        """Return ``base_url + path``."""
        return self.base_url + path

    async def start(self) -> None:
        """Bind the configured host and port (port 0: a free one) and start serving."""
        if self._runner is not None:
            raise RuntimeError("Emulator is already started")
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=self.config.shutdown_timeout
        )
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.config.host, self.config.port))
            site = web.SockSite(runner, sock, backlog=1024)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown}:{port}"

    async def close(self) -> None:
        """Stop serving (requests in flight get ``shutdown_timeout`` seconds to finish)."""
        runner, self._runner = self._runner, None
        self._base_url = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- changing settings while serving ----------------------------------------------------------------------

    def reconfigure(self, **changes: Any) -> EmulatorConfig:
        """Change lifecycle, fault or latency settings from the next request on; returns the new config.

        Only ``RUNTIME_SETTINGS`` can change: the fleet, seed, keys, casing and address are fixed at construction.
        """
        fixed = sorted(set(changes) - RUNTIME_SETTINGS)
        if fixed:
            raise ValueError(
                f"Emulator.reconfigure: {', '.join(fixed)} cannot change while serving; changeable: "
                f"{', '.join(sorted(RUNTIME_SETTINGS))}"
            )
        config = attrs.evolve(self.config, **changes)
        self.config = config
        self.runtime.config = config
        self.store.reconfigure(config)
        if "faults" in changes:
            self._injector.rules = config.faults
        if "latency" in changes:
            self._injector.set_latency(config.latency)
        if "rate_limit" in changes or "rate_burst" in changes:
            self.runtime.rate_limiter = make_rate_limiter(config, self.clock)
        return config

    def settles_at(self, resource_id: str) -> float | None:
        """The clock time (``clock.now()``) at which the latest accepted change of a resource ends or ended."""
        return self.store.settle_times.get(resource_id)

    # -- faults -------------------------------------------------------------------------------------------------

    @property
    def faults(self) -> tuple[FaultRule, ...]:
        """The fault rules in force; assign a new tuple to change them while serving."""
        return self._injector.rules

    @faults.setter
    def faults(self, rules: tuple[FaultRule, ...] | list[FaultRule]) -> None:
        self._injector.rules = tuple(rules)

    # -- looking inside (the true state, not the stale view reads get) ---------------------------------------

    def _advance(self) -> None:
        self.store.advance(self.clock.now())

    def service_ids(self) -> list[str]:
        """Ids of the services that exist now, in seeded (then creation) order."""
        self._advance()
        return list(self.store.services)

    def data_ops_ids(self) -> list[str]:
        """Ids of the data ops that exist now, in seeded (then creation) order."""
        self._advance()
        return list(self.store.data_ops)

    def cluster_ids(self) -> list[str]:
        """Ids of every cluster, those with a data ops first, then spare ones."""
        return list(self.store.clusters)

    def service_state(self, service_id: str) -> str:
        """The true current state of a service, cased as configured; ``KeyError`` once it is gone."""
        self._advance()
        return str(self.store.services[service_id].body["state"])

    def data_ops_state(self, data_ops_id: str) -> str:
        """The true current state of a data ops, cased as configured; ``KeyError`` once it is gone."""
        self._advance()
        return str(self.store.data_ops[data_ops_id].body["state"])

    def service_body(self, service_id: str) -> dict[str, Any]:
        """A copy of the true current wire body of a service (it holds ``account_password``: do not print it)."""
        self._advance()
        return dict(self.store.services[service_id].body)

    def data_ops_body(self, data_ops_id: str) -> dict[str, Any]:
        """A copy of the true current wire body of a data ops (it holds ``account_password``)."""
        self._advance()
        return dict(self.store.data_ops[data_ops_id].body)

    def force_outcome(self, resource_id: str, state: str = "ERROR") -> None:
        """Make the next accepted change of this resource end in ``state`` (default ERROR)."""
        self.store.force_outcome(resource_id, state)

    def set_state(self, resource_id: str, state: str) -> None:
        """Put a resource in ``state`` at once, cancelling any change in progress (test set-up)."""
        self.store.set_state(resource_id, state)
