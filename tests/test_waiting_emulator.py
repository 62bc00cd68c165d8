"""Waiting end to end against the emulator over HTTP: stale reads, ERROR, 429, tokens, cancellation.

Most tests share one VirtualClock between the emulator's lifecycle and the client, so realistic durations (a 5 s
stale window, 20-40 s updates, the default poll policy) run in milliseconds of real time and the same way on
every run.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._errors import WaitFailedError, WaitTimeoutError
from aiodataops._models import DataOpsUpdate, Service, ServiceCreate, ServiceUpdate, ServiceWorkload, Workload
from aiodataops._polling import PollPolicy
from aiodataops._retry import RetryPolicy
from aiodataops._waiting import StateEvent, WaitToken, resume_wait, wait_settled
from aiodataops.emulator import PASSWORD_MARK, Emulator, FaultRule

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

LIFECYCLE: dict[str, Any] = {
    "data_ops": 1,
    "services_per_data_ops": 3,
    "stale_read_seconds": 5.0,
    "update_duration": (20.0, 40.0),
    "create_duration": (30.0, 60.0),
    "delete_duration": (10.0, 20.0),
}


def connect(emu: Emulator, **kwargs: Any) -> DataOpsClient:
    """A client of this emulator on the emulator's own clock."""
    kwargs.setdefault("clock", emu.clock)
    return DataOpsClient(emu.base_url, emu.credentials, **kwargs)


def client_tasks() -> set[asyncio.Task[Any]]:
    """Every task of this loop except the emulator's own connection handlers (the server side of the test)."""
    return {task for task in asyncio.all_tasks() if not task.get_coro().__qualname__.startswith("RequestHandler.")}


def bigger_workers() -> ServiceUpdate:
    return ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(cpu="4", memory="8", replica="3")))


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(clock=VirtualClock(), **LIFECYCLE) as server:
        yield server


# -- the settle rule over HTTP ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_stale_reads_after_the_202_do_not_settle_early(emu: Emulator) -> None:
    """During the stale window the old RUNNING snapshot is read and ignored; the result is newer than the 202."""
    sid = emu.service_ids()[0]
    events: list[StateEvent] = []
    async with connect(emu) as client:
        accepted = await client.services.update(sid, bigger_workers())
        assert accepted.state == "UPDATING"
        result = await wait_settled(client.services.get, sid, after=accepted, clock=emu.clock, on_event=events.append)
    assert result is not None
    assert result.state == "RUNNING"
    assert result.modified_dt is not None
    assert accepted.modified_dt is not None
    assert result.modified_dt >= accepted.modified_dt
    assert result.service_workload is not None
    assert result.service_workload.worker is not None
    assert result.service_workload.worker.replica == "3"
    assert emu.service_state(sid) == "RUNNING"
    stale = [e for e in events if e.kind == "stale"]
    assert stale, "the 5 s stale window should have produced ignored reads"
    assert all(e.new_state == "RUNNING" and e.elapsed < 5.0 for e in stale)
    assert events[-1].kind == "settled"
    assert events[-1].elapsed >= 20.0  # no earlier than the update can have finished


@pytest.mark.anyio
async def test_fixing_a_broken_service_ignores_its_stale_error_reads(emu: Emulator) -> None:
    """Updating a service that was in ERROR: the stale ERROR reads after the 202 do not fail the wait."""
    sid = emu.service_ids()[1]
    emu.set_state(sid, "ERROR")
    events: list[StateEvent] = []
    async with connect(emu) as client:
        accepted = await client.services.update(sid, bigger_workers())
        result = await client.services.wait_settled(sid, after=accepted, on_event=events.append)
    assert result is not None
    assert result.state == "RUNNING"
    assert any(e.kind == "stale" and e.new_state == "ERROR" for e in events)


@pytest.mark.anyio
async def test_title_case_states_settle_the_same_way() -> None:
    """An emulator answering 'Running'/'Updating' settles a wait exactly as upper-case states do."""
    async with Emulator(clock=VirtualClock(), state_case="title", **LIFECYCLE) as emu:
        sid = emu.service_ids()[1]
        async with connect(emu) as client:
            accepted = await client.services.update(sid, bigger_workers())
            assert accepted.state == "Updating"
            result = await client.services.wait_settled(sid, after=accepted)
        assert result is not None
        assert result.state == "Running"


