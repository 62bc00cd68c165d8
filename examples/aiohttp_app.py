"""Use the SDK inside an aiohttp web app: one ``DataOpsClient`` for the app's whole life, shared by every handler.

- ``GET /services`` lists the services (``?data_ops_name=prod-*`` filters on the client side).
- ``POST /services/{id}/scale`` with ``{"replica": "4"}`` sets the number of Airflow workers and answers once the
  service has settled (``update_and_wait``), or with an error status saying why it did not.

The client is opened in a ``cleanup_ctx`` (on startup) and closed on shutdown, and stored under a typed
``web.AppKey``: a client per request would open a connection pool per request.

Run it: ``python examples/aiohttp_app.py`` starts the emulator and the app on loopback ports, makes two requests
and prints the answers. Import it: ``await examples.aiohttp_app.main()`` returns them. Against the real API, build
the app with ``create_app(DataOpsClient.from_env)`` (SCP_* variables).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
from aiohttp import web

from aiodataops import (
    APIStatusError,
    Clock,
    DataOpsClient,
    DataOpsError,
    NotFoundError,
    PollPolicy,
    ServiceUpdate,
    ServiceWorkload,
    SystemClock,
    WaitError,
    Workload,
)
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

CLIENT = web.AppKey("client", DataOpsClient)

# The emulator finishes an update in well under a second; poll it often so the example is quick.
QUICK_POLLS = PollPolicy(first_delay=0.2, growth=1.5, max_delay=1.0, min_delay=0.1, deadline=60.0)


def create_app(make_client: Callable[[], DataOpsClient]) -> web.Application:
    """The web app; ``make_client`` builds the (not yet opened) client, e.g. ``DataOpsClient.from_env``."""

    async def client_context(app: web.Application) -> AsyncIterator[None]:
        async with make_client() as client:
            app[CLIENT] = client
            yield

    app = web.Application()
    app.cleanup_ctx.append(client_context)
    app.router.add_get("/services", list_services)
    app.router.add_post("/services/{service_id}/scale", scale_workers)
    return app


async def list_services(request: web.Request) -> web.Response:
    """Every service (or those whose data ops name matches ``?data_ops_name=GLOB``): id, name and state."""
    client = request.app[CLIENT]
    pattern = request.query.get("data_ops_name", "*")
    services = [
        {"id": s.id, "name": s.data_ops_service_name, "data_ops": s.data_ops_name, "state": s.state}
        async for s in client.services.list()
        if fnmatch.fnmatchcase(s.data_ops_name or "", pattern)
    ]
    return web.json_response({"services": services, "count": len(services)})


async def scale_workers(request: web.Request) -> web.Response:
    """Set the worker replica count and wait until the service settles."""
    client = request.app[CLIENT]
    service_id = request.match_info["service_id"]
    try:
        body = await request.json()
        replica = str(int(body["replica"]))
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": 'expected a JSON body like {"replica": "4"}'}, status=400)
    update = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(replica=replica)))
    try:
        final = await client.services.update_and_wait(service_id, update)
    except NotFoundError:
        return web.json_response({"error": f"no service {service_id}"}, status=404)
    except WaitError as exc:
        # The update was accepted but did not settle well: say how it ended (no secret is in the message).
        return web.json_response({"error": str(exc), "last_state": exc.last_state}, status=502)
    except APIStatusError as exc:
        return web.json_response({"error": exc.message, "status": exc.status}, status=502)
    except DataOpsError as exc:
        return web.json_response({"error": str(exc)}, status=502)
    worker = final.service_workload.worker if final.service_workload else None
    return web.json_response({"id": final.id, "state": final.state, "worker_replica": worker and worker.replica})


async def main(clock: Clock | None = None) -> dict[str, Any]:
    """Serve the emulator and the app on loopback ports, list the services, scale the first one; return both."""
    clock = clock or SystemClock()
    async with Emulator(data_ops=2, services_per_data_ops=3, update_duration=(0.3, 0.6), clock=clock) as emu:
        app = create_app(lambda: DataOpsClient(emu.base_url, emu.credentials, poll=QUICK_POLLS, clock=clock))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            host, port = runner.addresses[0][:2]
            base = f"http://{host}:{port}"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/services", params={"data_ops_name": "prod-*"}) as response:
                    listed = await response.json()
                    print(f"GET /services?data_ops_name=prod-* -> {response.status}: services: {listed['count']}")
                first = listed["services"][0]["id"]
                async with http.post(f"{base}/services/{first}/scale", json={"replica": "5"}) as response:
                    scaled = await response.json()
                    print(f"POST /services/{first}/scale -> {response.status}: {scaled}")
        finally:
            await runner.cleanup()  # runs the cleanup_ctx: the client closes its connection pool
    return {"listed": listed, "scaled": scaled}


if __name__ == "__main__":
    anyio.run(main)
