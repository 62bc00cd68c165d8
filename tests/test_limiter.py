"""The adaptive concurrency limit: AIMD on a virtual clock, and one limit shared by a client's PUTs and polls."""

from __future__ import annotations

import functools
import heapq
import itertools
import random
from collections import deque
from typing import TYPE_CHECKING

import anyio
import pytest

from aiodataops import DataOpsClient, ServiceUpdate
from aiodataops._clock import VirtualClock
from aiodataops._limiter import DEFAULT_MAX_CONCURRENCY, AdaptiveLimiter, Permit
from aiodataops._polling import PollPolicy
from aiodataops._retry import RetryPolicy
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio


async def fill(limiter: AdaptiveLimiter) -> list[Permit]:
    """Take every slot the limit allows now."""
    return [await limiter.acquire() for _ in range(limiter.current - limiter.in_flight)]


async def test_grows_on_success_by_a_fifth_per_round_trip_until_the_first_throttle() -> None:
    """Before any throttle, each round trip of successes at full use grows the limit by a fifth (slow start, x1.2)."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=4)
    for expected in (4, 5, 6, 7, 9, 10):
        permits = await fill(limiter)
        clock.advance(0.05)
        for permit in permits:
            limiter.succeeded(permit)
        assert limiter.current == expected


async def test_halves_on_a_throttle_once_then_recovers_quickly_then_grows_by_one_per_second() -> None:
    """With no answers to estimate from, a burst of 429/417 halves the limit once; it regains 80% of it per round
    trip, then one per second in use."""
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


async def answer_rounds(limiter: AdaptiveLimiter, clock: VirtualClock, *, rounds: int, per_round: int) -> None:
    """``rounds`` round trips of 50 ms, each with ``per_round`` requests sent together and answered."""
    for _ in range(rounds):
        permits = [await limiter.acquire() for _ in range(per_round)]
        clock.advance(0.05)
        for permit in permits:
            limiter.succeeded(permit)


async def test_a_throttle_cuts_to_the_concurrency_the_server_answered_not_by_half() -> None:
    """A 429 sets the limit to goodput x latency over the last second (10 requests of 50 ms at 200/s), not half."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=40)
    await answer_rounds(limiter, clock, rounds=20, per_round=10)
    assert limiter.current == 40  # a quarter of it in use: no growth
    limiter.throttled_by_server(await limiter.acquire())
    assert limiter.estimate == pytest.approx(10.0)
    assert (limiter.current, limiter.cuts) == (10, 1)


async def test_a_throttle_near_the_estimate_cuts_a_tenth_and_growth_resumes_one_per_second() -> None:
    """At the estimate already, a throttle takes 10% off (not half), and the limit then grows by one per second."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=40)
    await answer_rounds(limiter, clock, rounds=20, per_round=10)
    limiter.throttled_by_server(await limiter.acquire())
    assert limiter.current == 10
    await answer_rounds(limiter, clock, rounds=10, per_round=10)
    limiter.throttled_by_server(await limiter.acquire())
    assert (limiter.current, limiter.cuts) == (9, 2)  # min(estimate 10, 0.9 x 10)
    await answer_rounds(limiter, clock, rounds=10, per_round=9)
    assert limiter.current == 9  # no fast regrowth past a level the server set
    await answer_rounds(limiter, clock, rounds=20, per_round=9)
    assert limiter.current == 10  # one second later, one more


async def test_slow_start_ends_where_goodput_stops_growing_before_any_throttle() -> None:
    """A server answering 160 requests/s whatever is sent (50 ms at best): slow start stops near goodput x latency
    (x1.25), with no 429, instead of growing until the server refuses."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=4)
    sent: list[Permit] = []

    async def request() -> None:
        sent.append(await limiter.acquire())

    async with anyio.create_task_group() as tg:
        for _ in range(500):
            tg.start_soon(request)
        await anyio.wait_all_tasks_blocked()
        for _ in range(2000):
            clock.advance(1 / 160)
            if sent and clock.now() - sent[0].started >= 0.05:
                limiter.succeeded(sent.pop(0))
            await anyio.wait_all_tasks_blocked()
            if not limiter._slow_start:
                break
        tg.cancel_scope.cancel()
    assert not limiter._slow_start
    assert limiter.throttled == 0
    assert 8 <= limiter.current <= 14  # 160/s x 50 ms = 8, x1.25 = 10
    assert limiter.peak_in_flight < 64  # three flat round trips of x1.5 past the 8 that fill the server


