"""The emulator's aiohttp application: the routes (``_routes``) behind the middlewares (``_middlewares``)."""

from __future__ import annotations

from aiohttp import web

from aiodataops.emulator._middlewares import MIDDLEWARES
from aiodataops.emulator._routes import ROUTES
from aiodataops.emulator._runtime import RUNTIME, Runtime

__all__ = ["build_app"]


def build_app(runtime: Runtime) -> web.Application:
    """Build the application serving the 17 operations for ``runtime``."""
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=4 * 1024 * 1024)
    app[RUNTIME] = runtime
    for method, path, handler, _operation in ROUTES:
        app.router.add_route(method, path, handler)
    return app
