"""Timeouts.read kept by one timer per connection (``aiodataops._read_timer``): the same meaning as aiohttp's."""

from __future__ import annotations

import anyio
import pytest
from aiohttp import web

from aiodataops._clock import SystemClock
from aiodataops._errors import RequestTimeoutError
from aiodataops._read_timer import LazyReadTimer
from aiodataops._retry import RetryPolicy
from aiodataops._timeouts import Timeouts
from aiodataops._transport import Transport
from tests._loopback import CREDS, Recorder, app_with, serve

pytestmark = pytest.mark.anyio


async def ok(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def test_the_transport_uses_the_lazy_read_timer() -> None:
    """This aiohttp's connector takes the lighter protocol, so the CPU saving it was measured for is in effect."""
    async with serve(app_with(Recorder(), {"/x": ok})) as base, Transport(base, CREDS, clock=SystemClock()) as t:
        await t.request("GET", "/x")
        session = t._session
        assert session is not None
        connector = session.connector
        assert connector is not None
        protocols = [conn for conns in connector._conns.values() for conn, _ in conns]
        assert protocols
        assert all(isinstance(protocol, LazyReadTimer) for protocol in protocols)


async def test_a_pooled_connection_idle_past_the_read_timeout_serves_the_next_answer() -> None:
    """Silence between two answers on one kept-alive connection is no read timeout: the timer only counts while an
    answer is awaited, so the second request on that connection succeeds without a retry."""
    recorder = Recorder()
    policy = RetryPolicy(max_attempts=1)
    async with (
        serve(app_with(recorder, {"/x": ok})) as base,
        Transport(base, CREDS, retry=policy, timeouts=Timeouts(read=0.1), clock=SystemClock()) as t,
    ):
        assert (await t.request("GET", "/x")).json() == {"ok": True}
        await anyio.sleep(0.3)  # the connection sits idle three read timeouts long (the condition under test)
        assert (await t.request("GET", "/x")).json() == {"ok": True}
    assert recorder.count == 2


async def test_a_read_timeout_after_an_idle_gap_is_still_caught() -> None:
    """An answer that stalls on a connection whose timer was left from an earlier answer still fails at
    Timeouts.read, naming it (the timer left idle is taken up again, not trusted as it was)."""
    release = anyio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "10"})
        await response.prepare(request)
        await response.write(b"{")
        await release.wait()
        return response

    policy = RetryPolicy(max_attempts=1)
    async with (
        serve(app_with(Recorder(), {"/x": ok, "/stall": stall})) as base,
        Transport(base, CREDS, retry=policy, timeouts=Timeouts(read=0.2), clock=SystemClock()) as t,
    ):
        await t.request("GET", "/x")
        await anyio.sleep(0.1)  # half a read timeout idle: the first answer's timer is still pending
        try:
            with anyio.fail_after(5):
                with pytest.raises(RequestTimeoutError, match=r"nothing arrived for 0\.2s \(Timeouts\.read\)"):
                    await t.request("GET", "/stall")
        finally:
            release.set()
