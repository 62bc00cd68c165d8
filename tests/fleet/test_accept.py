"""Accept, then wait, through the emulator on one shared virtual clock: body-less 202s, lost answers, ended states.

Every emulator here runs on the same ``VirtualClock`` as its client, so lifecycles, stale windows and polls are
measured on one time line and no test depends on the machine's speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aiodataops._accepted import Accepted
from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._errors import WaitFailedError
from aiodataops._models import Service, ServiceUpdate, ServiceWorkload, Workload
from aiodataops._polling import PollPolicy
from aiodataops._waiting import WaitEndedError, WaitToken, resume_wait
from aiodataops.emulator import Emulator, FaultRule
from aiodataops.fleet import ErrorKind, Outcome, read_journal

if TYPE_CHECKING:
    from pathlib import Path

# No seeded worker has 5 replicas: the update changes every service (none is ``unchanged``).
UPDATE = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(cpu="2", memory="4", replica="5")))
#: Polls every 0.5-2 s (no jitter), a stale grace of 30 s and a deadline far beyond it, all on the virtual clock.
POLL = PollPolicy(
    first_delay=0.5, growth=1.5, max_delay=2.0, min_delay=0.25, jitter=False, deadline=300.0, stale_grace=30.0
)
NO_BODY = FaultRule(operation="update_service", kind="accept_no_body", rate=1.0)


def emulator(clock: VirtualClock, **overrides: object) -> Emulator:
    """An emulator of 4 services on ``clock`` whose reads lag 3 s behind an update of 1 s (stale outlasts it)."""
    settings: dict[str, object] = {
        "data_ops": 1,
        "services_per_data_ops": 4,
        "update_duration": (1.0, 1.0),
        "stale_read_seconds": 3.0,
        "clock": clock,
    }
    settings.update(overrides)
    return Emulator(**settings)  # type: ignore[arg-type]


def client_of(emu: Emulator, clock: VirtualClock) -> DataOpsClient:
    return DataOpsClient(emu.base_url, emu.credentials, poll=POLL, clock=clock)


@pytest.mark.anyio
async def test_a_bodyless_202_during_stale_reads_fails_the_fleet_target_that_ends_in_error() -> None:
    """A 202 without a body, reads still stale, an update that ends in ERROR: the fleet reports it failed, ERROR."""
    clock = VirtualClock()
    async with emulator(clock, faults=(NO_BODY,), error_rate=1.0) as emu, client_of(emu, clock) as client:
        ids = emu.service_ids()[:2]
        report = await client.fleet.apply([(sid, UPDATE) for sid in ids], max_failures=None)
        truth = {sid: emu.service_state(sid) for sid in ids}
    assert truth == dict.fromkeys(ids, "ERROR")
    for item in report.items:
        assert item.outcome is Outcome.FAILED, item
        assert item.final_state == "ERROR"
        assert item.error is not None
        assert item.error.kind == ErrorKind.WAIT_FAILED
        assert item.error.kind == "wait_failed"
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}


@pytest.mark.anyio
async def test_a_bodyless_202_during_stale_reads_fails_update_and_wait_too() -> None:
    """update_and_wait after the same body-less 202 fails with the ERROR state, never settles on a stale read."""
    clock = VirtualClock()
    async with emulator(clock, faults=(NO_BODY,), error_rate=1.0) as emu, client_of(emu, clock) as client:
        sid = emu.service_ids()[0]
        with pytest.raises(WaitFailedError) as info:
            await client.services.update_and_wait(sid, UPDATE)
    assert info.value.last_state == "ERROR"
    assert isinstance(info.value.last_body, Service)


@pytest.mark.anyio
async def test_a_bodyless_202_that_settles_is_followed_to_the_update_in_place() -> None:
    """put() answers Accepted without a body; wait_accepted ends RUNNING with the new workload, never the stale read."""
    clock = VirtualClock()
    async with emulator(clock, faults=(NO_BODY,)) as emu, client_of(emu, clock) as client:
        sid = emu.service_ids()[0]
        accepted = await client.services.put(sid, UPDATE)
        assert (accepted.resource_id, accepted.kind, accepted.body, accepted.state) == (sid, "service", None, None)
        settled = await client.services.wait_accepted(accepted)
    assert settled.state == "RUNNING"
    assert settled.service_workload is not None
    assert settled.service_workload.worker is not None
    assert settled.service_workload.worker.cpu == "2"
    assert clock.now() >= 3.0  # the stale window had to pass before a read could count


@pytest.mark.anyio
async def test_a_token_for_a_bodyless_acceptance_resumes_with_the_same_proof_rule(tmp_path: Path) -> None:
    """A WaitToken made from a body-less Accepted keeps sent_at through JSON and its resume fails on the real ERROR."""
    clock = VirtualClock()
    async with emulator(clock, faults=(NO_BODY,), error_rate=1.0) as emu, client_of(emu, clock) as client:
        sid = emu.service_ids()[0]
        accepted = await client.services.put(sid, UPDATE)
        token = WaitToken.for_accepted(accepted, policy=POLL)
        again = WaitToken.from_json(token.to_json())
        assert again == token
        assert (again.accepted_modified_dt, again.sent_at) == (None, accepted.sent_at)
        with pytest.raises(WaitFailedError) as info:
            await resume_wait(again, client)
    assert info.value.last_state == "ERROR"


@pytest.mark.anyio
async def test_the_journal_records_a_bodyless_acceptance_with_its_send_time(tmp_path: Path) -> None:
    """The fleet journal's token for a body-less 202 has no modified_dt but the PUT's send time."""
    clock = VirtualClock()
    journal = tmp_path / "run.jsonl"
    async with emulator(clock, faults=(NO_BODY,)) as emu, client_of(emu, clock) as client:
        sid = emu.service_ids()[0]
        report = await client.fleet.apply([(sid, UPDATE)], journal=journal)
    assert report.items[0].outcome is Outcome.SUCCEEDED
    token = read_journal(journal).accepted[sid]
    assert token.accepted_modified_dt is None
    assert token.sent_at is not None


@pytest.mark.anyio
async def test_lost_put_answers_while_reads_lag_are_never_sent_twice() -> None:
    """40 services, half the PUT answers lost after the update applied, reads lagging: each accepts exactly one PUT."""
    clock = VirtualClock()
    drop = FaultRule(operation="update_service", kind="drop_after_apply", rate=0.5)
    # Reads lag 3 s behind updates of 0.5-2 s: before the fix, 16 of these 40 services accepted the PUT twice.
    settings = {"services_per_data_ops": 20, "data_ops": 2, "update_duration": (0.5, 2.0), "stale_read_seconds": 3.0}
    async with emulator(clock, faults=(drop,), seed=3, **settings) as emu, client_of(emu, clock) as client:
        ids = emu.service_ids()
        assert len(ids) == 40
        report = await client.fleet.apply([(sid, UPDATE) for sid in ids], concurrency=4, max_failures=None)
        assert emu.counters.faults["update_service", "drop_after_apply"] > 5
        bodies = {sid: emu.service_body(sid) for sid in ids}
    assert report.counts["succeeded"] == 40, [i for i in report.items if i.outcome is not Outcome.SUCCEEDED]
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}
    assert len(emu.counters.accepted_puts_per_service) == 40
    assert {b["service_workload"]["worker"]["cpu"] for b in bodies.values()} == {"2"}


@pytest.mark.anyio
async def test_updates_that_end_stopped_are_failed_at_once_not_timed_out() -> None:
    """An update ending STOPPED is reported failed (wait_ended, final state STOPPED) within a poll or two."""
    clock = VirtualClock()
    async with emulator(clock, stale_read_seconds=0.0) as emu, client_of(emu, clock) as client:
        ids = emu.service_ids()
        emu.force_outcome(ids[0], "STOPPED")
        emu.force_outcome(ids[1], "UNDEPLOYED")
        report = await client.fleet.apply([(sid, UPDATE) for sid in ids], max_failures=None)
    by_id = {item.data_ops_service_id: item for item in report.items}
    for sid, state in ((ids[0], "STOPPED"), (ids[1], "UNDEPLOYED")):
        item = by_id[sid]
        assert item.outcome is Outcome.FAILED
        assert item.final_state == state
        assert item.error is not None
        assert (item.error.kind, item.error.status) == (ErrorKind.WAIT_ENDED, None)
        assert state in item.error.message
        assert item.polls <= 4
        assert item.settle_seconds is not None
        assert item.settle_seconds < 10
    assert [by_id[sid].outcome for sid in ids[2:]] == [Outcome.SUCCEEDED] * 2


@pytest.mark.anyio
async def test_update_and_wait_ending_stopped_raises_wait_ended_with_the_state() -> None:
    """update_and_wait on an update that ends STOPPED raises WaitEndedError with STOPPED, long before the deadline."""
    clock = VirtualClock()
    async with emulator(clock) as emu, client_of(emu, clock) as client:
        sid = emu.service_ids()[0]
        emu.force_outcome(sid, "STOPPED")
        with pytest.raises(WaitEndedError) as info:
            await client.services.update_and_wait(sid, UPDATE)
    assert info.value.final_state == "STOPPED"
    assert info.value.elapsed < 30


@pytest.mark.anyio
async def test_an_accepted_carries_its_request_and_compares_without_it() -> None:
    """Two Accepted values of one change are equal whatever request they carry (the request is not identity)."""
    clock = VirtualClock()
    async with emulator(clock) as emu, client_of(emu, clock) as client:
        sid = emu.service_ids()[0]
        accepted = await client.services.put(sid, UPDATE)
        await client.services.wait_accepted(accepted)
    assert accepted.request == UPDATE
    assert accepted.state == "UPDATING"
    same: Accepted[Service] = Accepted(sid, "service", accepted.body, accepted.sent_at)
    assert same == accepted