async def test_retry_after_pauses_new_sends_for_at_most_a_second() -> None:
    """A throttle's Retry-After holds the next send that long (the pause is capped at 1 s), on the limiter's clock."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter(clock, initial=8)
    limiter.throttled_by_server(await limiter.acquire(), retry_after=0.3)
    permit = await limiter.acquire()
    assert permit.started == pytest.approx(0.3)
    limiter.throttled_by_server(permit, retry_after=30.0)
    assert (await limiter.acquire()).started == pytest.approx(1.3)
    unpaused = AdaptiveLimiter(clock, initial=8, pause_on_retry_after=False)
    unpaused.throttled_by_server(await unpaused.acquire(), retry_after=0.3)
    assert (await unpaused.acquire()).started == pytest.approx(clock.now())


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


class BucketRun:
    """A fleet's requests against a token-bucket server, both on one virtual clock, run event by event.

    ``services`` services (at most ``cap`` at once) each send a PUT, then a poll every 0.5 s until their settle
    (2-4 s) has passed; a throttled request is sent again after its ``Retry-After``. The server admits ``rate``
    requests per second with a burst of one second's worth, answers after ``latency`` (+-10%), and a refusal after
    ``refusal_latency`` (the same by default: a gateway behind the same network).
    """

    def __init__(
        self, rate: float, services: int, *, latency: float = 0.05, refusal_latency: float | None = None
    ) -> None:
        self.clock = VirtualClock()
        self.limiter = AdaptiveLimiter(self.clock)
        self.rate = rate
        self.latency = latency
        self.refusal_latency = latency if refusal_latency is None else refusal_latency
        self._rng = random.Random(13)
        self._tokens = rate
        self._stamp = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._ready: deque[int] = deque(range(min(256, services)))
        self._next_service = len(self._ready)
        self._services = services
        self._settles: dict[int, float] = {}
        self.answered = 0
        #: (when it was sent, when it was answered, the limiter's cuts when it was sent) of every refused request.
        self.refused: list[tuple[float, float, int]] = []
        #: (when, the whole-number limit) after every answer.
        self.limits: list[tuple[float, int]] = []

    def _at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._seq), action))

    def _admit(self, now: float) -> float | None:
        self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / self.rate

    def _answer(self, service: int, permit: Permit, wait: float | None) -> None:
        now = self.clock.now()
        self.answered += 1
        if wait is None:
            self.limiter.succeeded(permit)
            settle = self._settles.setdefault(service, now + self._rng.uniform(2.0, 4.0))
            if now < settle:
                self._at(now + 0.5, lambda: self._ready.append(service))
            elif self._next_service < self._services:
                self._ready.append(self._next_service)
                self._next_service += 1
        else:
            self.limiter.throttled_by_server(permit, wait)
            self.refused.append((permit.started, now, permit.epoch))
            self._at(now + wait, lambda: self._ready.append(service))
        self.limits.append((now, self.limiter.current))

    async def _send_what_the_limit_allows(self) -> None:
        limiter = self.limiter
        now = self.clock.now()
        while self._ready and limiter.in_flight < limiter.current and limiter.waiting == 0:
            if limiter._hold is not None:
                return  # the next answer ends it
            if limiter._paused_until > now:
                self._at(limiter._paused_until, lambda: None)
                return
            service = self._ready.popleft()
            permit = await limiter.acquire()  # a free slot: at once
            wait = self._admit(now)
            latency = self.latency if wait is None else self.refusal_latency
            answer = functools.partial(self._answer, service, permit, wait)
            self._at(now + latency * self._rng.uniform(0.9, 1.1), answer)

    async def run(self) -> BucketRun:
        """Run until every service has settled; returns itself."""
        await self._send_what_the_limit_allows()
        while self._events:
            when, _, action = heapq.heappop(self._events)
            self.clock.advance(when - self.clock.now())
            action()
            await self._send_what_the_limit_allows()
        assert self._next_service == self._services
        return self

    def first_spell(self) -> tuple[list[tuple[float, float, int]], list[tuple[float, float, int]]]:
        """The refusals of the first spell of throttles (its first second) sent before and after its first cut."""
        cut = self.refused[0][1]
        spell = [r for r in self.refused if r[1] < cut + 1.0]
        return [r for r in spell if r[0] < cut], [r for r in spell if r[0] >= cut]


async def test_against_a_token_bucket_slow_start_costs_one_wave_and_the_cut_lands_at_rate_x_latency() -> None:
    """400 services at 200/s (burst 200), 50 ms answered or refused: one wave of 429s when the burst runs out, next
    to none from requests sent after the first cut (held until the server's rate is measured), then about 200/s x
    50 ms in flight."""
    run = await BucketRun(200, 400).run()
    wave, after_cut = run.first_spell()
    assert 0 < len(wave) <= 30
    assert len(after_cut) <= 2  # the measure rounds up by one admission (see ``_admitted_concurrency``)
    assert len(run.refused) < 0.05 * run.answered
    settled = [limit for when, limit in run.limits if when > run.refused[0][1] + 0.5]
    assert min(settled) >= 7
    assert max(settled) <= 14


async def test_against_a_slower_bucket_the_same_rules_land_at_its_rate_x_latency() -> None:
    """At 50/s (burst 50) the same limiter, untold, settles at 2-4 requests in flight (50/s x 50 ms = 2.5), and next
    to no request sent after the first cut is refused in that spell."""
    run = await BucketRun(50, 150).run()
    wave, after_cut = run.first_spell()
    assert 0 < len(wave) <= 15
    assert len(after_cut) <= 2
    settled = [limit for when, limit in run.limits if when > run.refused[0][1] + 0.5]
    assert min(settled) >= 2
    assert max(settled) <= 4


async def test_refusals_answered_at_once_do_not_pass_for_a_server_that_admits_nothing() -> None:
    """When a 429 comes back at once but a success after 50 ms, requests still in flight are not counted as refused:
    the limit does not collapse below the server's rate x latency."""
    run = await BucketRun(200, 400, refusal_latency=0.0).run()
    settled = [limit for when, limit in run.limits if when > run.refused[0][1]]
    assert min(settled) >= 7
