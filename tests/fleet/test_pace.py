"""A fleet's pace: ``concurrency="auto"`` follows the client's adaptive limit; a number keeps today's fixed pool."""

from __future__ import annotations

import argparse

import aiohttp
import anyio
import pytest

from aiodataops import DataOpsClient, PollPolicy, RetryPolicy, ServiceUpdate
from aiodataops._clock import VirtualClock
from aiodataops._errors import ConfigurationError
from aiodataops.cli._argtypes import concurrency_or_auto
from aiodataops.emulator import Emulator
from aiodataops.fleet import FleetEvent, FleetReport, Outcome, PaceChanged, TargetsResolved

pytestmark = pytest.mark.anyio

UPDATE = ServiceUpdate(description="paced")
POLL = PollPolicy(first_delay=1.0, max_delay=4.0, jitter=False)


async def run(
    concurrency: int | str, *, services: int = 60, rate: float = 20.0, burst: int = 5, **apply: object
) -> tuple[FleetReport, Emulator, list[FleetEvent], DataOpsClient]:
    clock = VirtualClock()
    events: list[FleetEvent] = []
    async with (
        Emulator(
            clock=clock, data_ops=1, services=services, update_duration=(2.0, 4.0), rate_limit=rate, rate_burst=burst
        ) as emu,
        DataOpsClient(
            emu.base_url,
            emu.credentials,
            clock=clock,
            poll=POLL,
            retry=RetryPolicy(max_attempts=10, first_delay=0.1),
            concurrency=64,
        ) as client,
    ):
        report = await client.fleet.apply(
            [(sid, UPDATE) for sid in emu.service_ids()],
            concurrency=concurrency,  # type: ignore[arg-type]
            on_event=events.append,
            max_failures=None,
            **apply,  # type: ignore[arg-type]
        )
    return report, emu, events, client


async def test_auto_is_the_default_and_paces_the_fleet_under_a_limit_it_was_not_told() -> None:
    """By default a fleet follows the adaptive limit: every service succeeds, 429s are counted, and the limit moves."""
    report, emu, events, client = await run("auto")
    assert report.counts[str(Outcome.SUCCEEDED)] == 60
    assert report.concurrency == "auto"
    assert report.throttled_requests == emu.counters.total(status=429) == client.throttled_requests
    limiter = client.adaptive_limiter()
    assert limiter.cuts >= 1
    assert report.mean_concurrency is not None
    assert 1 <= report.mean_concurrency <= 64
    changes = [e for e in events if isinstance(e, PaceChanged)]
    assert changes
    assert all(1 <= e.limit <= 64 for e in changes)
    assert report.to_dict()["summary"]["throttled_requests"] == report.throttled_requests
    assert FleetReport.from_dict(report.to_dict()).mean_concurrency == report.mean_concurrency


async def test_auto_keeps_services_in_flight_in_proportion_to_the_limit() -> None:
    """With a cap of 2 requests in flight, the run never keeps more than a few services per slot going."""
    # A burst as large as the rate: on the virtual clock many requests share an instant, and this test is about the
    # cap, not about throttling.
    report, _, _, client = await run("auto", services=80, rate=1000.0, burst=1000, max_concurrency=2)
    assert report.counts[str(Outcome.SUCCEEDED)] == 80
    assert client.adaptive_limiter().max_limit == 2
    assert report.peak_in_flight <= 2 * 8 * 2  # services per slot (8 at first), over 2 slots, with headroom
    assert report.throttled_requests == 0


async def test_a_number_keeps_the_fixed_pool_and_no_limiter() -> None:
    """``concurrency=N`` keeps N services in flight at most and makes no adaptive limiter; throttles still count."""
    report, emu, events, client = await run(8)
    assert report.counts[str(Outcome.SUCCEEDED)] == 60
    assert report.concurrency == 8
    assert report.peak_in_flight <= 8
    assert report.mean_concurrency == 8.0
    assert client._transport.limiter is None
    assert report.throttled_requests == emu.counters.total(status=429)
    assert not [e for e in events if isinstance(e, PaceChanged)]


async def test_bad_pace_options_are_refused_before_any_request() -> None:
    """A concurrency other than a number or 'auto', or a max_concurrency below 1, is a ConfigurationError."""
    clock = VirtualClock()
    async with Emulator(clock=clock) as emu, DataOpsClient(emu.base_url, emu.credentials, clock=clock) as client:
        with pytest.raises(ConfigurationError, match="concurrency"):
            await client.fleet.apply([], concurrency="fast")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="max_concurrency"):
            await client.fleet.apply([], max_concurrency=0)
        assert emu.counters.total() == 0


def test_cli_concurrency_takes_auto_or_a_number() -> None:
    """``--concurrency`` reads 'auto' or a whole number, and refuses anything else."""
    assert concurrency_or_auto("auto") == "auto"
    assert concurrency_or_auto("12") == 12
    with pytest.raises(argparse.ArgumentTypeError):
        concurrency_or_auto("0")


async def test_auto_adds_services_as_the_limit_grows_after_every_target_was_queued() -> None:
    """Workers are still added once the feeder queued every target: the run goes past its first 8 per slot."""
    # Every request is held (in an aiohttp trace hook) until the feeder has queued all 60 targets and said so
    # (``TargetsResolved``): the limit can only grow after that, so only workers added after it can go past the
    # first fan-out of 32. Without the hold the limit grew while the feeder was still queueing, and the test passed
    # with the workers' stream closed at the feeder's end as well.
    queued = anyio.Event()

    async def hold(*_: object) -> None:
        await queued.wait()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(hold)

    def note(event: FleetEvent) -> None:
        if isinstance(event, TargetsResolved):
            queued.set()

    clock = VirtualClock()
    async with (
        Emulator(clock=clock, data_ops=1, services=60, update_duration=(2.0, 4.0)) as emu,
        DataOpsClient(
            emu.base_url, emu.credentials, clock=clock, poll=POLL, concurrency=64, trace_configs=[trace]
        ) as client,
    ):
        report = await client.fleet.apply([(sid, UPDATE) for sid in emu.service_ids()], on_event=note)
    assert queued.is_set()
    assert report.counts[str(Outcome.SUCCEEDED)] == 60
    assert client.adaptive_limiter().peak_in_flight > 4
    assert report.peak_in_flight > 32  # the first fan-out: 8 services for each of the 4 first slots
