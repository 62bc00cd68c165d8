"""wait_settled, WaitToken and resume_wait: the settle rule, tolerances, events and outcomes.

The decision table is pinned with a scripted ``get`` and a VirtualClock (no real waits); the end-to-end
behaviour (stale-read window, ERROR, 429, tokens across clients, cancellation) against the emulator over HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from aiodataops._clock import VirtualClock
from aiodataops._errors import (
    AuthenticationError,
    ConnectError,
    NotFoundError,
    ServerError,
    ThrottledError,
    WaitFailedError,
    WaitTimeoutError,
    WaitTransientError,
    WaitVanishedError,
)
from aiodataops._models import Account, Service
from aiodataops._polling import PollPolicy
from aiodataops._waiting import StateEvent, WaitEndedError, WaitToken, resume_wait, wait_settled, watch_settled

if TYPE_CHECKING:
    from collections.abc import Callable

SID = "DOPS_SERVICE-2a9be312-5d4b-4bc8-b2ae-35100fa9241f"
T0 = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
FAST = PollPolicy(first_delay=1.0, growth=1.5, max_delay=4.0, deadline=60.0, stale_grace=30.0)


def svc(state: str | None, seconds: float | None = 0.0, **kwargs: Any) -> Service:
    """A service read whose modified_dt is T0 + seconds (None: no modified_dt)."""
    mdt = None if seconds is None else T0 + dt.timedelta(seconds=seconds)
    return Service(SID, state=state, modified_dt=mdt, **kwargs)


def api_error(cls: type[Exception], status: int, **kwargs: Any) -> Exception:
    return cls("boom", status=status, method="GET", url=f"http://127.0.0.1/v1/data-ops-services/{SID}", **kwargs)


class Script:
    """A ``get`` that answers the scripted reads (or raises the scripted errors) in order."""

    def __init__(self, *steps: Service | Exception) -> None:
        self.steps = list(steps)
        self.calls = 0

    async def __call__(self, resource_id: str) -> Service:
        assert resource_id == SID
        self.calls += 1
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step


def recorder() -> tuple[list[StateEvent], Callable[[StateEvent], None]]:
    events: list[StateEvent] = []
    return events, events.append


# -- the settle rule ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_read_older_than_the_202_does_not_settle() -> None:
    """RUNNING reads whose modified_dt predates the 202's are stale; the wait settles on the first newer one."""
    get = Script(svc("RUNNING", 0), svc("RUNNING", 0), svc("RUNNING", 10))
    events, on_event = recorder()
    result = await wait_settled(
        get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock(), on_event=on_event
    )
    assert result is not None
    assert result.modified_dt == T0 + dt.timedelta(seconds=10)
    assert get.calls == 3
    # Stale reads are reported as stale only: the old RUNNING never shows up as a "change" from UPDATING.
    assert [(e.kind, e.old_state, e.new_state) for e in events] == [
        ("stale", "UPDATING", "RUNNING"),
        ("stale", "UPDATING", "RUNNING"),
        ("change", "UPDATING", "RUNNING"),
        ("settled", "RUNNING", "RUNNING"),
    ]
    assert "predates the change" in (events[0].detail or "")


@pytest.mark.anyio
async def test_an_in_progress_read_lowers_the_freshness_floor() -> None:
    """If GETs never reach the 202's modified_dt, an UPDATING read's own modified_dt becomes the bar instead."""
    get = Script(svc("RUNNING", 0), svc("UPDATING", 5), svc("RUNNING", 0), svc("RUNNING", 6))
    result = await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert result is not None
    assert result.modified_dt == T0 + dt.timedelta(seconds=6)
    assert get.calls == 4


@pytest.mark.anyio
async def test_without_modified_dt_an_in_progress_state_must_be_seen_first() -> None:
    """When no modified_dt can be compared, RUNNING counts only after an -ING state was read since the 202."""
    get = Script(svc("RUNNING", None), svc("RUNNING", None), svc("Updating", None), svc("Running", None))
    events, on_event = recorder()
    result = await wait_settled(
        get, SID, after=svc("UPDATING", None), policy=FAST, clock=VirtualClock(), on_event=on_event
    )
    assert result is not None
    assert result.state == "Running"
    assert get.calls == 4
    assert [e.kind for e in events].count("stale") == 2


