"""The light read of a poll: what it checks at once, and what it leaves for the end of the wait."""

from __future__ import annotations

import datetime as dt

import pytest

from aiodataops import ResponseShapeError, Service, ServiceUpdate, VirtualClock, WaitFailedError
from aiodataops._client import DataOpsClient
from aiodataops._peek import Peek, peek
from aiodataops.emulator import Emulator

SID = "DOPS_SERVICE-2a9be312-5d4b-4bc8-b2ae-35100fa9241f"


def body(**fields: object) -> dict[str, object]:
    return {"data_ops_service_id": SID, "state": "RUNNING", "modified_dt": "2026-02-11T06:41:30.395Z", **fields}


def test_a_fitting_body_is_peeked_with_state_and_modified_dt() -> None:
    """A body whose id, state and modified_dt fit gives a Peek with those two fields parsed."""
    read = peek(body(), b"", Service, "data_ops_service_id")
    assert isinstance(read, Peek)
    assert read.state == "RUNNING"
    assert read.modified_dt == dt.datetime(2026, 2, 11, 6, 41, 30, 395000, tzinfo=dt.UTC)


def test_full_builds_the_model_and_names_a_misfit_elsewhere() -> None:
    """A misfit outside the two fields passes the peek and is named by full(), as get() would name it."""
    read = peek(body(service_workload={"worker": {"cpu": 2}}), b"", Service, "data_ops_service_id")
    assert isinstance(read, Peek)
    with pytest.raises(ResponseShapeError) as info:
        read.full()
    assert info.value.path == "$.service_workload.worker.cpu"
    assert peek(body(description="x"), b"", Service, "data_ops_service_id").full().description == "x"  # type: ignore[union-attr]


def test_full_builds_the_model_once() -> None:
    """full() builds the model on its first call and hands the same frozen model back after (no second structure)."""
    read = peek(body(description="x"), b"", Service, "data_ops_service_id")
    assert isinstance(read, Peek)
    assert read.full() is read.full()


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"state": 3}, "$.state"),
        ({"modified_dt": "yesterday"}, "$.modified_dt"),
        ({"data_ops_service_id": 1}, "$.data_ops_service_id"),
    ],
)
def test_a_misfit_in_a_field_the_wait_reads_fails_at_once(fields: dict[str, object], path: str) -> None:
    """A bad id, state or modified_dt is structured at once, so the error names that field."""
    with pytest.raises(ResponseShapeError) as info:
        peek(body(**fields), b"", Service, "data_ops_service_id")
    assert info.value.path == path


def test_a_peek_never_shows_the_body() -> None:
    """The repr of a peek shows the state and time only, never the body that may hold a password."""
    read = peek(body(account={"account_id": "a", "account_password": "hunter2"}), b"", Service, "data_ops_service_id")
    assert "hunter2" not in repr(read)


@pytest.mark.anyio
async def test_waits_return_and_report_full_models() -> None:
    """A settled wait returns the full Service, and a failed one carries the full Service as its last body."""
    clock = VirtualClock()
    async with (
        Emulator(data_ops=1, services_per_data_ops=2, update_duration=(5, 5), clock=clock) as emu,
        DataOpsClient(emu.base_url, emu.credentials, clock=clock) as client,
    ):
        good, bad = emu.service_ids()
        settled = await client.services.update_and_wait(good, ServiceUpdate(description="peeked"))
        assert isinstance(settled, Service)
        assert settled.description == "peeked"
        emu.force_outcome(bad, "ERROR")
        with pytest.raises(WaitFailedError) as info:
            await client.services.update_and_wait(bad, ServiceUpdate(description="fails"))
        assert isinstance(info.value.last_body, Service)
        assert info.value.last_body.state == "ERROR"
