"""Backoff arithmetic of PollPolicy: growth, cap, full jitter, Retry-After and validation (no real waits)."""

from __future__ import annotations

import math
import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiodataops._polling import PollPolicy


def test_ceiling_grows_geometrically_up_to_the_cap() -> None:
    """The upper bound is first_delay * growth ** n, never above max_delay."""
    policy = PollPolicy(first_delay=1.0, growth=1.5, max_delay=15.0)
    assert [policy.ceiling(n) for n in range(8)] == pytest.approx(
        [1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 11.390625, 15.0]
    )
    assert policy.ceiling(50) == 15.0


def test_ceiling_of_a_huge_poll_number_does_not_overflow() -> None:
    """A poll number far past where growth ** n overflows a float still gives the cap."""
    assert PollPolicy().ceiling(10_000) == 15.0
    assert PollPolicy(growth=1.0, first_delay=2.0, max_delay=2.0).ceiling(10_000) == 2.0


def test_without_jitter_the_delay_is_the_ceiling() -> None:
    """jitter=False waits exactly the upper bound, so a demo's timing is predictable."""
    policy = PollPolicy(jitter=False)
    assert [policy.delay(n) for n in range(4)] == [policy.ceiling(n) for n in range(4)]


@given(seed=st.integers(0, 2**32), n=st.integers(0, 60))
def test_full_jitter_stays_between_the_floor_and_the_ceiling(seed: int, n: int) -> None:
    """Every jittered delay lies in [min(min_delay, ceiling), ceiling]."""
    policy = PollPolicy()
    value = policy.delay(n, rng=random.Random(seed))
    top = policy.ceiling(n)
    assert min(policy.min_delay, top) <= value <= top


def test_a_seeded_source_makes_delays_reproducible_and_different_seeds_spread_them() -> None:
    """The injectable random source decides the delays: one seed repeats, a fleet's seeds spread out."""
    policy = PollPolicy()
    first = [policy.delay(n, rng=random.Random(7)) for n in range(10)]
    again = [policy.delay(n, rng=random.Random(7)) for n in range(10)]
    assert first == again
    fleet = {round(policy.delay(5, rng=random.Random(seed)), 6) for seed in range(100)}
    assert len(fleet) > 90


def test_the_floor_is_clipped_to_a_small_ceiling() -> None:
    """A fast policy (first_delay below min_delay) still waits no more than its ceiling."""
    policy = PollPolicy(first_delay=0.01, max_delay=0.05)
    assert policy.delay(0, rng=random.Random(1)) == pytest.approx(0.01)


def test_retry_after_stretches_the_delay_but_is_capped() -> None:
    """A server hint longer than the backoff wins, up to max_retry_after; a shorter one changes nothing."""
    policy = PollPolicy(jitter=False, growth=1.5, max_retry_after=30.0)
    assert policy.delay(0, retry_after=7.0) == 7.0
    assert policy.delay(0, retry_after=3600.0) == 30.0
    assert policy.delay(7, retry_after=0.5) == 15.0
    assert policy.delay(0, retry_after=0.0) == 1.0


def test_defaults_are_finite_and_documented() -> None:
    """The default policy has a finite deadline and the agreed tolerances."""
    policy = PollPolicy()
    assert math.isfinite(policy.deadline)
    assert policy.deadline == 1800.0
    assert (policy.first_delay, policy.growth, policy.max_delay) == (1.0, 1.1, 15.0)
    assert (policy.max_transient_errors, policy.max_not_found) == (3, 3)


def test_policy_is_an_immutable_value() -> None:
    """A PollPolicy cannot be changed in place; attrs.evolve makes a changed copy that compares by value."""
    policy = PollPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.deadline = 5.0  # type: ignore[misc]
    longer = attrs.evolve(policy, deadline=7200.0)
    assert longer.deadline == 7200.0
    assert attrs.evolve(longer, deadline=1800.0) == policy


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"first_delay": 0}, "first_delay"),
        ({"first_delay": -1.0}, "first_delay"),
        ({"deadline": math.inf}, "deadline"),
        ({"deadline": math.nan}, "deadline"),
        ({"growth": 0.5}, "growth"),
        ({"max_delay": 0.5}, "max_delay"),
        ({"min_delay": -0.1}, "min_delay"),
        ({"max_transient_errors": -1}, "max_transient_errors"),
        ({"max_not_found": 1.5}, "max_not_found"),
        ({"max_not_found": True}, "max_not_found"),
        ({"max_retry_after": "10"}, "max_retry_after"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    """An invalid setting raises ValueError naming the PollPolicy field."""
    with pytest.raises(ValueError, match=rf"PollPolicy\.{field}"):
        PollPolicy(**kwargs)  # type: ignore[arg-type]


def test_negative_poll_number_is_refused() -> None:
    """Asking for the delay of poll -1 is a programming error, reported clearly."""
    with pytest.raises(ValueError, match="poll number"):
        PollPolicy().delay(-1)