@pytest.mark.anyio
async def test_without_any_proof_a_read_counts_after_the_stale_grace() -> None:
    """With no modified_dt and no in-progress state ever seen, RUNNING settles once stale_grace has passed."""
    clock = VirtualClock()
    get = Script(svc("RUNNING", None))
    result = await wait_settled(get, SID, after=svc("UPDATING", None), policy=FAST, clock=clock)
    assert result is not None
    assert clock.now() >= FAST.stale_grace
    assert clock.now() < FAST.deadline


@pytest.mark.anyio
async def test_without_an_accepted_body_the_first_settled_read_settles_at_once() -> None:
    """after=None: the first poll happens without delay and a RUNNING read settles it."""
    clock = VirtualClock()
    get = Script(svc("RUNNING", 0))
    result = await wait_settled(get, SID, policy=FAST, clock=clock)
    assert result is not None
    assert get.calls == 1
    assert clock.sleeps == []


@pytest.mark.anyio
async def test_with_an_accepted_body_the_first_poll_waits() -> None:
    """After a 202 the first poll waits the policy's first delay (an immediate read would be stale anyway)."""
    clock = VirtualClock()
    get = Script(svc("RUNNING", 10))
    await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=clock, rng=random.Random(3))
    assert len(clock.sleeps) == 1
    assert 0 < clock.sleeps[0] <= FAST.first_delay


@pytest.mark.anyio
async def test_sleeps_follow_the_policy_backoff() -> None:
    """The waits between polls are exactly the policy's delays for polls 0, 1, 2, ... with the same random source."""
    clock = VirtualClock()
    get = Script(*[svc("UPDATING", 10)] * 6, svc("RUNNING", 10))
    await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=clock, rng=random.Random(42))
    expected_rng = random.Random(42)
    assert clock.sleeps == [FAST.delay(n, rng=expected_rng) for n in range(7)]


# -- failures -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_error_fails_fast_with_the_last_state_and_body() -> None:
    """A fresh ERROR read raises WaitFailedError at once, carrying the state, the read, the polls and the time."""
    failed = svc("Error", 10, account=Account(account_id="admin", account_password="hunter2-secret"))
    get = Script(svc("UPDATING", 10), failed, svc("RUNNING", 10))
    with pytest.raises(WaitFailedError) as info:
        await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    error = info.value
    assert error.last_state == "Error"
    assert error.last_body == failed
    assert error.polls == 2
    assert error.elapsed > 0
    assert get.calls == 2
    assert "hunter2-secret" not in repr(error.last_body)
    assert "hunter2-secret" not in str(error)


@pytest.mark.anyio
async def test_a_stale_error_from_before_the_change_is_ignored() -> None:
    """A service that was in ERROR and is being fixed: the pre-change ERROR reads do not fail the wait."""
    get = Script(svc("ERROR", 0), svc("ERROR", 0), svc("RUNNING", 10))
    result = await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert result is not None
    assert result.state == "RUNNING"


@pytest.mark.anyio
async def test_an_unknown_state_keeps_polling_and_is_reported() -> None:
    """A state this SDK has never heard of is an 'unknown' event, not a failure; the wait goes on."""
    get = Script(svc("RECONCILED_MAYBE", 10), svc("RECONCILED_MAYBE", 10), svc("RUNNING", 10))
    events, on_event = recorder()
    result = await wait_settled(
        get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock(), on_event=on_event
    )
    assert result is not None
    unknown = [e for e in events if e.kind == "unknown"]
    assert len(unknown) == 1
    assert (unknown[0].old_state, unknown[0].new_state) == ("UPDATING", "RECONCILED_MAYBE")


@pytest.mark.anyio
async def test_timeout_carries_the_last_state_and_the_poll_count() -> None:
    """Past the deadline, WaitTimeoutError reports the last state, body, polls and elapsed time; no sleep overshoots."""
    clock = VirtualClock()
    stuck = svc("UPDATING", 10)
    get = Script(stuck)
    with pytest.raises(WaitTimeoutError) as info:
        await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=clock)
    error = info.value
    assert error.last_state == "UPDATING"
    assert error.last_body == stuck
    assert error.polls == get.calls
    assert error.polls > 10
    assert error.elapsed == pytest.approx(FAST.deadline)
    assert clock.now() == pytest.approx(FAST.deadline)


