"""The first Ctrl-C stops a listing at once: `services list` and `fleet apply` with a selector, as subprocesses, and a
fleet run's ``stop`` while it pages its selector's list (in-process).

The subprocesses' server lists for ever, new ids on every page with a huge ``total_count``, each page answered
after a short delay, so that a page request is in flight when the signal comes. The test sends SIGINT once the
server saw the first page request (an event, not a sleep) and counts the page requests that arrive after it: the
one the client may have been sending as the signal came is allowed, no other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import anyio
import pytest
from aiohttp import web

from aiodataops import DataOpsClient, parse_plan
from aiodataops.fleet import Outcome, StopReason
from tests._loopback import CREDS, serve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.anyio

PATH = "/v1/data-ops-services"
PAGE_DELAY = 0.05
PLAN = 'update: {description: "new"}\ntargets:\n  - select: {data_ops_service_id: "*"}\n'


class EndlessListing:
    """A service list that never ends; records the page requests and every PUT."""

    def __init__(self) -> None:
        self.pages: list[int] = []
        self.puts: list[str] = []
        self.first_page = anyio.Event()

    async def list_services(self, request: web.Request) -> web.Response:
        page, size = int(request.query["page"]), int(request.query["size"])
        self.pages.append(page)
        self.first_page.set()
        await anyio.sleep(PAGE_DELAY)  # the server's pace, not a wait of the test's: a page is in flight at the signal
        contents = [
            {"data_ops_service_id": f"DOPS_SERVICE-{page * size + n:08d}", "state": "RUNNING"} for n in range(size)
        ]
        return web.json_response({"contents": contents, "total_count": 10**9})

    async def service(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if request.method == "PUT":
            self.puts.append(sid)
            return web.json_response({"data_ops_service_id": sid, "state": "UPDATING"}, status=202)
        return web.json_response({"data_ops_service_id": sid, "state": "RUNNING"})


@contextlib.asynccontextmanager
async def endless_server() -> AsyncIterator[tuple[str, EndlessListing]]:
    listing = EndlessListing()
    app = web.Application()
    app.router.add_get(PATH, listing.list_services)
    app.router.add_route("*", PATH + "/{sid}", listing.service)
    async with serve(app) as url:
        yield url, listing


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
    return env | {"SCP_ACCESS_KEY": "AKTESTACCESSKEY", "SCP_SECRET_KEY": "sk-test-secret-value"}


async def _interrupt_listing(listing: EndlessListing, command: list[str], cwd: Path) -> tuple[int, str, int]:
    """Start ``command``, send SIGINT once the first page was asked for; return its status, stderr and how many page
    requests arrived after the signal."""
    process = await anyio.open_process(
        command, env=_env(), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        with anyio.fail_after(30):
            await listing.first_page.wait()
        pages_at_signal = len(listing.pages)
        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        with anyio.fail_after(30):
            err = b"".join([chunk async for chunk in process.stderr]).decode()
            status = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()  # a command that did not stop must not outlive the test
        with anyio.CancelScope(shield=True):
            await process.aclose()
    return status, err, len(listing.pages) - pages_at_signal


@pytest.mark.slow
async def test_the_first_ctrl_c_stops_services_list_at_once(tmp_path: Path) -> None:
    """SIGINT while `services list` pages an endless list: exit 130 with one clear line, no page asked for after it."""
    async with endless_server() as (url, listing):
        command = [sys.executable, "-m", "aiodataops", "services", "list", "--page-size", "5", "--endpoint", url]
        status, err, later = await _interrupt_listing(listing, command, tmp_path)
    assert status == 130, err
    assert later <= 1, f"{later} page requests after the interrupt"
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "aiodataops services: interrupted; the listing stopped"


@pytest.mark.slow
async def test_the_first_ctrl_c_stops_a_fleet_selector_listing_at_once_and_sends_no_put(tmp_path: Path) -> None:
    """SIGINT while `fleet apply` resolves a selector over an endless list: exit 130 saying so, no page asked for
    after it, no PUT sent, no traceback."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    async with endless_server() as (url, listing):
        command = [
            sys.executable, "-m", "aiodataops", "fleet", "apply", "plan.yaml", "--journal", "run.jsonl",
            "--endpoint", url, "--concurrency", "2",
        ]  # fmt: skip
        status, err, later = await _interrupt_listing(listing, command, tmp_path)
    assert status == 130, err
    assert later <= 1, f"{later} page requests after the interrupt"
    assert listing.puts == []
    assert "Traceback" not in err
    assert "aiodataops fleet: interrupted while listing the targets; no service was started" in err


class StuckListing:
    """Page 0 holds three services (of a billion, says ``total_count``); every later page never comes until the
    test ends. Records the page requests and whether any PUT came."""

    def __init__(self) -> None:
        self.pages: list[int] = []
        self.methods: list[str] = []
        self.second_page = anyio.Event()
        self.release = anyio.Event()

    async def list_services(self, request: web.Request) -> web.Response:
        page = int(request.query["page"])
        self.pages.append(page)
        if page == 0:
            contents = [{"data_ops_service_id": f"DOPS_SERVICE-{n}", "state": "RUNNING"} for n in range(3)]
            return web.json_response({"contents": contents, "total_count": 10**9})
        self.second_page.set()
        await self.release.wait()
        return web.json_response({"contents": [], "total_count": 10**9})

    async def service(self, request: web.Request) -> web.Response:
        self.methods.append(request.method)
        return web.json_response({"data_ops_service_id": request.match_info["sid"], "state": "RUNNING"})


async def test_a_stop_while_a_fleet_waits_for_a_page_cancels_it_and_asks_for_no_other() -> None:
    """``stop`` set while a run waits for its selector's next page: that request is cut, no page is asked for after
    it, and the services already listed are reported; the run ends interrupted (a dry run: reads only)."""
    server = StuckListing()
    app = web.Application()
    app.router.add_get(PATH, server.list_services)
    app.router.add_route("*", PATH + "/{sid}", server.service)
    plan = parse_plan({"update": {"description": "x"}, "targets": [{"select": {"data_ops_service_id": "*"}}]})
    stop = anyio.Event()

    async def stop_at_the_second_page() -> None:
        await server.second_page.wait()
        stop.set()

    async with serve(app) as url, DataOpsClient(url, CREDS) as client:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(stop_at_the_second_page)
                with anyio.fail_after(30):
                    report = await client.fleet.apply(plan, stop=stop, dry_run=True)
        finally:
            server.release.set()
    assert server.pages == [0, 1]
    assert set(server.methods) <= {"GET"}
    assert report.stopped is StopReason.INTERRUPTED
    assert [item.data_ops_service_id for item in report.items] == [f"DOPS_SERVICE-{n}" for n in range(3)]
    assert {item.outcome for item in report.items} == {Outcome.NOT_STARTED}
