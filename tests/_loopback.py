"""Test support for the client's tests: tiny aiohttp.web apps on a loopback port that check signatures."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from aiodataops._signing import Credentials, sign

CREDS = Credentials("AKTESTACCESSKEY", "sk-test-secret-value", "tok-test-temporary")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(app: web.Application, *, port: int = 0, ssl_context: object = None) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context)  # type: ignore[arg-type]
    await site.start()
    bound = runner.addresses[0][1]
    scheme = "https" if ssl_context is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{bound}"
    finally:
        await runner.cleanup()


class Recorder:
    """Counts hits and checks each request's signature over the raw request line, as SCP's gateway would."""

    def __init__(self, credentials: Credentials = CREDS) -> None:
        self.credentials = credentials
        self.hits: list[tuple[str, str, bool]] = []
        self.headers: list[dict[str, str]] = []

    @property
    def count(self) -> int:
        return len(self.hits)

    def signature_ok(self, request: web.Request) -> bool:
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        try:
            timestamp = int(request.headers["Scp-Timestamp"])
        except (KeyError, ValueError):
            return False
        expected = sign(request.method, url, timestamp, self.credentials)
        return request.headers.get("Scp-Signature") == expected

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ok = self.signature_ok(request)
        self.hits.append((request.method, request.raw_path, ok))
        self.headers.append(dict(request.headers))
        if not ok:
            return web.json_response({"errors": [{"status": "401", "detail": "signature mismatch"}]}, status=401)
        return await handler(request)


def app_with(recorder: Recorder, routes: dict[str, Handler]) -> web.Application:
    """Build an app whose every route (any method) is checked by ``recorder``."""
    app = web.Application(middlewares=[recorder.middleware])
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    return app
