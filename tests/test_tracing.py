"""``DataOpsClient(trace_configs=[...])``: aiohttp's request tracing sees every attempt the client makes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from aiodataops import DataOpsClient, PollPolicy, ServiceUpdate, VirtualClock
from aiodataops.emulator import Emulator, FaultRule

if TYPE_CHECKING:
    from types import SimpleNamespace

pytestmark = pytest.mark.anyio

QUICK_POLLS = PollPolicy(first_delay=0.2, growth=1.5, max_delay=1.0, min_delay=0.1, deadline=60.0)


class Recorder:
    """A custom ``TraceConfig`` that writes down each request's start and end, and each exception."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.ended: list[tuple[str, str, int]] = []
        self.failed: list[tuple[str, str]] = []
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self.on_start)
        self.config.on_request_end.append(self.on_end)
        self.config.on_request_exception.append(self.on_exception)

    async def on_start(
        self, _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        self.started.append((params.method, params.url.raw_path_qs))

    async def on_end(
        self, _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        self.ended.append((params.method, params.url.raw_path_qs, params.response.status))

    async def on_exception(
        self, _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
    ) -> None:
        self.failed.append((params.method, params.url.raw_path_qs))


async def test_a_custom_trace_config_sees_every_request_of_a_fleet_run_retries_included() -> None:
    """Each request the emulator answered in a 12-service fleet run, throttled ones too, passed the trace hooks."""
    clock = VirtualClock()
    recorder = Recorder()
    throttled = FaultRule("update_service", "503", rate=0.3, retry_after=1)
    async with (
        Emulator(data_ops=2, services=12, update_duration=(0.2, 0.6), seed=3, clock=clock, faults=[throttled]) as emu,
        DataOpsClient(
            emu.base_url, emu.credentials, clock=clock, poll=QUICK_POLLS, trace_configs=[recorder.config]
        ) as client,
    ):
        update = ServiceUpdate(description="traced")
        targets = [(service.id, update) async for service in client.services.list()]
        report = await client.fleet.apply(targets, concurrency=4)
        answered = [(entry.method, entry.path, entry.status) for entry in emu.counters.log]
    assert report.total == 12
    assert emu.counters.total(status=503) > 0  # some attempts were refused and retried
    assert recorder.failed == []
    assert sorted(recorder.ended) == sorted(answered)
    assert len(recorder.started) == len(answered)
    puts = [request for request in recorder.started if request[0] == "PUT"]
    assert len({path for _, path in puts}) == 12  # every service's update, each attempt of it
    assert len(puts) == emu.counters.total("update_service")
