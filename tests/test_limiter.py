"""The adaptive concurrency limit: AIMD on a virtual clock, and one limit shared by a client's PUTs and polls."""

from __future__ import annotations

import anyio
import pytest

from aiodataops import DataOpsClient, ServiceUpdate
from aiodataops._clock import VirtualClock
from aiodataops._limiter import DEFAULT_MAX_CONCURRENCY, AdaptiveLimiter, Permit
from aiodataops._polling import PollPolicy
from aiodataops._retry import RetryPolicy
from aiodataops.emulator import Emulator

pytestmark = pytest.mark.anyio


async def fill(limiter: AdaptiveLimiter) -> list[Permit]:
    """Take every slot the limit allows now."""
    return [await limiter.acquire() for _ in range(limiter.current - limiter.in_flight)]


async def test_grows_on_success_by_half_per_round_trip_until_the_first_throttle() -> None:
    """Before any throttle, each round trip of successes at full use grows the limit by half (slow start, x1.5)."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=4)
    for expected in (6, 9, 13, 20):
        permits = await fill(limiter)
        clock.advance(0.05)
        for permit in permits:
            limiter.succeeded(permit)
        assert limiter.current == expected


async def test_halves_on_a_throttle_once_then_recovers_quickly_then_grows_by_one_per_second() -> None:
    """A burst of 429/417 halves the limit once; it regains 80% of it per round trip, then one per second in use."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=32)
    permits = await fill(limiter)
    for permit in permits[:10]:
        limiter.throttled_by_server(permit)
    assert (limiter.current, limiter.throttled, limiter.cuts) == (16, 10, 1)
    for permit in permits[10:]:
        limiter.released(permit)
    for _ in range(20):
        permits = await fill(limiter)
        for permit in permits:
            limiter.succeeded(permit)
    assert limiter.current == 25  # one per round trip back to 80% of the 32 it cut (25.6), no further
    for _ in range(3):
        clock.advance(1.0)
        permits = await fill(limiter)
        for permit in permits:
            limiter.succeeded(permit)
    assert limiter.current == 28  # then one per second
    permit = await limiter.acquire()
    limiter.throttled_by_server(permit)  # a request sent under the new limit cuts again
    assert limiter.current == 14


async def test_respects_the_cap_and_the_floor() -> None:
    """The limit never grows past max_limit nor falls below 1, and never more requests than it are in flight."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=2, max_limit=5)
    for _ in range(10):
        permits = await fill(limiter)
        assert limiter.in_flight <= 5
        for permit in permits:
            limiter.succeeded(permit)
    assert limiter.current == 5
    for _ in range(10):
        limiter.throttled_by_server(await limiter.acquire())
    assert limiter.current == 1
    assert limiter.peak_in_flight == 5


async def test_does_not_grow_while_the_limit_is_barely_used() -> None:
    """Successes with less than half the limit in flight leave it unchanged: a limit is grown only when tested."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=16)
    for _ in range(50):
        limiter.succeeded(await limiter.acquire())
    assert limiter.current == 16


async def test_cuts_on_a_sustained_rise_in_latency() -> None:
    """When answers take over twice as long as they used to, for a while, the limit is cut though nothing failed."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=8, max_limit=8)
    for _ in range(40):
        permit = await limiter.acquire()
        clock.advance(0.05)
        limiter.succeeded(permit)
    assert limiter.cuts == 0
    for _ in range(10):
        permit = await limiter.acquire()
        clock.advance(0.5)
        limiter.succeeded(permit)
    assert limiter.cuts == 1
    assert limiter.current < 8


async def test_waiters_get_slots_in_order_when_one_frees_or_the_limit_grows() -> None:
    """Requests over the limit wait in line, and each freed slot goes to the longest waiting."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=1, max_limit=1)
    order: list[int] = []
    first = await limiter.acquire()

    async def wait(n: int) -> None:
        permit = await limiter.acquire()
        order.append(n)
        limiter.released(permit)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(wait, n)
        await anyio.wait_all_tasks_blocked()
        assert limiter.waiting == 3
        limiter.released(first)
    assert order == [0, 1, 2]
    assert limiter.in_flight == 0


async def test_a_cancelled_waiter_gives_its_slot_on() -> None:
    """A request cancelled while it waits leaves the line, and no slot is lost."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=1, max_limit=1)
    first = await limiter.acquire()
    with anyio.move_on_after(0):
        await limiter.acquire()
    assert limiter.waiting == 0
    limiter.released(first)
    limiter.released(await limiter.acquire())
    assert limiter.in_flight == 0


async def test_one_limit_shared_by_puts_and_polls_halves_on_the_servers_429() -> None:
    """A client's adaptive limit is spent by its PUTs and polls alike, and a rate-limited emulator's 429s cut it."""
    clock = VirtualClock()
    async with (
        Emulator(clock=clock, services=40, data_ops=1, update_duration=(3.0, 5.0), rate_limit=20, rate_burst=5) as emu,
        DataOpsClient(
            emu.base_url,
            emu.credentials,
            clock=clock,
            poll=PollPolicy(first_delay=1.0, jitter=False),
            retry=RetryPolicy(max_attempts=8, first_delay=0.1),
            concurrency=64,
        ) as client,
    ):
        transport = client._transport
        limiter = transport.adaptive_limiter(max_concurrency=128)
        assert limiter is transport.adaptive_limiter(max_concurrency=128)
        assert limiter.max_limit == 64  # never above the connection pool
        seen: list[tuple[str, int]] = []
        acquire = limiter.acquire

        async def counting() -> Permit:
            permit = await acquire()
            seen.append(("acquire", limiter.in_flight))
            return permit

        limiter.acquire = counting  # type: ignore[method-assign]
        ids = emu.service_ids()
        async with anyio.create_task_group() as tg:
            for sid in ids:
                tg.start_soon(client.services.update_and_wait, sid, ServiceUpdate(description="paced"))
        puts = emu.counters.total("update_service")
        gets = emu.counters.total("get_service")
        assert len(seen) == puts + gets  # every attempt, PUT or poll, took a slot of the one limit
        assert emu.counters.total(status=429) > 0
        assert limiter.throttled == emu.counters.total(status=429)
        assert limiter.cuts >= 1
        assert max(n for _, n in seen) <= limiter.peak_in_flight <= 64


async def test_a_default_client_lets_auto_reach_max_concurrency() -> None:
    """Without ``concurrency=``, the connection pool does not cap the adaptive limit below its default cap of 256."""
    clock = VirtualClock()
    async with Emulator(clock=clock) as emu, DataOpsClient(emu.base_url, emu.credentials, clock=clock) as client:
        assert client.concurrency == DEFAULT_MAX_CONCURRENCY == 256
        assert client.adaptive_limiter().max_limit == 256
        assert client.adaptive_limiter(max_concurrency=300).max_limit == 256  # a larger cap still stops at the pool