@pytest.mark.anyio
async def test_timeout_says_when_every_read_was_stale() -> None:
    """When reads never caught up with the change, the timeout message says so."""
    get = Script(svc("RUNNING", 0))
    with pytest.raises(WaitTimeoutError, match="predated the accepted change") as info:
        await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert info.value.last_state == "RUNNING"


@pytest.mark.anyio
async def test_a_few_404s_are_tolerated_while_updating() -> None:
    """Up to max_not_found 404s in a row are ridden out (a read replica that lags)."""
    not_found = api_error(NotFoundError, 404)
    get = Script(not_found, not_found, not_found, svc("RUNNING", 10))
    result = await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert result is not None


@pytest.mark.anyio
async def test_too_many_404s_mean_the_resource_vanished() -> None:
    """One 404 more than max_not_found in a row raises WaitVanishedError with the 404 as cause."""
    not_found = api_error(NotFoundError, 404)
    get = Script(svc("UPDATING", 10), not_found)
    with pytest.raises(WaitVanishedError) as info:
        await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert info.value.polls == 1 + FAST.max_not_found + 1
    assert info.value.last_state == "UPDATING"
    assert info.value.cause is not_found


@pytest.mark.anyio
async def test_a_fresh_terminated_state_while_updating_ends_the_wait() -> None:
    """TERMINATED read after the change ends an update wait at once with WaitEndedError carrying that state."""
    get = Script(svc("TERMINATED", 10))
    with pytest.raises(WaitEndedError, match="TERMINATED") as info:
        await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert info.value.final_state == "TERMINATED"
    assert get.calls == 1


@pytest.mark.anyio
async def test_transient_errors_are_tolerated_up_to_the_limit() -> None:
    """Three transport or 5xx errors in a row are ridden out; the fourth raises WaitTransientError."""
    drop = ConnectError("connection reset", method="GET", url="http://127.0.0.1/")
    bad_gateway = api_error(ServerError, 502)
    ok = await wait_settled(
        Script(drop, bad_gateway, drop, svc("RUNNING", 10)),
        SID,
        after=svc("UPDATING", 10),
        policy=FAST,
        clock=VirtualClock(),
    )
    assert ok is not None
    with pytest.raises(WaitTransientError) as info:
        await wait_settled(
            Script(drop, bad_gateway, drop, bad_gateway, svc("RUNNING", 10)),
            SID,
            after=svc("UPDATING", 10),
            policy=FAST,
            clock=VirtualClock(),
        )
    assert info.value.polls == 4
    assert info.value.cause is bad_gateway


@pytest.mark.anyio
async def test_throttling_is_waited_out_honouring_retry_after() -> None:
    """429s do not use up the transient budget and the next poll waits at least the server's Retry-After."""
    clock = VirtualClock()
    throttled = api_error(ThrottledError, 429, retry_after=9.0)
    get = Script(*[throttled] * 5, svc("RUNNING", 10))
    events, on_event = recorder()
    result = await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=clock, on_event=on_event)
    assert result is not None
    assert clock.sleeps[1:6] == [9.0] * 5
    assert [e.kind for e in events].count("throttled") == 5


@pytest.mark.anyio
async def test_other_api_errors_propagate_unchanged() -> None:
    """A 401 while polling is not a wait outcome: it propagates as AuthenticationError after one poll."""
    denied = api_error(AuthenticationError, 401)
    get = Script(denied)
    with pytest.raises(AuthenticationError):
        await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert get.calls == 1


# -- create and delete ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_rides_out_early_404s_and_settles_on_running() -> None:
    """A create may 404 briefly before the new resource is readable; it settles on RUNNING with no freshness bar."""
    not_found = api_error(NotFoundError, 404)
    get = Script(not_found, svc("CREATING", 1), svc("RUNNING", 0))
    result = await wait_settled(
        get, SID, after=svc("CREATING", 1), operation="create", policy=FAST, clock=VirtualClock()
    )
    assert result is not None
    assert result.state == "RUNNING"


@pytest.mark.anyio
async def test_delete_settles_on_404() -> None:
    """Deletion waits for a 404 and returns None; RUNNING and TERMINATING reads before it just keep polling."""
    get = Script(svc("RUNNING", 0), svc("TERMINATING", 5), api_error(NotFoundError, 404))
    events, on_event = recorder()
    result = await wait_settled(get, SID, operation="delete", policy=FAST, clock=VirtualClock(), on_event=on_event)
    assert result is None
    assert get.calls == 3
    assert events[-1].kind == "settled"


