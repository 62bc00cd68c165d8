"""Learned polling: a run's first settle times schedule the rest's polls, within the policy's floor, cap, deadline."""

from __future__ import annotations

import random

import pytest

from aiodataops import DataOpsClient, PollPolicy, ServiceUpdate
from aiodataops._clock import VirtualClock
from aiodataops._errors import WaitTimeoutError
from aiodataops.emulator import Emulator
from aiodataops.fleet import FleetEvent, Outcome, TargetEnded
from aiodataops.fleet._learned_polling import MIN_SAMPLES, LearnedPollPolicy, SettleTimes

pytestmark = pytest.mark.anyio

POLICY = PollPolicy(first_delay=1.0, growth=1.1, max_delay=15.0, min_delay=0.5, deadline=1800.0)
UPDATE = ServiceUpdate(description="learned")


def learned(*durations: float, policy: PollPolicy = POLICY) -> LearnedPollPolicy:
    settles = SettleTimes()
    for seconds in durations:
        settles.add(seconds)
    return LearnedPollPolicy.learning(policy, settles)


def schedule(policy: PollPolicy, until: float, seed: int = 1) -> list[float]:
    """The poll times of one wait that lasts ``until`` seconds, as ``_waiting`` asks for them."""
    rng = random.Random(seed)
    times, now, step = [], 0.0, 0
    while now < until:
        now += policy.pause(step, now, rng=rng)
        times.append(now)
        step += 1
    return times


def test_with_nothing_to_learn_from_it_is_the_policy() -> None:
    """Below the minimum of settles seen, every pause is exactly the policy's backoff."""
    policy = learned(*[60.0] * (MIN_SAMPLES - 1))
    assert schedule(policy, 120.0, seed=3) == schedule(POLICY, 120.0, seed=3)


@pytest.mark.parametrize("settle", [10.0, 60.0, 600.0])
def test_pauses_stay_within_the_floor_and_the_cap(settle: float) -> None:
    """Whatever was learned, no pause is below min_delay (a stale read could not have ended) nor over max_delay."""
    policy = learned(*(settle * f for f in (0.9, 0.95, 1.0, 1.05, 1.1, 1.0, 0.97)))
    rng = random.Random(0)
    for tenth in range(int(settle * 30)):
        elapsed = tenth / 10
        pause = policy.pause(tenth % 50, elapsed, rng=rng)
        assert POLICY.min_delay <= pause <= POLICY.max_delay


@pytest.mark.parametrize("settle", [60.0, 120.0, 600.0])
def test_half_the_polls_at_equal_or_better_overshoot(settle: float) -> None:
    """For settles of a minute and more spread +-10%, learned polls are at most half as many, noticed no later."""
    rng = random.Random(7)
    seen = [settle * rng.uniform(0.9, 1.1) for _ in range(50)]
    policy = learned(*seen)
    polls = {"policy": 0.0, "learned": 0.0}
    late = {"policy": 0.0, "learned": 0.0}
    trials = 300
    for trial in range(trials):
        truth = settle * rng.uniform(0.9, 1.1)
        for name, each in (("policy", POLICY), ("learned", policy)):
            times = schedule(each, truth, seed=trial)
            polls[name] += len(times) / trials
            late[name] += (times[-1] - truth) / trials
    assert polls["learned"] <= polls["policy"] / 2
    assert late["learned"] <= late["policy"]


async def test_a_wait_slower_than_everything_learned_still_ends_at_its_deadline() -> None:
    """A service far slower than the settles learned is polled on by the backoff and times out at the deadline."""
    clock = VirtualClock()
    policy = learned(*[1.0] * 10, policy=PollPolicy(first_delay=1.0, max_delay=5.0, deadline=30.0, jitter=False))
    async with (
        Emulator(clock=clock, data_ops=1, services=1, update_duration=(100.0, 100.0)) as emu,
        DataOpsClient(emu.base_url, emu.credentials, clock=clock) as client,
    ):
        sid = emu.service_ids()[0]
        accepted = await client.services.put(sid, UPDATE)
        started = clock.now()
        with pytest.raises(WaitTimeoutError):
            await client.services.wait_accepted(accepted, policy=policy)
        assert clock.now() - started == pytest.approx(30.0, abs=0.01)
        assert max(clock.sleeps) <= 5.0
        assert min(clock.sleeps) >= 0.0


async def test_a_fleet_learns_and_keeps_the_stale_read_rules() -> None:
    """Reads stale longer than an update takes: a learned run takes no stale read as settled, with fewer polls."""
    results = {}
    for learn in (False, True):
        clock = VirtualClock()
        async with (
            Emulator(
                clock=clock, data_ops=1, services=40, update_duration=(20.0, 24.0), stale_read_seconds=25.0, seed=5
            ) as emu,
            DataOpsClient(emu.base_url, emu.credentials, clock=clock, poll=POLICY) as client,
        ):
            ids = emu.service_ids()
            ended: dict[str, float] = {}

            def note(event: FleetEvent, clock: VirtualClock = clock, ended: dict[str, float] = ended) -> None:
                if isinstance(event, TargetEnded):
                    ended[event.item.data_ops_service_id] = clock.now()

            report = await client.fleet.apply(
                [(sid, UPDATE) for sid in ids], concurrency=5, learned_polling=learn, max_failures=None, on_event=note
            )
            assert report.counts[str(Outcome.SUCCEEDED)] == 40
            for sid in ids:
                # Never settled on a stale read (it shows RUNNING from before the update): seen only once really so.
                truly_settled = emu.settles_at(sid)
                assert truly_settled is not None
                assert ended[sid] >= truly_settled
                assert emu.service_body(sid)["description"] == "learned"
            results[learn] = sum(i.polls for i in report.items[10:])
    assert results[True] < results[False]
