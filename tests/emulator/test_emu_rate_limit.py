"""The emulator's rate limit: a token bucket per access key, 429 with Retry-After beyond it, on the emulator's clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _emulator_helpers import Caller

from aiodataops._signing import Credentials
from aiodataops.emulator import Emulator, Latency

if TYPE_CHECKING:
    import aiohttp

    from aiodataops._clock import VirtualClock

pytestmark = pytest.mark.anyio

OTHER = Credentials("EMULATOR-ACCESS-KEY-0002", "another-throwaway-secret")


async def statuses(call: Caller, n: int, credentials: Credentials | None = None) -> list[int]:
    service = call.emu.service_ids()[0]
    return [(await call("GET", f"/v1/data-ops-services/{service}", credentials=credentials))[0] for _ in range(n)]


async def test_burst_then_429_with_retry_after(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A key gets `burst` requests at once, then 429 with a Retry-After saying when the next token arrives."""
    async with Emulator(clock=clock, rate_limit=2, rate_burst=3) as emu:
        call = Caller(session, emu)
        assert await statuses(call, 3) == [200, 200, 200]
        status, body, headers = await call("GET", f"/v1/data-ops-services/{emu.service_ids()[0]}")
        assert status == 429
        assert body["errors"][0]["status"] == 429
        assert float(headers["Retry-After"]) == pytest.approx(0.5)
        assert emu.counters.faults["get_service", "rate_limit"] == 1


async def test_a_429_is_answered_after_the_added_latency_like_a_success(
    clock: VirtualClock, session: aiohttp.ClientSession
) -> None:
    """A refusal pays the configured latency as an answer does (the network round trip), but not the latency that
    grows with load, and its Retry-After is computed when the request arrived."""
    latency = Latency.uniform(0.05, 0.05)
    async with Emulator(clock=clock, rate_limit=10, rate_burst=1, latency=latency, latency_per_in_flight=1.0) as emu:
        call = Caller(session, emu)
        assert await statuses(call, 1) == [200]
        assert clock.now() == pytest.approx(0.05)
        status, _, headers = await call("GET", f"/v1/data-ops-services/{emu.service_ids()[0]}")
        assert status == 429
        assert clock.now() == pytest.approx(0.10)  # the refusal too came back after 50 ms, and only 50 ms
        assert float(headers["Retry-After"]) == pytest.approx(0.05)  # a token every 0.1 s, half of one there


async def test_tokens_refill_at_the_rate_on_the_emulator_clock(
    clock: VirtualClock, session: aiohttp.ClientSession
) -> None:
    """Waiting Retry-After on the emulator's clock earns exactly one more request; a refusal costs no token."""
    async with Emulator(clock=clock, rate_limit=4, rate_burst=1) as emu:
        call = Caller(session, emu)
        assert await statuses(call, 3) == [200, 429, 429]
        clock.advance(0.25)
        assert await statuses(call, 2) == [200, 429]
        clock.advance(10)  # a long quiet spell fills the bucket to its burst only
        assert await statuses(call, 2) == [200, 429]


async def test_each_access_key_has_its_own_bucket(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """One key's exhausted bucket does not throttle another key."""
    async with Emulator(clock=clock, rate_limit=1, rate_burst=1) as emu:
        emu.runtime.credentials[OTHER.access_key] = OTHER
        call = Caller(session, emu)
        assert await statuses(call, 2) == [200, 429]
        assert await statuses(call, 2, OTHER) == [200, 429]


async def test_burst_defaults_to_one_second_and_reconfigure_applies(
    clock: VirtualClock, session: aiohttp.ClientSession
) -> None:
    """Without a burst a key may send one second's worth at once; reconfigure sets or lifts the limit while serving."""
    async with Emulator(clock=clock) as emu:
        call = Caller(session, emu)
        assert await statuses(call, 5) == [200] * 5
        emu.reconfigure(rate_limit=3)
        assert await statuses(call, 4) == [200, 200, 200, 429]
        emu.reconfigure(rate_limit=None)
        assert await statuses(call, 4) == [200] * 4


def test_rate_limit_must_be_positive() -> None:
    """A rate limit or burst of zero or less is refused when the config is built."""
    with pytest.raises(ValueError, match="rate_limit"):
        Emulator(rate_limit=0)
    with pytest.raises(ValueError, match="rate_burst"):
        Emulator(rate_limit=1, rate_burst=-1)