@pytest.mark.anyio
async def test_delete_settles_on_a_terminated_state() -> None:
    """A TERMINATED or DELETED state ends a delete like a 404 does."""
    result = await wait_settled(Script(svc("Deleted", 5)), SID, operation="delete", policy=FAST, clock=VirtualClock())
    assert result is None


@pytest.mark.anyio
async def test_deleting_a_broken_service_ignores_its_old_error_state() -> None:
    """The pre-delete ERROR reads do not fail a delete; an ERROR after TERMINATING does."""
    ok = await wait_settled(
        Script(svc("ERROR", 0), svc("ERROR", 0), api_error(NotFoundError, 404)),
        SID,
        operation="delete",
        policy=FAST,
        clock=VirtualClock(),
    )
    assert ok is None
    with pytest.raises(WaitFailedError):
        await wait_settled(
            Script(svc("ERROR", 0), svc("TERMINATING", 5), svc("ERROR", 6)),
            SID,
            operation="delete",
            policy=FAST,
            clock=VirtualClock(),
        )


def test_an_unknown_operation_is_refused() -> None:
    """operation must be create, update or delete; anything else is a clear ValueError."""
    with pytest.raises(ValueError, match="operation"):
        anyio.run(lambda: wait_settled(Script(svc("RUNNING")), SID, operation="restart"))  # type: ignore[arg-type]


# -- tokens ---------------------------------------------------------------------------------------------------


def test_token_round_trips_through_json() -> None:
    """to_json/from_json give back an equal token, as plain JSON with ISO times."""
    token = WaitToken.for_accepted(svc("UPDATING", 10), policy=FAST, wall=lambda: 1_750_000_000.1234567)
    text = token.to_json()
    assert WaitToken.from_json(text) == token
    assert '"accepted_modified_dt":"2025-06-01T12:00:10.000Z"' in text
    assert token.kind == "service"
    assert (token.deadline_at - token.started_at).total_seconds() == pytest.approx(FAST.deadline)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "not JSON"),
        ("[]", "JSON object"),
        ('{"v": 2}', "'v'"),
        ('{"v":1,"resource_id":"","kind":"service","operation":"update"}', "'resource_id'"),
        ('{"v":1,"resource_id":"x","kind":"cluster","operation":"update"}', "'kind'"),
        ('{"v":1,"resource_id":"x","kind":"service","operation":"patch"}', "'operation'"),
        ('{"v":1,"resource_id":"x","kind":"service","operation":"update","started_at":"yesterday"}', "'started_at'"),
    ],
)
def test_a_bad_token_names_the_field(text: str, field: str) -> None:
    """A malformed token raises ValueError that names what is wrong."""
    with pytest.raises(ValueError, match=field):
        WaitToken.from_json(text)


class _ScriptedResources:
    def __init__(self, get: Script) -> None:
        self.get = get


class _ScriptedClient:
    """The four attributes resume_wait reads from a DataOpsClient."""

    def __init__(self, get: Script, clock: VirtualClock) -> None:
        self.services = _ScriptedResources(get)
        self.data_ops = _ScriptedResources(Script(api_error(NotFoundError, 404)))
        self.poll_policy = FAST
        self.clock = clock


@pytest.mark.anyio
async def test_resume_keeps_the_token_deadline_and_elapsed_time() -> None:
    """A resumed wait polls at once, counts elapsed time from the 202, and ends at the token's wall deadline."""
    token = WaitToken.for_accepted(svc("UPDATING", 10), policy=FAST, wall=lambda: 1000.0)
    clock = VirtualClock()
    get = Script(svc("UPDATING", 10))
    with pytest.raises(WaitTimeoutError) as info:
        await resume_wait(token, _ScriptedClient(get, clock), wall=lambda: 1050.0)
    assert info.value.elapsed == pytest.approx(60.0)
    assert clock.now() == pytest.approx(10.0)


@pytest.mark.anyio
async def test_resume_after_the_deadline_makes_one_last_poll() -> None:
    """A token whose deadline passed while nothing waited gets one last look, which can still settle."""
    token = WaitToken.for_accepted(svc("UPDATING", 10), policy=FAST, wall=lambda: 1000.0)
    clock = VirtualClock()
    get = Script(svc("RUNNING", 10))
    result = await resume_wait(token, _ScriptedClient(get, clock), wall=lambda: 5000.0)
    assert result is not None
    assert get.calls == 1
    assert clock.sleeps == []


