"""Chaos run: a fleet of 1,000 services updated through seeded faults, checked against the emulator's own truth.

Everything runs in real time on both sides, because a response "slower than the read timeout" only means something
to a real socket timeout; the lifecycle, polls and backoffs are scaled down (tens of milliseconds) so the run takes
seconds. So the test is marked ``slow`` and asserts nothing a loaded machine can break: the fault counts come from the
emulator's seeded decisions, and a busy machine can only make requests slower (more time-outs, which the run must
absorb like any other fault), never faster than the injected delay.
The fault mix per request, drawn by the emulator from its seed: 2% slowed past the client's read timeout, 2.5% each
of 429 with and without ``Retry-After``, 503 JSON with ``Retry-After`` and Envoy's plain-text 503, then 2% dropped
connections (half of them after the request was applied); 5% of accepted updates end in ERROR.
"""

from __future__ import annotations

from collections import Counter

import pytest

from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._models import ServiceUpdate
from aiodataops._polling import PollPolicy
from aiodataops._retry import RetryPolicy
from aiodataops._timeouts import Timeouts
from aiodataops.emulator import Emulator, FaultRule
from aiodataops.fleet import Outcome, parse_plan
from tests.reliability._support import EVERY_SERVICE, Witness

SERVICES = 1000
# Wide apart, so that on a loaded machine an ordinary answer rarely takes as long as the read timeout.
READ_TIMEOUT = 0.5
SLOW = 0.8
FAULTS = (
    # "slow" adds its delay and lets the request go on to meet the other rules, so it comes first.
    FaultRule("*", "slow", rate=0.02, delay=SLOW),
    FaultRule("*", "429", rate=0.025, retry_after=1),
    FaultRule("*", "429", rate=0.025),
    FaultRule("*", "503", rate=0.025, retry_after=1),
    FaultRule("*", "503_text", rate=0.025),
    # Half the dropped connections come after the emulator applied the request: the client cannot know it landed.
    FaultRule("*", "drop_after_apply", rate=0.01),
    FaultRule("*", "drop", rate=0.01),
)
# This emulator answers no stale reads, so the grace a look-before-resend waits out for proof is scaled down with the
# rest (the default 60 s would dominate the run).
POLL = PollPolicy(
    first_delay=0.02, growth=1.5, max_delay=0.1, min_delay=0.01, deadline=30.0, max_retry_after=0.1, stale_grace=1.0
)
# Retry-After: 1 is honoured but capped to 0.1 s, or the run would spend its time asleep.
RETRY = RetryPolicy(first_delay=0.02, max_delay=0.2, max_retry_after=0.1)
# A PUT is sent again (after looking whether it landed) at most this often after a 5xx or no answer; 429s do not
# count. Each send meets such a fault (a 503, a drop, a time-out) with p ~ 0.09 here, so a service is lost to
# transient faults with p ~ 0.09 ** (PUT_RETRIES + 1): with the default of 3 about 1 in 15,000 services (a run of
# 1,000 would fail about once in 15); with 6, about 1 in 20 million.
PUT_RETRIES = 6


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_thousand_services_through_seeded_faults_lose_nothing_and_repeat_nothing() -> None:
    """Every service is reported once; only the emulator's ERRORs fail, with their reason; no PUT after a 202."""
    witness = Witness()
    emulator = Emulator(
        data_ops=10,
        services=SERVICES,
        seed=7,
        update_duration=(0.02, 0.06),
        error_rate=0.05,
        faults=FAULTS,
    )
    witness.attach(emulator)
    plan = parse_plan(EVERY_SERVICE)
    async with emulator as emu:
        client = DataOpsClient(
            emu.base_url, emu.credentials, concurrency=200, poll=POLL, retry=RETRY,
            timeout=Timeouts(read=READ_TIMEOUT, total=5.0),
        )  # fmt: skip
        async with client:
            report = await client.fleet.apply(plan, concurrency=200, max_failures=None, put_retries=PUT_RETRIES)
        ids = emu.service_ids()
        truth = {sid: emu.service_state(sid) for sid in ids}

    # The faults really happened, at about the rates asked for.
    requests = sum(emu.counters.requests.values())
    injected = Counter(kind for (_, kind), n in emu.counters.faults.items() for _ in range(n))
    assert set(injected) == {"429", "503", "503_text", "drop", "drop_after_apply"}
    assert emu.counters.faults["update_service", "drop_after_apply"] > 0
    assert 0.07 * requests < sum(injected.values()) < 0.16 * requests
    # At least the injected 2% took longer than the read timeout; a busy machine may slow others down too, so no
    # upper bound.
    slow = [d for _, _, d in witness.durations if d >= SLOW]
    assert len(slow) > 0.01 * requests
    assert SLOW > READ_TIMEOUT
    errored = {sid for sid, state in truth.items() if state == "ERROR"}
    assert 0.02 * SERVICES < len(errored) < 0.09 * SERVICES
    assert set(truth.values()) == {"RUNNING", "ERROR"}

    # Every service exactly once.
    reported = [item.data_ops_service_id for item in report.items]
    assert len(reported) == SERVICES
    assert sorted(reported) == sorted(ids)

    # Only the emulator's ERRORs failed, each with its reason; everything else succeeded (no transient fault won).
    failed = {item.data_ops_service_id: item for item in report.items if item.outcome is not Outcome.SUCCEEDED}
    assert set(failed) == errored
    for sid, item in failed.items():
        assert item.outcome is Outcome.FAILED
        assert item.final_state == "ERROR"
        assert item.error is not None
        assert item.error.kind == "wait_failed"
        assert "ERROR" in item.error.message
        assert sid in item.error.message
    assert report.counts["succeeded"] == SERVICES - len(errored)

    # Each service accepted exactly one PUT, and none received a PUT after that acceptance.
    accepted = emu.counters.accepted_puts_per_service
    assert set(accepted) == set(ids)
    assert set(accepted.values()) == {1}
    assert witness.puts_after_acceptance() == {}
    assert sorted(sid for sid, _ in witness.acceptances) == sorted(ids)
    # The faults did hit PUTs: some services needed more than one send.
    assert max(emu.counters.puts_per_service.values()) > 1


@pytest.mark.anyio
async def test_a_put_throttled_with_a_huge_retry_after_waits_a_capped_time() -> None:
    """A PUT answered 429 with Retry-After: 3600 is sent again after a capped wait, not after an hour."""
    clock = VirtualClock()
    throttle = FaultRule("update_service", "429", retry_after=3600, limit=1)
    async with Emulator(clock=clock, faults=(throttle,), update_duration=(1.0, 1.0)) as emu:
        sid = emu.service_ids()[0]
        async with DataOpsClient(emu.base_url, emu.credentials, clock=clock) as client:
            report = await client.fleet.apply([(sid, ServiceUpdate(description="throttled"))])
    assert report.counts["succeeded"] == 1
    assert emu.counters.faults["update_service", "429"] == 1
    cap = max(client.poll_policy.max_retry_after, client._transport.retry.max_retry_after)
    assert max(clock.sleeps) <= cap