# -- outcomes -----------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_error_fails_fast_with_the_last_state() -> None:
    """An update that ends in ERROR raises WaitFailedError at the first fresh ERROR read, without a further poll."""
    async with Emulator(clock=VirtualClock(), error_rate=1.0, **LIFECYCLE) as emu:
        sid = emu.service_ids()[0]
        async with connect(emu) as client:
            accepted = await client.services.update(sid, bigger_workers())
            emu.counters.reset()
            with pytest.raises(WaitFailedError) as info:
                await client.services.wait_settled(sid, after=accepted)
        error = info.value
        assert error.last_state == "ERROR"
        assert emu.service_state(sid) == "ERROR"
        assert isinstance(error.last_body, Service)
        assert error.last_body.modified_dt is not None
        assert accepted.modified_dt is not None
        assert error.last_body.modified_dt >= accepted.modified_dt
        assert error.polls == emu.counters.total("get_service", 200)
        assert error.polls > 1
        assert 20.0 <= error.elapsed < 60.0
        assert PASSWORD_MARK not in repr(error.last_body)
        assert PASSWORD_MARK not in str(error)


@pytest.mark.anyio
async def test_an_unknown_state_keeps_polling_and_is_reported(emu: Emulator) -> None:
    """A state the SDK does not know is reported as an 'unknown' event and polling goes on until RUNNING."""
    sid = emu.service_ids()[0]
    events: list[StateEvent] = []

    def on_event(event: StateEvent) -> None:
        events.append(event)
        if event.kind == "unknown":
            emu.set_state(sid, "RUNNING")  # the operator fixed it: the wait must still be polling to see that

    async with connect(emu) as client:
        accepted = await client.services.update(sid, bigger_workers())
        emu.set_state(sid, "MAINTENANCE")
        result = await client.services.wait_settled(sid, after=accepted, on_event=on_event)
    assert result is not None
    assert result.state == "RUNNING"
    unknown = [e for e in events if e.kind == "unknown"]
    assert [e.new_state for e in unknown] == ["MAINTENANCE"]
    assert events[-1].kind == "settled"


@pytest.mark.anyio
async def test_timeout_carries_the_last_state_and_poll_count() -> None:
    """An update slower than the deadline raises WaitTimeoutError with UPDATING and the number of GETs made."""
    clock = VirtualClock()
    async with Emulator(clock=clock, **{**LIFECYCLE, "update_duration": (3600.0, 3600.0)}) as emu:
        sid = emu.service_ids()[0]
        async with connect(emu, poll=PollPolicy(deadline=300.0)) as client:
            accepted = await client.services.update(sid, bigger_workers())
            emu.counters.reset()
            started = clock.now()
            with pytest.raises(WaitTimeoutError) as info:
                await client.services.wait_settled(sid, after=accepted)
        error = info.value
        assert error.last_state == "UPDATING"
        assert error.polls == emu.counters.total("get_service")
        assert error.polls >= 300 / 15
        assert error.elapsed == pytest.approx(300.0)
        assert clock.now() - started == pytest.approx(300.0)
        assert "300" in str(error)


@pytest.mark.anyio
async def test_throttling_while_polling_is_waited_out(emu: Emulator) -> None:
    """429s from get_service are ridden out, each next poll waiting the server's Retry-After."""
    sid = emu.service_ids()[2]
    emu.faults = (FaultRule("get_service", "429", rate=1.0, retry_after=20, limit=4),)
    clock = emu.clock
    assert isinstance(clock, VirtualClock)
    events: list[StateEvent] = []
    # No transport retries: the waiter itself must meet, and wait out, every 429.
    async with connect(emu, retry=RetryPolicy(max_attempts=1)) as client:
        accepted = await client.services.update(sid, bigger_workers())
        result = await client.services.wait_settled(sid, after=accepted, on_event=events.append)
    assert result is not None
    assert result.state == "RUNNING"
    assert emu.counters.total("get_service", 429) == 4
    assert [e.kind for e in events].count("throttled") == 4
    assert clock.sleeps[1:5] == [20.0] * 4


# -- resuming ---------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_token_resumes_the_wait_in_a_new_client(emu: Emulator) -> None:
    """A token written as JSON after the 202 lets a new client finish the wait, still refusing stale reads."""
    sid = emu.service_ids()[1]
    async with connect(emu) as first:
        accepted = await first.services.update(sid, bigger_workers())
        text = WaitToken.for_accepted(accepted, policy=first.poll_policy).to_json()
    assert isinstance(text, str)
    token = WaitToken.from_json(text)
    events: list[StateEvent] = []
    async with connect(emu) as second:
        result = await resume_wait(token, second, on_event=events.append)
    assert result is not None
    assert result.state == "RUNNING"
    assert accepted.modified_dt is not None
    assert result.modified_dt is not None
    assert result.modified_dt >= accepted.modified_dt
    # Resumed inside the stale window: the first read (old RUNNING) is refused.
    assert events[0].kind == "stale"