# -- the event stream -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_watch_streams_events_then_gives_the_result() -> None:
    """watch_settled yields the wait's events as an async stream and then the settled resource."""
    get = Script(svc("RUNNING", 0), svc("UPDATING", 10), svc("RUNNING", 10))
    async with watch_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock()) as watch:
        kinds = [event.kind async for event in watch]
    assert kinds == ["stale", "change", "settled"]
    result = watch.result
    assert result is not None
    assert result.state == "RUNNING"


@pytest.mark.anyio
async def test_watch_raises_the_wait_error_from_the_loop() -> None:
    """A failed wait ends the event stream by raising its WaitError, which result raises again."""
    get = Script(svc("ERROR", 10))
    seen: list[str] = []
    async with watch_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock()) as watch:
        with pytest.raises(WaitFailedError):
            seen.extend([event.kind async for event in watch])
    with pytest.raises(WaitFailedError):
        _ = watch.result


@pytest.mark.anyio
async def test_leaving_a_watch_early_cancels_the_wait() -> None:
    """Breaking out of the event loop cancels the poll in flight and leaves no task behind."""
    never = anyio.Event()
    second_poll = anyio.Event()
    cancelled: list[bool] = []
    calls = 0

    async def get(resource_id: str) -> Service:
        nonlocal calls
        calls += 1
        if calls == 1:
            return svc("RUNNING", 0)
        second_poll.set()
        try:
            await never.wait()
        finally:
            cancelled.append(True)
        raise AssertionError("unreachable")

    before = asyncio.all_tasks()
    async with watch_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock()) as watch:
        async for event in watch:
            assert event.kind == "stale"
            await second_poll.wait()
            break
    assert cancelled == [True]
    assert calls == 2
    assert asyncio.all_tasks() == before
    with pytest.raises(RuntimeError, match="not finished"):
        _ = watch.result


@pytest.mark.anyio
async def test_an_error_in_the_watch_block_is_not_wrapped() -> None:
    """An exception raised inside ``async with watch_settled(...)`` comes out as itself, not an ExceptionGroup."""
    with pytest.raises(KeyError):
        async with watch_settled(Script(svc("UPDATING", 10)), SID, policy=FAST, clock=VirtualClock()):
            raise KeyError("mine")


@pytest.mark.anyio
async def test_a_create_rides_out_404s_until_first_readable_within_the_grace() -> None:
    """Before a new resource is first readable, 404s do not count toward vanishing (until stale_grace passes)."""
    not_found = api_error(NotFoundError, 404)
    get = Script(*[not_found] * 8, svc("RUNNING", 1))
    result = await wait_settled(get, SID, operation="create", policy=FAST, clock=VirtualClock())
    assert result is not None
    assert get.calls == 9
    with pytest.raises(WaitVanishedError) as info:
        await wait_settled(Script(not_found), SID, operation="create", policy=FAST, clock=VirtualClock())
    assert info.value.elapsed >= FAST.stale_grace


@pytest.mark.anyio
async def test_a_created_resource_that_then_404s_has_vanished() -> None:
    """Once a created resource was readable, more than max_not_found 404s in a row mean it vanished."""
    not_found = api_error(NotFoundError, 404)
    get = Script(svc("CREATING", 1), not_found)
    with pytest.raises(WaitVanishedError) as info:
        await wait_settled(get, SID, operation="create", policy=FAST, clock=VirtualClock())
    assert info.value.polls == 1 + FAST.max_not_found + 1
    assert info.value.last_state == "CREATING"


@pytest.mark.anyio
async def test_accepted_without_a_body_still_refuses_unproven_reads() -> None:
    """accepted=True with no 202 body: RUNNING reads count only after an in-progress state was seen."""
    clock = VirtualClock()
    get = Script(svc("RUNNING", 0), svc("RUNNING", 0), svc("UPDATING", 5), svc("RUNNING", 5))
    result = await wait_settled(get, SID, accepted=True, policy=FAST, clock=clock)
    assert result is not None
    assert get.calls == 4
    assert len(clock.sleeps) == 4  # a change was just accepted: even the first poll waits
