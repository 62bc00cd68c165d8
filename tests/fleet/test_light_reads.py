"""fleet.apply's lighter reads (issue 13 item 4): the read before the PUT, the 202 body and the settled read are
checked in the fields the fleet reads (id, state, modified_dt, the update's fields), each misfit named by its path;
a misfit anywhere else is left to get(), which still names it.

A scripted loopback server answers by request count (``tests/test_odd_answers.py``'s ``Scripted``), so the
client's virtual clock cannot race it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._errors import ResponseShapeError
from aiodataops.fleet import Outcome
from tests._loopback import CREDS, Recorder, app_with, serve
from tests.test_odd_answers import NEW, POLL, SID, Scripted, body, old, stamp

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def client_for(script: Scripted) -> AsyncIterator[DataOpsClient]:
    app = app_with(Recorder(), {f"/v1/data-ops-services/{SID}": script.handle})
    async with serve(app) as url, DataOpsClient(url, CREDS, poll=POLL, clock=VirtualClock()) as client:
        yield client


def with_fields(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**payload, **fields}


async def test_a_misfit_in_an_updated_field_of_the_read_before_the_put_fails_the_target_naming_it() -> None:
    """The read before the PUT is checked in the fields the update sets: a description that is not a string fails
    the target as a response_shape error naming ``$.description``, and no PUT is sent."""
    script = Scripted((202, body("UPDATING", "new", stamp())), [(200, with_fields(old()[1], description=5))])
    async with client_for(script) as client:
        report = await client.fleet.apply([(SID, NEW)])
    [item] = report.items
    assert item.outcome is Outcome.FAILED
    assert item.error is not None
    assert (item.error.kind, script.changes) == ("response_shape", 0)
    assert "$.description" in item.error.message


async def test_a_misfit_the_fleet_does_not_read_in_the_read_before_the_put_is_left_to_get() -> None:
    """A field the fleet never reads that does not fit, in the read before the PUT, does not stop the update (that
    read is built in the fields the fleet decides on only); get() of the same body still names it."""
    settled = body("RUNNING", "new", stamp(60))
    script = Scripted(
        (202, body("UPDATING", "new", stamp())), [(200, with_fields(old()[1], is_active_image=42)), (200, settled)]
    )
    async with client_for(script) as client:
        report = await client.fleet.apply([(SID, NEW)])
        script.gets = 0  # the next GET answers the first read again
        with pytest.raises(ResponseShapeError) as caught:
            await client.services.get(SID)
    [item] = report.items
    assert item.outcome is Outcome.SUCCEEDED, item
    assert script.changes == 1
    assert caught.value.path == "$.is_active_image"


async def test_a_misfit_in_an_updated_field_of_the_settled_read_fails_the_target_naming_it() -> None:
    """The settled read is checked in the fields the update sets: a description that is not a string is the same
    ResponseShapeError path that get() names, and the target fails with it."""
    settled = with_fields(body("RUNNING", "new", stamp(60)), description=5)
    script = Scripted((202, body("UPDATING", "new", stamp())), [old(), (200, settled)])
    async with client_for(script) as client:
        report = await client.fleet.apply([(SID, NEW)])
        with pytest.raises(ResponseShapeError) as caught:
            await client.services.get(SID)
    [item] = report.items
    assert item.outcome is Outcome.FAILED
    assert item.error is not None
    assert item.error.kind == "response_shape"
    assert caught.value.path == "$.description"
    assert "$.description" in item.error.message


async def test_a_misfit_the_fleet_does_not_read_in_the_202_or_settled_read_is_left_to_get() -> None:
    """A field the fleet never reads that does not fit, in the 202 body and the settled read only, does not fail
    the update (the fleet builds neither model whole); get() of the same body still names it."""
    accepted = with_fields(body("UPDATING", "new", stamp()), is_active_image=42)
    settled = with_fields(body("RUNNING", "new", stamp(60)), is_active_image=42)
    script = Scripted((202, accepted), [old(), (200, settled)])
    async with client_for(script) as client:
        report = await client.fleet.apply([(SID, NEW)])
        with pytest.raises(ResponseShapeError) as caught:
            await client.services.get(SID)
    [item] = report.items
    assert item.outcome is Outcome.SUCCEEDED, item
    assert item.final_state == "RUNNING"
    assert caught.value.path == "$.is_active_image"