# -- cancellation ------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancelling_between_polls_leaves_nothing_running(emu: Emulator) -> None:
    """Cancelling a wait while it sleeps between polls stops it at once: no task, no request in flight."""
    sid = emu.service_ids()[0]
    before = client_tasks()
    async with connect(emu) as client:
        accepted = await client.services.update(sid, bigger_workers())
        with anyio.CancelScope() as scope:

            def on_event(event: StateEvent) -> None:
                if event.kind == "stale":
                    scope.cancel()

            await client.services.wait_settled(sid, after=accepted, on_event=on_event)
        assert scope.cancelled_caught
        gets = emu.counters.total("get_service")
        assert emu.counters.in_flight == 0
        assert client_tasks() == before
    assert emu.counters.total("get_service") == gets
    assert emu.service_state(sid) == "UPDATING"  # the change itself goes on: only local polling stopped


@pytest.mark.anyio
async def test_cancelling_mid_request_leaves_nothing_running() -> None:
    """Cancelling a wait during a slow GET drops that request; once the server is done with it nothing remains."""
    # The real clock here: the emulator must really hold the request while the wait is cancelled.
    async with Emulator(**{**LIFECYCLE, "stale_read_seconds": 0.0}) as emu:
        sid = emu.service_ids()[0]
        emu.faults = (FaultRule("get_service", "slow", rate=1.0, delay=0.3, limit=1),)
        before = client_tasks()
        async with connect(emu) as client:
            async with anyio.create_task_group() as group:
                group.start_soon(lambda: client.services.wait_settled(sid))
                with anyio.fail_after(5):
                    while emu.counters.in_flight == 0:  # noqa: ASYNC110 -- nothing to await: the request is in the server
                        await anyio.sleep(0.005)
                group.cancel_scope.cancel()
            assert client_tasks() == before
        with anyio.fail_after(5):
            while emu.counters.in_flight:  # noqa: ASYNC110 -- the emulator ends its 0.3 s delay for a client long gone
                await anyio.sleep(0.01)
        assert client_tasks() == before
        assert emu.counters.total("get_service") == 1


# -- through the client's own waiting methods -------------------------------------------------------------------


@pytest.mark.anyio
async def test_update_and_wait_returns_the_changed_service(emu: Emulator) -> None:
    """client.services.update_and_wait spans the stale window and returns the body that shows the change."""
    sid = emu.service_ids()[2]
    async with connect(emu) as client:
        result = await client.services.update_and_wait(sid, bigger_workers())
    assert result.state == "RUNNING"
    assert result.service_workload is not None
    assert result.service_workload.worker is not None
    assert result.service_workload.worker.replica == "3"


@pytest.mark.anyio
async def test_delete_and_wait_settles_when_the_service_is_gone(emu: Emulator) -> None:
    """client.services.delete_and_wait returns once GET answers 404, and the service is really gone."""
    sid = emu.service_ids()[0]
    async with connect(emu) as client:
        await client.services.delete_and_wait(sid)
    assert sid not in emu.service_ids()
    assert emu.counters.total("get_service", 404) == 1


@pytest.mark.anyio
async def test_create_and_wait_rides_out_the_404s_of_a_new_service() -> None:
    """A new service reads 404 during a 20 s stale window; create_and_wait waits through it to RUNNING."""
    async with Emulator(clock=VirtualClock(), **{**LIFECYCLE, "stale_read_seconds": 20.0}) as emu:
        # No jitter: polls at 1, 2.5, 4.75, 8.1, 13.2 s all fall in the window, so the count below is exact.
        async with connect(emu, poll=PollPolicy(jitter=False, growth=1.5)) as client:
            model = await client.services.get(emu.service_ids()[0])
            assert model.data_ops_id is not None
            assert model.host_alias is not None
            assert model.service_workload is not None
            assert model.domain is not None
            assert model.storage_class_name is not None
            request = ServiceCreate(
                data_ops_id=model.data_ops_id,
                data_ops_service_name="fresh-svc-01",
                domain=model.domain,
                host_alias=model.host_alias,
                service_workload=model.service_workload,
                storage_class_name=model.storage_class_name,
                worker_type=model.worker_type or "CeleryExecutor",
            )
            result = await client.services.create_and_wait(request)
        assert result.state == "RUNNING"
        assert result.data_ops_service_name == "fresh-svc-01"
        assert emu.counters.total("get_service", 404) == 5  # more than an update would tolerate (max_not_found=3)


@pytest.mark.anyio
async def test_a_data_ops_update_waits_the_same_way(emu: Emulator) -> None:
    """Data ops use the same settle rule: the stale window is ridden out and the result shows the change."""
    did = emu.data_ops_ids()[0]
    events: list[StateEvent] = []
    async with connect(emu) as client:
        result = await client.data_ops.update_and_wait(
            did, DataOpsUpdate(description="waited for"), on_event=events.append
        )
    assert result.state == "RUNNING"
    assert result.description == "waited for"
    assert any(e.kind == "stale" for e in events)
