"""DataOpsServiceSettledTrigger against a real emulator: one event per outcome, JSON only, clean cancellation.

Client and emulator both run in real time here (the trigger builds its own client from the connection, so it
cannot share a virtual clock); the emulator's durations are short, and the deadlines too.
"""

from __future__ import annotations

import json

import anyio
import pytest

from aiodataops import DataOpsClient, PollPolicy, ServiceUpdate, ServiceWorkload, WaitToken, Workload
from aiodataops.airflow import DataOpsServiceSettledTrigger
from aiodataops.emulator import PASSWORD_MARK, Emulator
from tests_airflow._support import use_emulator

FAST = PollPolicy(first_delay=0.05, max_delay=0.1, min_delay=0.01, deadline=10)
SCALE = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(replica="4")))


async def accept(emu: Emulator, policy: PollPolicy = FAST) -> WaitToken:
    """Send an update to the emulator's first service; the token of its acceptance."""
    async with DataOpsClient(emu.base_url, emu.credentials) as client:
        accepted = await client.services.update(emu.service_ids()[0], SCALE)
    return WaitToken.for_accepted(accepted, policy=policy)


async def first_event(trigger: DataOpsServiceSettledTrigger) -> dict[str, object]:
    """Run the trigger to its first event; assert it yields exactly one."""
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    payload = events[0].payload
    assert isinstance(payload, dict)
    json.dumps(payload)  # JSON data only: what the triggerer stores
    return payload


def test_serialize_round_trip() -> None:
    """``serialize()`` gives the public class path and JSON kwargs that rebuild an equal trigger."""
    token = WaitToken.start("DOPS_SERVICE-1", kind="service", policy=PollPolicy(deadline=60))
    trigger = DataOpsServiceSettledTrigger(token.to_json(), "my_conn", {"first_delay": 2.0, "max_delay": 20.0})
    classpath, kwargs = trigger.serialize()
    assert classpath == "aiodataops.airflow.DataOpsServiceSettledTrigger"
    rebuilt = DataOpsServiceSettledTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.wait_token == token
    assert rebuilt.scp_conn_id == "my_conn"
    assert (rebuilt.policy.first_delay, rebuilt.policy.max_delay) == (2.0, 20.0)


def test_a_bad_token_or_poll_setting_is_refused_when_built() -> None:
    """A malformed token or an unknown poll setting raises at once, in the worker that defers, not in the triggerer."""
    with pytest.raises(ValueError, match="wait token"):
        DataOpsServiceSettledTrigger('{"v": 1}')
    token = WaitToken.start("DOPS_SERVICE-1", kind="service").to_json()
    with pytest.raises(ValueError, match="unknown setting"):
        DataOpsServiceSettledTrigger(token, poll={"first_dely": 1})


@pytest.mark.anyio
async def test_settled_event_carries_the_final_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """An update that settles yields one ``settled`` event with the final service as JSON, without its password."""
    async with Emulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        token = await accept(emu)
        trigger = DataOpsServiceSettledTrigger(**DataOpsServiceSettledTrigger(token.to_json()).serialize()[1])
        with anyio.fail_after(20):
            event = await first_event(trigger)
    assert event["status"] == "settled"
    assert event["state"] == "RUNNING"
    assert event["data_ops_service_id"] == token.resource_id
    service = event["service"]
    assert isinstance(service, dict)
    assert service["service_workload"]["worker"]["replica"] == "4"
    assert PASSWORD_MARK not in json.dumps(event)
    assert "account_password" not in json.dumps(event)


@pytest.mark.anyio
async def test_error_state_yields_a_failed_event_with_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """An update that ends in ERROR yields one ``failed`` event carrying the state and a message."""
    async with Emulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        emu.force_outcome(emu.service_ids()[0], "ERROR")
        token = await accept(emu)
        with anyio.fail_after(20):
            event = await first_event(DataOpsServiceSettledTrigger(token.to_json()))
    assert event["status"] == "failed"
    assert event["state"] == "ERROR"
    assert "ended in state ERROR" in str(event["message"])


@pytest.mark.anyio
async def test_error_rate_one_fails_every_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the emulator's ``error_rate=1.0`` the trigger reports ``failed`` too (the seeded path, not a forced one)."""
    async with Emulator(update_duration=(0.05, 0.1), error_rate=1.0) as emu:
        use_emulator(monkeypatch, emu)
        token = await accept(emu)
        with anyio.fail_after(20):
            event = await first_event(DataOpsServiceSettledTrigger(token.to_json()))
    assert (event["status"], event["state"]) == ("failed", "ERROR")


@pytest.mark.anyio
async def test_deadline_yields_timed_out_with_the_last_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service still UPDATING at the token's deadline yields ``timed_out`` with that last state."""
    async with Emulator(update_duration=(60, 60)) as emu:
        use_emulator(monkeypatch, emu)
        token = await accept(emu, policy=PollPolicy(first_delay=0.05, max_delay=0.1, min_delay=0.01, deadline=0.5))
        with anyio.fail_after(20):
            event = await first_event(DataOpsServiceSettledTrigger(token.to_json(), poll={"first_delay": 0.05}))
    assert event["status"] == "timed_out"
    assert event["state"] == "UPDATING"
    assert "not settled" in str(event["message"])


@pytest.mark.anyio
async def test_a_stopped_service_fails_at_once_with_its_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """STOPPED is terminal but not the goal: one ``failed`` event naming STOPPED, not a time-out at the deadline."""
    async with Emulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        emu.force_outcome(emu.service_ids()[0], "STOPPED")
        token = await accept(emu, policy=PollPolicy(first_delay=0.05, max_delay=0.1, min_delay=0.01, deadline=1.0))
        with anyio.fail_after(20):
            event = await first_event(DataOpsServiceSettledTrigger(token.to_json(), poll={"first_delay": 0.05}))
    assert (event["status"], event["state"]) == ("failed", "STOPPED")
    assert event["polls"] < 10


@pytest.mark.anyio
async def test_a_vanished_service_yields_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token for a service that does not exist ends in one ``error`` event (404s), not an exception."""
    async with Emulator() as emu:
        use_emulator(monkeypatch, emu)
        token = WaitToken.start("DOPS_SERVICE-00000000-0000-0000-0000-000000000000", kind="service", policy=FAST)
        with anyio.fail_after(20):
            event = await first_event(DataOpsServiceSettledTrigger(token.to_json(), poll={"first_delay": 0.05}))
    assert event["status"] == "error"
    assert event["error"] == "WaitVanishedError"


@pytest.mark.anyio
async def test_cancelling_run_stops_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelling ``run()`` (the triggerer does on a cleared task) stops the polls at once and leaves nothing open."""
    async with Emulator(update_duration=(60, 60)) as emu:
        use_emulator(monkeypatch, emu)
        token = await accept(emu)
        trigger = DataOpsServiceSettledTrigger(token.to_json(), poll={"first_delay": 0.05, "max_delay": 0.05})

        async def consume() -> None:
            async for _ in trigger.run():
                pytest.fail("no event expected before the cancel")

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(consume)
                while emu.counters.total("get_service") < 3:  # noqa: ASYNC110 -- the emulator counts; nothing to await
                    await anyio.sleep(0.02)
                group.cancel_scope.cancel()
        polls = emu.counters.total("get_service")
        await anyio.sleep(0.3)
        assert emu.counters.total("get_service") == polls
