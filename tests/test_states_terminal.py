"""Terminal states, delete answers and the proof rule of a body-less acceptance, pinned with a scripted ``get``.

The scripted ``get`` of ``test_waiting`` answers reads (or raises errors) in order on a VirtualClock: no server,
no real waits.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from aiodataops._accepted import Accepted
from aiodataops._clock import VirtualClock
from aiodataops._errors import BadRequestError, NotFoundError, WaitFailedError, WaitTimeoutError
from aiodataops._polling import PollPolicy
from aiodataops._waiting import StateEvent, WaitEndedError, WaitToken, resume_wait, wait_accepted, wait_settled
from tests.test_waiting import SID, T0, Script, svc

if TYPE_CHECKING:
    from aiodataops._models import Service

FAST = PollPolicy(first_delay=1.0, growth=1.5, max_delay=4.0, jitter=False, deadline=60.0, stale_grace=30.0)


def bad_request() -> BadRequestError:
    return BadRequestError("unknown id", status=400, method="GET", url=f"http://127.0.0.1/v1/data-ops-services/{SID}")


def not_found() -> NotFoundError:
    return NotFoundError("gone", status=404, method="GET", url=f"http://127.0.0.1/v1/data-ops-services/{SID}")


def accepted(body: Service | None = None, *, sent: float = 10.0, operation: Any = "update") -> Accepted[Service]:
    return Accepted(SID, "service", body, T0 + dt.timedelta(seconds=sent), operation)


@pytest.mark.anyio
@pytest.mark.parametrize("state", ["STOPPED", "Undeployed", "TERMINATED", "DELETED"])
async def test_a_fresh_terminal_state_ends_an_update_at_once(state: str) -> None:
    """STOPPED, UNDEPLOYED, TERMINATED and DELETED end an update wait at the first fresh read, with that state."""
    get = Script(svc(state, 20))
    with pytest.raises(WaitEndedError) as info:
        await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert info.value.final_state == state
    assert info.value.polls == 1
    assert "neither settled nor failed" in str(info.value)


@pytest.mark.anyio
async def test_a_stale_stopped_read_is_polled_past() -> None:
    """A STOPPED read older than the change is stale: the wait goes on to the settled read."""
    get = Script(svc("STOPPED", 0), svc("RUNNING", 20))
    result = await wait_settled(get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock())
    assert result is not None
    assert result.state == "RUNNING"


@pytest.mark.anyio
async def test_a_create_ending_stopped_ends_the_wait() -> None:
    """A create that ends STOPPED raises WaitEndedError rather than polling to its deadline."""
    get = Script(svc("CREATING", 5), svc("STOPPED", 6))
    with pytest.raises(WaitEndedError):
        await wait_settled(get, SID, after=svc("CREATING", 5), operation="create", policy=FAST, clock=VirtualClock())


@pytest.mark.anyio
async def test_an_unknown_state_still_keeps_polling() -> None:
    """A state nobody documented (HIBERNATED) is reported unknown and polled past, never ended on."""
    events: list[StateEvent] = []
    get = Script(svc("HIBERNATED", 20), svc("RUNNING", 21))
    result = await wait_settled(
        get, SID, after=svc("UPDATING", 10), policy=FAST, clock=VirtualClock(), on_event=events.append
    )
    assert result is not None
    assert [e.kind for e in events] == ["unknown", "change", "settled"]


@pytest.mark.anyio
async def test_a_delete_polls_past_a_stopped_state() -> None:
    """A delete is not ended by STOPPED: the resource may go on to TERMINATING and away."""
    get = Script(svc("STOPPED", 20), svc("TERMINATING", 21), not_found())
    assert await wait_settled(get, SID, after=svc("TERMINATING", 10), operation="delete", clock=VirtualClock()) is None
    assert get.calls == 3


@pytest.mark.anyio
async def test_a_delete_settles_on_a_400_after_a_deletion_was_read() -> None:
    """After TERMINATING was read, a 400 (the live API's answer for an unknown id) means deleted."""
    get = Script(svc("RUNNING", 0), svc("DELETING", 20), bad_request())
    events: list[StateEvent] = []
    result = await wait_settled(get, SID, operation="delete", clock=VirtualClock(), on_event=events.append)
    assert result is None
    assert events[-1].kind == "settled"
    assert events[-1].detail is not None
    assert "400" in events[-1].detail


@pytest.mark.anyio
async def test_a_delete_whose_202_said_terminating_settles_on_a_400() -> None:
    """The delete's own answer in TERMINATING shows the deletion under way: a 400 afterwards means deleted."""
    get = Script(bad_request())
    await wait_accepted(get, accepted(svc("TERMINATING", 10), operation="delete"), policy=FAST, clock=VirtualClock())


@pytest.mark.anyio
async def test_a_400_before_any_deletion_was_seen_propagates() -> None:
    """A 400 while nothing showed a deletion under way is raised as it is: it may be a refused request."""
    get = Script(svc("RUNNING", 0), bad_request())
    with pytest.raises(BadRequestError):
        await wait_settled(get, SID, operation="delete", clock=VirtualClock())


@pytest.mark.anyio
async def test_a_400_while_updating_propagates() -> None:
    """For an update, a 400 is never read as anything but an error."""
    get = Script(svc("UPDATING", 20), bad_request())
    with pytest.raises(BadRequestError):
        await wait_settled(get, SID, after=svc("UPDATING", 10), clock=VirtualClock())


# -- the proof rule of an acceptance without a body -----------------------------------------------------------


@pytest.mark.anyio
async def test_without_a_body_a_read_newer_than_the_send_time_counts() -> None:
    """A read whose modified_dt is not older than the moment the PUT was sent proves itself."""
    get = Script(svc("RUNNING", 0), svc("ERROR", 10.5))
    with pytest.raises(WaitFailedError) as info:
        await wait_accepted(get, accepted(None, sent=10.0), policy=FAST, clock=VirtualClock())
    assert info.value.polls == 2


@pytest.mark.anyio
async def test_without_a_body_an_older_read_counts_only_after_the_grace() -> None:
    """A read older than the send time (the clocks may differ) counts once the stale grace has passed."""
    clock = VirtualClock()
    events: list[StateEvent] = []
    get = Script(svc("RUNNING", 5))
    result = await wait_accepted(get, accepted(None, sent=10.0), policy=FAST, clock=clock, on_event=events.append)
    assert result is not None
    assert clock.now() >= FAST.stale_grace
    assert {e.kind for e in events[:-2]} == {"stale"}
    assert [e.kind for e in events[-2:]] == ["change", "settled"]
    assert "predates the request" in (events[0].detail or "")


@pytest.mark.anyio
async def test_without_a_body_an_in_progress_read_sets_a_server_floor() -> None:
    """After an in-progress read, its modified_dt is the bar: an older (stale) read no longer counts."""
    get = Script(svc("UPDATING", 8), svc("RUNNING", 0), svc("RUNNING", 8))
    result = await wait_accepted(get, accepted(None, sent=10.0), policy=FAST, clock=VirtualClock())
    assert result is not None
    assert result.modified_dt == T0 + dt.timedelta(seconds=8)
    assert get.calls == 3


@pytest.mark.anyio
async def test_with_a_body_its_modified_dt_is_the_bar_whatever_the_send_time() -> None:
    """A body's modified_dt is the server's word: an older read is stale even after the grace."""
    get = Script(svc("RUNNING", 0))
    with pytest.raises(WaitTimeoutError, match="predated"):
        await wait_accepted(get, accepted(svc("UPDATING", 10), sent=0.0), policy=FAST, clock=VirtualClock())


@pytest.mark.anyio
async def test_a_visible_check_keeps_a_settled_read_polling_until_it_shows_the_change() -> None:
    """A settled read the check says does not show the update is stale; the first that does settles."""
    get = Script(svc("RUNNING", 20, description="old"), svc("RUNNING", 21, description="new"))
    events: list[StateEvent] = []

    def visible(read: Service) -> str | None:
        return None if read.description == "new" else "description is 'old'"

    result = await wait_accepted(
        get, accepted(svc("UPDATING", 10)), policy=FAST, clock=VirtualClock(), on_event=events.append, visible=visible
    )
    assert result is not None
    assert result.description == "new"
    assert events[0].kind == "stale"
    assert "not visible yet: description is 'old'" in (events[0].detail or "")


@pytest.mark.anyio
async def test_a_token_without_sent_at_still_reads_and_resumes_with_the_grace_rule() -> None:
    """A token written before sent_at existed loads (sent_at None) and proves reads by in-progress or grace only."""
    text = (
        '{"v":1,"resource_id":"' + SID + '","kind":"service","operation":"update","accepted_modified_dt":null,'
        '"accepted_state":null,"started_at":"2025-06-01T12:00:00.000Z","deadline_at":"2025-06-01T12:01:00.000Z"}'
    )
    token = WaitToken.from_json(text)
    assert token.sent_at is None
    assert "sent_at" not in token.to_json()

    class Client:
        services = type("S", (), {"get": staticmethod(Script(svc("RUNNING", 100)))})()
        data_ops = services
        poll_policy = FAST
        clock = VirtualClock()

    started = T0.timestamp()
    # Resumed 1 s after the acceptance: the stale grace (30 s) has not passed, so the read is polled past for a while.
    result = await resume_wait(token, Client(), wall=lambda: started + 1.0)
    assert result is not None
    assert Client.clock.now() >= FAST.stale_grace - 1.0
