"""Counters see every request: by operation and status, concurrency, PUTs per service, and a log without secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest
from _emulator_helpers import Caller

from aiodataops._signing import Credentials
from aiodataops.emulator import Emulator, FaultRule, LogEntry

if TYPE_CHECKING:
    import aiohttp

    from aiodataops._clock import VirtualClock

pytestmark = pytest.mark.anyio


async def test_requests_by_operation_and_status(emu: Emulator, call) -> None:
    """Each answered request is counted under (operation, status), unknown paths under 'unknown'."""
    service_id = emu.service_ids()[0]
    await call("GET", f"/v1/data-ops-services/{service_id}")
    await call("GET", f"/v1/data-ops-services/{service_id}")
    await call("GET", "/v1/data-ops-services/DOPS_SERVICE-x")  # a malformed id: 400, as live
    await call("GET", "/v1/elsewhere")
    await call("GET", "/v1/data-ops", credentials=Credentials("nobody", "nothing"))
    assert emu.counters.requests == {
        ("get_service", 200): 2,
        ("get_service", 400): 1,
        ("unknown", 404): 1,
        ("list_data_ops", 401): 1,
    }
    assert emu.counters.total("get_service") == 3
    assert emu.counters.by_status()[404] == 1


async def test_puts_per_service_and_accepted(emu: Emulator, call) -> None:
    """Every PUT counts in puts_per_service; only those answered 202 count as accepted."""
    service_id = emu.service_ids()[0]
    path = f"/v1/data-ops-services/{service_id}"
    results = [(await call("PUT", path, body))[0] for body in ({"nope": 1}, {"description": "a"}, {"description": "b"})]
    assert results == [400, 202, 409]
    assert emu.counters.puts_per_service[service_id] == 3
    assert emu.counters.accepted_puts_per_service[service_id] == 1


async def test_log_has_no_secrets(emu: Emulator, call) -> None:
    """The request log holds method, raw path with query, operation and status, and no key, signature or password."""
    service_id = emu.service_ids()[0]
    await call("GET", "/v1/data-ops-services?page=0&size=2&sort=created_dt%3Adesc")
    await call("GET", f"/v1/data-ops-services/{service_id}")
    assert emu.counters.log == [
        LogEntry("GET", "/v1/data-ops-services?page=0&size=2&sort=created_dt%3Adesc", "list_services", 200),
        LogEntry("GET", f"/v1/data-ops-services/{service_id}", "get_service", 200),
    ]
    text = repr(emu.counters.log) + repr(emu.counters)
    password = emu.service_body(service_id)["account"]["account_password"]
    for secret in (emu.credentials.secret_key, password, "Scp-Signature"):
        assert secret not in text


async def test_faults_are_counted(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """Injected faults are counted per (operation, kind) and their answers per (operation, status)."""
    async with Emulator(clock=clock, faults=[FaultRule("list_data_ops", "429", limit=2)]) as emu:
        call = Caller(session, emu)
        for _ in range(3):
            await call("GET", "/v1/data-ops")
    assert emu.counters.faults == {("list_data_ops", "429"): 2}
    assert emu.counters.requests == {("list_data_ops", 429): 2, ("list_data_ops", 200): 1}


async def test_max_in_flight(session: aiohttp.ClientSession) -> None:
    """max_in_flight records how many requests were inside the emulator at the same time."""
    async with Emulator(faults=[FaultRule("list_data_ops", "slow", delay=0.3)]) as emu:
        call = Caller(session, emu)
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(call, "GET", "/v1/data-ops")
        assert (emu.counters.in_flight, emu.counters.max_in_flight) == (0, 8)


async def test_reset_clears_counts(emu: Emulator, call) -> None:
    """reset() forgets requests, PUT counts, faults and the log."""
    await call("PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", {"description": "a"})
    emu.counters.reset()
    assert (emu.counters.requests, emu.counters.puts_per_service, emu.counters.log) == ({}, {}, [])
    assert emu.counters.max_in_flight == 0


async def test_log_limit_keeps_recent_entries(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """With log_limit=4 the log keeps at most 4 entries, the most recent last."""
    async with Emulator(clock=clock, log_limit=4) as emu:
        call = Caller(session, emu)
        for page in range(9):
            await call("GET", f"/v1/data-ops?page={page}")
    assert len(emu.counters.log) <= 4
    assert emu.counters.log[-1].path == "/v1/data-ops?page=8"
    assert emu.counters.total() == 9
