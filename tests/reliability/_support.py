"""Shared tools of the reliability suites: a server-side witness of every request, and the CLI driven in-process.

``Witness`` puts one aiohttp middleware *outside* the emulator's own (before it starts), which sees each request as
it arrives, with its headers, and as it is answered: the arrival order of PUTs per service, how long each answer
took, and every ``Scp-Signature`` and token the client sent. A second one, *inside* them, sees the moment a PUT is
accepted (202), even when a fault then drops the connection before the answer leaves. Neither changes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import sys
import threading
import time
import types
from collections import defaultdict
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import orjson
from aiohttp import web
from anyio.streams.text import TextReceiveStream

import aiodataops.cli._connection
from aiodataops._client import DataOpsClient
from aiodataops.cli import main
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    import pytest
    from anyio.abc import Process

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: A worker workload no seeded service has (they run 1-4 workers), so the update changes every service.
WORKER_UPDATE: dict[str, Any] = {"service_workload": {"worker": {"cpu": "2", "memory": "4", "replica": "5"}}}
EVERY_SERVICE: dict[str, Any] = {"update": WORKER_UPDATE, "targets": [{"select": {"data_ops_service_id": "*"}}]}
SERVICE_PATH = "/v1/data-ops-services/"
T = TypeVar("T")


class Put(NamedTuple):
    """One PUT as the server saw it: when it arrived and was answered (a shared sequence), and the status sent."""

    service_id: str
    arrived: int
    answered: int
    status: int


def _service_put(request: web.Request) -> str | None:
    if request.method == "PUT" and request.path.startswith(SERVICE_PATH):
        return request.path.removeprefix(SERVICE_PATH)
    return None


class Witness:
    """Records what reaches the server; attach with ``witness.attach(emu)`` before the emulator starts."""

    def __init__(self) -> None:
        self._sequence = itertools.count()
        self.puts: list[Put] = []
        self.acceptances: list[tuple[str, int]] = []
        self.durations: list[tuple[str, str, float]] = []
        self.signatures: list[str] = []
        self.tokens: list[str] = []

    def attach(self, emu: Emulator) -> None:
        """Wrap the emulator's application (its middleware list is still open until it starts)."""
        emu.app.middlewares.insert(0, self.middleware)
        emu.app.middlewares.append(self.accepting)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Note arrival, signature and token; then the answer's status and how long it took."""
        arrived = next(self._sequence)
        started = time.perf_counter()
        if signature := request.headers.get("Scp-Signature"):
            self.signatures.append(signature)
        if token := request.headers.get("X-Auth-Token"):
            self.tokens.append(token)
        status = 0
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            self.durations.append((request.method, request.path, time.perf_counter() - started))
            if (sid := _service_put(request)) is not None:
                self.puts.append(Put(sid, arrived, next(self._sequence), status))

    @web.middleware
    async def accepting(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Note the moment the emulator accepts a PUT (its handler answered 202), whatever happens to the answer."""
        response = await handler(request)
        if response.status == 202 and (sid := _service_put(request)) is not None:
            self.acceptances.append((sid, next(self._sequence)))
        return response

    def puts_after_acceptance(self) -> dict[str, list[Put]]:
        """Per service, the PUTs that arrived after one of its PUTs had been accepted (should be none)."""
        first: dict[str, int] = {}
        for sid, at in self.acceptances:
            first.setdefault(sid, at)
        late: dict[str, list[Put]] = defaultdict(list)
        for put in self.puts:
            if put.service_id in first and put.arrived > first[put.service_id]:
                late[put.service_id].append(put)
        return dict(late)


@contextlib.contextmanager
def in_thread(factory: Callable[[], AbstractAsyncContextManager[T]]) -> Iterator[T]:
    """Enter ``factory()`` on an event loop of its own in a thread, for tests that call the synchronous CLI."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        try:
            async with factory() as value:
                box["value"], box["loop"], box["stop"] = value, asyncio.get_running_loop(), asyncio.Event()
                ready.set()
                await box["stop"].wait()
        finally:
            ready.set()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the server did not start"
    assert "value" in box, "the server failed to start"
    try:
        yield box["value"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def emulator_in_thread(*wrappers: Witness | Corruptor, **config: Any) -> contextlib.AbstractContextManager[Emulator]:
    """An emulator serving from its own event loop in a thread, its app wrapped by ``wrappers``."""
    emu = Emulator(**config)
    for wrapper in wrappers:
        wrapper.attach(emu)
    return in_thread(lambda: emu)


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, *, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """Serve an application (an emulator's, say) on 127.0.0.1, over TLS when given a context; yield its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# -- the command as a subprocess ------------------------------------------------------------------------------


def command_env(emu: Emulator) -> dict[str, str]:
    """The test's environment without any SCP_* setting of the machine, plus the emulator's key pair."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
    env["SCP_ACCESS_KEY"] = emu.credentials.access_key
    env["SCP_SECRET_KEY"] = emu.credentials.secret_key
    return env


def fleet_command(*args: str) -> list[str]:
    """``python -m aiodataops fleet ARGS``."""
    return [sys.executable, "-m", "aiodataops", "fleet", *args]


async def stderr_lines(process: Process) -> AsyncIterator[str]:
    """The process's standard error, line by line, as it is written."""
    assert process.stderr is not None
    pending = ""
    async for chunk in TextReceiveStream(process.stderr):
        pending += chunk
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            yield line


# -- broken answers -------------------------------------------------------------------------------------------

#: What ``Corruptor`` can answer instead of the emulator.
BREAKAGES = ("html", "cut_json", "short_body", "huge", "leaky_400")


def route_of(request: web.Request) -> str:
    """``list``, ``get`` or ``update`` for the service operations, ``other`` for anything else."""
    path = request.path
    if path == SERVICE_PATH.rstrip("/"):
        return "list" if request.method == "GET" else "other"
    rest = path.removeprefix(SERVICE_PATH)
    if rest != path and rest and "/" not in rest:
        return {"GET": "get", "PUT": "update"}.get(request.method, "other")
    return "other"


class Corruptor:
    """Answers chosen service operations with a broken answer, after the emulator handled them normally.

    ``breakage`` maps a route (``list``, ``get``, ``update``) to one of ``BREAKAGES``: an HTML page with status 200,
    JSON cut in half, a body shorter than its ``Content-Length`` (the connection closes early), an answer far
    over the client's size limit, or a 400 whose error body carries the resource (``account_password`` included).
    """

    def __init__(self, huge_size: int) -> None:
        self.breakage: dict[str, str] = {}
        self._huge = b"[" + b" " * huge_size + b"]"

    def attach(self, emu: Emulator) -> None:
        """Wrap the emulator's application (before it starts)."""
        emu.app.middlewares.insert(0, self.middleware)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Let the emulator answer, then break the answer if this route is to be broken."""
        response = await handler(request)
        kind = self.breakage.get(route_of(request))
        if kind is None or not isinstance(response, web.Response) or response.status >= 400:
            return response
        body = response.body if isinstance(response.body, bytes) else b"{}"
        if kind == "html":
            page = "<html><body>Down for maintenance</body></html>"
            return web.Response(status=200, text=page, content_type="text/html")
        if kind == "cut_json":
            return web.Response(status=200, body=body[: len(body) // 2], content_type="application/json")
        if kind == "huge":
            return web.Response(status=200, body=self._huge, content_type="application/json")
        if kind == "leaky_400":
            leaky = {"errors": [{"status": "400", "detail": "invalid request"}], **orjson.loads(body)}
            return web.Response(status=400, body=orjson.dumps(leaky), content_type="application/json")
        partial = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        partial.content_length = len(body)
        await partial.prepare(request)
        await partial.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.abort()
        return partial


def cli_signs_with(monkeypatch: pytest.MonkeyPatch, wall_clock: Callable[[], int]) -> None:
    """Make every client the CLI builds sign with ``wall_clock`` (``DataOpsClient``'s hook), e.g. a skewed clock."""
    from_env = functools.partial(DataOpsClient.from_env, wall_clock=wall_clock)
    monkeypatch.setattr(aiodataops.cli._connection, "DataOpsClient", types.SimpleNamespace(from_env=from_env))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``aiodataops ARGV`` in this process; return its exit status, standard output and standard error.

    An exception escaping ``main`` fails the test where it is raised: the command must turn every failure into a
    message and a status.
    """
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return status, captured.out, captured.err
