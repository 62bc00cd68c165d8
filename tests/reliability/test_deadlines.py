"""Deadlines: a server that never answers, or trickles its answer, fails a call within the request deadline.

Each attempt is bounded by ``Timeouts`` and the whole request (attempts and the waits between them) by
``RetryPolicy.total_deadline``; the error says which one ran out. The servers here are loopback ones of this module:
a raw socket that reads the request and never answers (no timing of its own: the client may use a ``VirtualClock``),
and an aiohttp handler that sends one byte of its body per interval (timed: real time on both sides). Settings are
small so that the tests take a fraction of a second; no assertion is about how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import anyio
import pytest
from _loopback import CREDS, Recorder, app_with, serve
from aiohttp import web

from aiodataops import DataOpsClient
from aiodataops._clock import SystemClock, VirtualClock
from aiodataops._errors import RequestTimeoutError, ServerError
from aiodataops._retry import DEFAULT_TOTAL_DEADLINE, RetryPolicy
from aiodataops._timeouts import Timeouts
from aiodataops._transport import Transport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server that accepts, reads the request and never answers; yields its URL and a connection count."""
    connections: list[int] = []
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_server_that_never_answers_fails_a_get_at_the_request_deadline() -> None:
    """services.get against a silent server ends at total_deadline, naming it and the attempt it cut."""
    policy = RetryPolicy(max_attempts=4, first_delay=0.0, total_deadline=0.4)
    async with (
        silent_server() as (base, connections),
        DataOpsClient(
            base, CREDS, retry=policy, timeout=Timeouts(read=None, total=None), clock=VirtualClock()
        ) as client,
    ):
        with pytest.raises(RequestTimeoutError) as caught:
            await client.services.get("DOPS_SERVICE-silent")
    message = str(caught.value)
    assert "no answer within the request deadline of 0.4s (RetryPolicy.total_deadline) across 1 attempt:" in message
    assert "attempt 1 had no answer yet" in message
    assert len(connections) == 1


async def test_the_deadline_bounds_the_attempts_together() -> None:
    """Attempts each ended by Timeouts.total stop at the deadline, well before max_attempts, saying both."""
    policy = RetryPolicy(max_attempts=50, first_delay=0.0, total_deadline=0.5)
    async with (
        silent_server() as (base, connections),
        Transport(
            base, CREDS, retry=policy, timeouts=Timeouts(read=None, total=0.2), clock=VirtualClock()
        ) as transport,
    ):
        with pytest.raises(RequestTimeoutError) as caught:
            await transport.request("GET", "/v1/data-ops-services/x")
    message = str(caught.value)
    assert "request deadline of 0.5s" in message
    # Every attempt takes at least Timeouts.total (the server never answers): at most three fit in the deadline.
    assert 1 <= len(connections) <= 3
    if len(connections) > 1:
        assert "failed with: no complete answer within 0.2s (Timeouts.total, one attempt)" in message


async def test_a_trickling_answer_is_cut_at_the_deadline_saying_what_arrived() -> None:
    """A body arriving one byte per 20 ms never trips the read timeout; the deadline cuts it, naming the trickle."""
    sent = {"bytes": 0}

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "100000"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            for _ in range(100_000):
                await response.write(b" ")
                sent["bytes"] += 1
                await anyio.sleep(0.02)
        return response

    policy = RetryPolicy(max_attempts=3, first_delay=0.0, total_deadline=0.4)
    async with (
        serve(app_with(Recorder(), {"/x": trickle})) as base,
        Transport(base, CREDS, retry=policy, timeouts=Timeouts(read=0.3, total=None), clock=SystemClock()) as t,
    ):
        with pytest.raises(RequestTimeoutError) as caught:
            await t.request("GET", "/x")
    message = str(caught.value)
    assert "across 1 attempt: attempt 1 had received HTTP 200 and" in message
    assert "(a trickling answer)" in message
    assert sent["bytes"] < 100_000


def retry_after(seconds: int) -> web.Response:
    return web.Response(status=503, text="busy", headers={"Retry-After": str(seconds)})


async def test_a_retry_whose_wait_would_pass_the_deadline_is_not_started() -> None:
    """Retry-After waits are taken while they fit in the deadline; the one that would not raises the last error."""
    recorder = Recorder()

    async def busy(_: web.Request) -> web.Response:
        return retry_after(4)

    clock = VirtualClock()
    policy = RetryPolicy(max_attempts=10, total_deadline=10.0)
    async with (
        serve(app_with(recorder, {"/x": busy})) as base,
        Transport(base, CREDS, retry=policy, clock=clock) as transport,
    ):
        with pytest.raises(ServerError) as caught:
            await transport.request("GET", "/x")
    assert clock.sleeps == [4.0, 4.0]
    assert recorder.count == 3
    notes = getattr(caught.value, "__notes__", [])
    expected = "not retried: the wait of 4s before attempt 4 would pass the request deadline of 10s"
    assert notes == [f"{expected} (RetryPolicy.total_deadline)"]


async def test_without_a_deadline_every_attempt_is_made() -> None:
    """total_deadline=None leaves the attempts to max_attempts alone, as before."""
    recorder = Recorder()

    async def busy(_: web.Request) -> web.Response:
        return retry_after(100)

    clock = VirtualClock()
    policy = RetryPolicy(max_attempts=4, max_retry_after=100.0, total_deadline=None)
    async with (
        serve(app_with(recorder, {"/x": busy})) as base,
        Transport(base, CREDS, retry=policy, clock=clock) as transport,
    ):
        with pytest.raises(ServerError):
            await transport.request("GET", "/x")
    assert clock.sleeps == [100.0, 100.0, 100.0]
    assert recorder.count == 4


async def test_a_stalled_read_names_timeouts_read() -> None:
    """An answer whose body stops arriving fails the attempt naming Timeouts.read and its value."""

    release = anyio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "10"})
        await response.prepare(request)
        await response.write(b"{")
        await release.wait()
        return response

    policy = RetryPolicy(max_attempts=1)
    async with (
        serve(app_with(Recorder(), {"/x": stall})) as base,
        Transport(base, CREDS, retry=policy, timeouts=Timeouts(read=0.1), clock=VirtualClock()) as transport,
    ):
        try:
            with pytest.raises(RequestTimeoutError, match=r"nothing arrived for 0\.1s \(Timeouts\.read\)"):
                await transport.request("GET", "/x")
        finally:
            release.set()


def test_the_default_deadline_is_three_minutes_and_can_be_turned_off() -> None:
    """RetryPolicy bounds a request to 180 s by default; None turns it off; zero, negatives and NaN are refused."""
    assert RetryPolicy().total_deadline == DEFAULT_TOTAL_DEADLINE == 180.0
    assert RetryPolicy(total_deadline=None).total_deadline is None
    for bad in (0, -1.0, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="total_deadline"):
            RetryPolicy(total_deadline=bad)
