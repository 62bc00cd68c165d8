"""List operations page from 0, sort by field:asc|desc and filter by exact field values."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aiodataops.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_pages_cover_everything_once(emu: Emulator, call) -> None:
    """Paging with size 3 until (page + 1) * size >= total_count yields every service exactly once."""
    seen: list[str] = []
    page = 0
    while True:
        _, body, _ = await call("GET", f"/v1/data-ops-services?page={page}&size=3")
        seen += [item["data_ops_service_id"] for item in body["contents"]]
        if (page + 1) * 3 >= body["total_count"]:
            break
        page += 1
    assert seen == emu.service_ids()


async def test_page_past_the_end_is_empty(call) -> None:
    """A page past the end answers empty contents and the real total_count."""
    _, body, _ = await call("GET", "/v1/data-ops-services?page=50&size=20")
    assert body == {"contents": [], "total_count": 10}


async def test_sort_desc_and_asc(call) -> None:
    """sort=created_dt:desc orders newest first; :asc the reverse (sent %3A-encoded, as the Go SDK does)."""
    _, desc, _ = await call("GET", "/v1/data-ops-services?page=0&size=100&sort=created_dt%3Adesc")
    _, asc, _ = await call("GET", "/v1/data-ops-services?page=0&size=100&sort=created_dt%3Aasc")
    desc_dates = [item["created_dt"] for item in desc["contents"]]
    assert desc_dates == sorted(desc_dates, reverse=True)
    assert [item["created_dt"] for item in asc["contents"]] == sorted(desc_dates)


async def test_filters_match_exactly(emu: Emulator, call) -> None:
    """Filters by data_ops_name and state match exact values and total_count counts the matches."""
    first = emu.service_body(emu.service_ids()[0])
    _, by_parent, _ = await call("GET", f"/v1/data-ops-services?data_ops_name={first['data_ops_name']}")
    _, by_state, _ = await call("GET", "/v1/data-ops-services?state=RUNNING&size=100")
    _, none, _ = await call("GET", "/v1/data-ops-services?state=running")
    assert by_parent["total_count"] == 5
    assert {item["data_ops_name"] for item in by_parent["contents"]} == {first["data_ops_name"]}
    assert by_state["total_count"] == 10
    assert none["total_count"] == 0


async def test_filter_by_name_and_created_by(emu: Emulator, call) -> None:
    """Filtering by data_ops_service_name finds that one service; by created_by, only that person's."""
    body = emu.service_body(emu.service_ids()[4])
    _, one, _ = await call("GET", f"/v1/data-ops-services?data_ops_service_name={body['data_ops_service_name']}")
    _, mine, _ = await call("GET", f"/v1/data-ops-services?created_by={body['created_by']}&size=100")
    assert [item["data_ops_service_id"] for item in one["contents"]] == [body["data_ops_service_id"]]
    assert mine["total_count"] >= 1
    assert {item["created_by"] for item in mine["contents"]} == {body["created_by"]}


async def test_list_reflects_a_settled_change(emu: Emulator, clock, call) -> None:
    """After an update the list shows the service UPDATING, then RUNNING with the new modified_dt."""
    service_id = emu.service_ids()[0]
    _, accepted, _ = await call("PUT", f"/v1/data-ops-services/{service_id}", {"description": "new"})
    _, during, _ = await call("GET", "/v1/data-ops-services?state=UPDATING")
    clock.advance(2.0)
    _, after, _ = await call("GET", "/v1/data-ops-services?size=1")
    assert [item["data_ops_service_id"] for item in during["contents"]] == [service_id]
    assert after["contents"][0]["state"] == "RUNNING"
    assert after["contents"][0]["modified_dt"] == accepted["modified_dt"]


async def test_summary_has_list_fields_only(call) -> None:
    """A list item carries the documented list fields (DataOpsServicesConsoleResponseV1Dot1), never the password."""
    _, body, _ = await call("GET", "/v1/data-ops-services?size=1")
    item = body["contents"][0]
    assert set(item) == {
        "account_id",
        "cluster_permission",
        "cluster_request_failed",
        "cluster_id",
        "cluster_name",
        "created_by",
        "created_dt",
        "data_ops_id",
        "data_ops_name",
        "data_ops_service_id",
        "data_ops_service_name",
        "description",
        "modified_by",
        "modified_dt",
        "state",
        "version",
    }


async def test_data_ops_list_filters(emu: Emulator, call) -> None:
    """The data ops list filters by data_ops_name too."""
    name = emu.data_ops_body(emu.data_ops_ids()[1])["data_ops_name"]
    _, body, _ = await call("GET", f"/v1/data-ops?data_ops_name={name}")
    assert [item["data_ops_id"] for item in body["contents"]] == [emu.data_ops_ids()[1]]
