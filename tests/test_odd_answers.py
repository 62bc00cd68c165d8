"""Answers the emulator does not give, from a scripted loopback server: plain-text 202s, reads of another id,
settled reads that do not show the update yet, and 400s for a deleted id.

The server answers by request count, not by time, so the client's virtual clock cannot race it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._errors import BadRequestError, ResponseShapeError, WaitTimeoutError
from aiodataops._models import ServiceUpdate
from aiodataops._polling import PollPolicy
from aiodataops.fleet import Outcome
from tests._loopback import CREDS, Recorder, app_with, serve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SID = "DOPS_SERVICE-00000000-0000-4000-8000-000000000001"
OTHER = "DOPS_SERVICE-00000000-0000-4000-8000-000000000002"
POLL = PollPolicy(
    first_delay=0.5, growth=1.5, max_delay=2.0, min_delay=0.25, jitter=False, deadline=60.0, stale_grace=30.0
)
NEW = ServiceUpdate(description="new")


def stamp(offset: float = 0.0) -> str:
    """A ``modified_dt`` ``offset`` seconds from now, as the API writes it."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body(state: str, description: str, modified: str, sid: str = SID) -> dict[str, Any]:
    return {"data_ops_service_id": sid, "state": state, "description": description, "modified_dt": modified}


class Scripted:
    """One service: PUT and DELETE answer ``change`` (status, text or JSON); GETs answer ``reads`` in order."""

    def __init__(self, change: tuple[int, Any], reads: list[tuple[int, Any]]) -> None:
        self.change = change
        self.reads = reads
        self.gets = 0
        self.changes = 0

    @staticmethod
    def answer(status: int, payload: Any) -> web.Response:
        if isinstance(payload, str):
            return web.Response(status=status, text=payload)
        return web.json_response(payload, status=status)

    async def handle(self, request: web.Request) -> web.Response:
        if request.method in ("PUT", "DELETE"):
            self.changes += 1
            return self.answer(*self.change)
        step = self.reads[min(self.gets, len(self.reads) - 1)]
        self.gets += 1
        return self.answer(*step)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@contextlib.asynccontextmanager
async def client_for(script: Scripted, clock: VirtualClock) -> AsyncIterator[DataOpsClient]:
    """A client of a loopback server answering as ``script`` says."""
    app = app_with(Recorder(), {f"/v1/data-ops-services/{SID}": script.handle})
    async with serve(app) as url, DataOpsClient(url, CREDS, poll=POLL, clock=clock) as client:
        yield client


def old(state: str = "RUNNING") -> tuple[int, Any]:
    return 200, body(state, "old", "2020-01-01T00:00:00.000Z")


@pytest.mark.anyio
async def test_a_plain_text_202_is_an_accepted_change_without_a_body(clock: VirtualClock) -> None:
    """A 202 whose body is plain text is followed as accepted (no body), and the fleet reports it succeeded."""
    script = Scripted(
        (202, "Accepted"), [(200, body("UPDATING", "new", stamp())), (200, body("RUNNING", "new", stamp()))]
    )
    async with client_for(script, clock) as client:
        accepted = await client.services.put(SID, NEW)
        assert (accepted.body, accepted.resource_id) == (None, SID)
        # force: the update is already in place (the put above), and this test is about following a body-less 202.
        report = await client.fleet.apply([(SID, NEW)], force=True)
    [item] = report.items
    assert item.outcome is Outcome.SUCCEEDED, item
    assert item.final_state == "RUNNING"
    assert script.changes == 2


@pytest.mark.anyio
async def test_a_202_about_another_id_is_taken_as_no_body(clock: VirtualClock) -> None:
    """A 202 body naming another service is not the accepted state: put() answers Accepted without a body."""
    script = Scripted((202, body("UPDATING", "new", stamp(), sid=OTHER)), [old()])
    async with client_for(script, clock) as client:
        accepted = await client.services.put(SID, NEW)
    assert accepted.body is None


@pytest.mark.anyio
async def test_a_read_of_another_id_is_a_response_shape_error(clock: VirtualClock) -> None:
    """get() and a wait's poll refuse an answer about another service, naming the id field."""
    script = Scripted((202, body("UPDATING", "new", stamp())), [(200, body("RUNNING", "new", stamp(), sid=OTHER))])
    async with client_for(script, clock) as client:
        with pytest.raises(ResponseShapeError, match=OTHER) as info:
            await client.services.get(SID)
        assert info.value.path == "$.data_ops_service_id"
        with pytest.raises(ResponseShapeError, match=OTHER):
            await client.services.update_and_wait(SID, NEW)
        report = await client.fleet.apply([(SID, NEW)])
    [item] = report.items
    assert item.outcome is Outcome.FAILED
    assert item.error is not None
    assert item.error.kind == "response_shape"


@pytest.mark.anyio
async def test_a_settled_read_without_the_update_keeps_the_wait_polling(clock: VirtualClock) -> None:
    """RUNNING reads that still show the old fields do not settle an update; the first one showing it does."""
    when = stamp()
    reads = [(200, body("RUNNING", "old", when)), (200, body("UPDATING", "old", when))] * 2
    reads.append((200, body("RUNNING", "new", when)))
    script = Scripted((202, body("UPDATING", "new", when)), reads)
    async with client_for(script, clock) as client:
        settled = await client.services.update_and_wait(SID, NEW)
    assert settled.description == "new"
    assert script.gets == 5


@pytest.mark.anyio
async def test_an_update_never_visible_times_out_saying_so(clock: VirtualClock) -> None:
    """When settled reads never show the update, the wait times out with a message saying it is not visible."""
    when = stamp()
    script = Scripted((202, body("UPDATING", "new", when)), [(200, body("RUNNING", "old", when))])
    async with client_for(script, clock) as client:
        with pytest.raises(WaitTimeoutError, match="update is not visible") as info:
            await client.services.update_and_wait(SID, NEW)
        report = await client.fleet.apply([(SID, NEW)])
    assert "description is 'old', not 'new'" in str(info.value)
    [item] = report.items
    assert item.outcome is Outcome.TIMED_OUT
    assert item.error is not None
    assert "not visible" in item.error.message


@pytest.mark.anyio
async def test_a_delete_settles_on_a_400_once_the_deletion_was_seen(clock: VirtualClock) -> None:
    """After a read shows TERMINATING, the live API's 400 for the unknown id means deleted."""
    gone = (400, {"errors": [{"status": "400", "detail": ["unknown data ops service id"]}]})
    script = Scripted((202, ""), [old("TERMINATING"), gone])
    async with client_for(script, clock) as client:
        await client.services.delete_and_wait(SID)
    assert script.gets == 2


@pytest.mark.anyio
async def test_a_400_before_any_deletion_was_seen_propagates(clock: VirtualClock) -> None:
    """A 400 while nothing showed the deletion under way is an error, not "deleted"."""
    refused = (400, {"errors": [{"status": "400", "detail": ["malformed id"]}]})
    script = Scripted((202, ""), [refused])
    async with client_for(script, clock) as client:
        with pytest.raises(BadRequestError):
            await client.services.delete_and_wait(SID)
