"""Retry arithmetic: full-jitter bounds, capped Retry-After, Retry-After parsing, and the shared retry budget."""

from __future__ import annotations

import datetime as dt
import inspect
import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiodataops._polling import PollPolicy
from aiodataops._retry import DEFAULT_RETRYABLE_STATUSES, RetryBudget, RetryPolicy, parse_retry_after


def test_default_retryable_statuses() -> None:
    """408, 417 (the edge's "Request Rejected" throttling), 429, 500, 502, 503 and 504 are retried by default."""
    assert frozenset({408, 417, 429, 500, 502, 503, 504}) == DEFAULT_RETRYABLE_STATUSES
    assert RetryPolicy().retryable_statuses == DEFAULT_RETRYABLE_STATUSES


@given(attempt=st.integers(min_value=0, max_value=200), seed=st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_within_the_full_jitter_envelope(attempt: int, seed: int) -> None:
    """Retry n waits between 0 and min(max_delay, first_delay * 2**n), never more, even for huge n."""
    policy = RetryPolicy(first_delay=0.5, max_delay=20.0)
    delay = policy.backoff(attempt, random.Random(seed))
    assert 0.0 <= delay <= min(20.0, 0.5 * 2.0 ** min(attempt, 62))


def test_backoff_is_jittered() -> None:
    """Two retries of the same attempt number rarely wait the same time (waves are spread out)."""
    policy = RetryPolicy(first_delay=1.0, max_delay=10.0)
    rng = random.Random(7)
    delays = {policy.backoff(3, rng) for _ in range(50)}
    assert len(delays) == 50
    assert max(delays) > 4.0  # the envelope is 8 s; 50 uniform draws reach past half of it


def test_retry_after_replaces_the_jitter_and_is_capped() -> None:
    """A server hint is used as is up to max_retry_after, and negative hints mean "now"."""
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.delay(0, 12.5) == 12.5
    assert policy.delay(5, retry_after=3600.0) == 30.0
    assert policy.delay(0, -4.0) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7", 7.0), (" 1.5 ", 1.5), ("0", 0.0), ("-3", 0.0), ("", None), ("soon", None), ("nan", None), ("inf", None)],
)
def test_retry_after_seconds(text: str, expected: float | None) -> None:
    """Delta seconds are read as numbers; garbage gives None (the jittered backoff is used instead)."""
    assert parse_retry_after(text) == expected


def test_retry_after_http_date() -> None:
    """An HTTP date is turned into seconds from now; a date in the past means retry now."""
    now = dt.datetime(2025, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:42 GMT", now=now) == 42.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None


def test_policy_rejects_nonsense() -> None:
    """max_attempts below 1 or a negative first_delay is refused with the field named."""
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="first_delay"):
        RetryPolicy(first_delay=-1.0)


def test_retry_and_poll_policies_share_names_and_the_delay_signature() -> None:
    """Both policies name their bounds first_delay, max_delay, max_retry_after and take delay(n, retry_after, rng)."""
    shared = {"first_delay", "max_delay", "max_retry_after"}
    assert shared <= {field.name for field in attrs.fields(RetryPolicy)}
    assert shared <= {field.name for field in attrs.fields(PollPolicy)}
    retry_delay = inspect.signature(RetryPolicy.delay).parameters
    poll_delay = inspect.signature(PollPolicy.delay).parameters
    assert list(retry_delay.items()) == list(poll_delay.items())
    for policy in (RetryPolicy(first_delay=1.0, max_delay=1.0), PollPolicy(first_delay=1.0, max_delay=1.0)):
        assert policy.delay(0, None, random.Random(1)) <= 1.0
        assert policy.delay(0, retry_after=5.0, rng=random.Random(1)) == 5.0


def test_the_old_retry_policy_names_still_work_with_a_deprecation_warning() -> None:
    """base=, cap= and retry_after_cap= (keywords and attributes) keep working for one release, and warn."""
    with pytest.warns(DeprecationWarning, match=r"RetryPolicy\.\w+ is now RetryPolicy\.\w+") as caught:
        old = RetryPolicy(base=0.1, cap=1.0, retry_after_cap=30.0)
    assert [str(w.message).split()[0] for w in caught] == [
        f"RetryPolicy.{n}" for n in ("base", "cap", "retry_after_cap")
    ]
    assert old == RetryPolicy(first_delay=0.1, max_delay=1.0, max_retry_after=30.0)
    with pytest.warns(DeprecationWarning, match="max_retry_after"):
        assert old.retry_after_cap == 30.0
    with pytest.warns(DeprecationWarning, match=r"is now RetryPolicy\.(first|max)_delay"):
        assert (old.base, old.cap) == (0.1, 1.0)
    with pytest.raises(TypeError, match="not both"):
        RetryPolicy(first_delay=0.1, base=0.2)
    assert RetryPolicy(4, 0.1, 1.0, 30.0).max_retry_after == 30.0  # the fields' order is unchanged


def test_budget_spends_refunds_and_runs_dry() -> None:
    """Retries spend tokens (timeouts more), successes give them back, and an empty budget refuses."""
    budget = RetryBudget(capacity=20, retry_cost=5, timeout_cost=10, success_refund=1)
    assert budget.try_spend() == 5
    assert budget.try_spend(timeout=True) == 10
    assert budget.available == 5
    assert budget.try_spend(timeout=True) is None
    assert budget.available == 5
    budget.refund(10)
    assert budget.available == 15
    budget.refund(0)
    assert budget.available == 16
    budget.refund(100)
    assert budget.available == 20
