"""Paging ends whatever the server does: a repeated page, a page past ``total_count``, a listing past ``max_items``."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from aiodataops import DataOpsClient, ListingError, ServiceSummary, parse_plan
from aiodataops._models import Page
from aiodataops._paging import DEFAULT_MAX_ITEMS, PageIterator
from tests._loopback import CREDS, Recorder, app_with, serve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

PATH = "/v1/data-ops-services"


def _item(n: int) -> dict[str, object]:
    return {"data_ops_service_id": f"DOPS_SERVICE-{n:06d}", "state": "RUNNING"}


def _endless(kind: str) -> Callable[[web.Request], object]:
    """A list handler that never ends in the way ``kind`` says."""

    async def handler(request: web.Request) -> web.Response:
        page, size = int(request.query["page"]), int(request.query["size"])
        if kind == "same_page":  # ignores ``page``: page 0 forever, with a huge total
            contents, total = [_item(n) for n in range(size)], 10**9
        elif kind == "new_ids":  # a new page of new ids every time, with a huge total
            contents, total = [_item(page * size + n) for n in range(size)], 10**9
        else:  # "ignores_size": 50 items a page, but counts only 60
            contents, total = [_item(page * 50 + n) for n in range(50)], 60
        return web.json_response({"contents": contents, "total_count": total})

    return handler


@pytest.fixture
async def recorder() -> Recorder:
    """Counts the requests the misbehaving servers get."""
    return Recorder()


@contextlib.asynccontextmanager
async def _client_of(recorder: Recorder, kind: str) -> AsyncIterator[DataOpsClient]:
    async with serve(app_with(recorder, {PATH: _endless(kind)})) as url, DataOpsClient(url, CREDS) as client:
        yield client


@pytest.mark.anyio
async def test_a_page_that_repeats_stops_the_listing(recorder: Recorder) -> None:
    """The same page again (the server ignores ``page``) ends the listing with ``ListingError`` after two requests."""
    async with _client_of(recorder, "same_page") as client:
        listing = client.services.list(page_size=10)
        first: list[ServiceSummary] = [await anext(listing) for _ in range(10)]
        with pytest.raises(ListingError, match="page 1 holds the same 10 items as page 0") as caught:
            await anext(listing)
        assert len({item.id for item in first}) == 10
        assert (caught.value.page, caught.value.items) == (1, 10)
        assert [item async for item in listing] == []  # and it stays ended
    assert recorder.count == 2


@pytest.mark.anyio
async def test_new_ids_on_every_page_stop_at_max_items(recorder: Recorder) -> None:
    """Endless new pages stop past ``max_items`` (set on the iterator), with a message naming the limit."""
    async with _client_of(recorder, "new_ids") as client:
        listing = client.services.list(page_size=100)
        listing.max_items = 1_000
        with pytest.raises(ListingError, match=r"more than 1,000 items by page 10 .*max_items"):
            await listing.collect()
    assert recorder.count == 11


@pytest.mark.anyio
async def test_pages_past_total_count_stop_the_listing(recorder: Recorder) -> None:
    """A server that sends more items than its own ``total_count`` (ignoring ``size``) is stopped on the second page."""
    async with _client_of(recorder, "ignores_size") as client:
        with pytest.raises(ListingError, match=r"100 items by page 1, but the server counts 60"):
            await client.services.list(page_size=20).collect()
    assert recorder.count == 2


@pytest.mark.anyio
async def test_a_fleet_selector_over_an_endless_listing_ends_with_an_error(recorder: Recorder) -> None:
    """A plan's selector paging an endless list ends the run with the listing error, having sent no update."""
    plan = parse_plan({"update": {"description": "x"}, "targets": [{"select": {"data_ops_service_id": "*"}}]})
    async with _client_of(recorder, "same_page") as client:
        report = await client.fleet.apply(plan, dry_run=True)
    assert report.error is not None
    assert "does not end" in report.error
    assert {method for method, _, _ in recorder.hits} == {"GET"}
    assert sum(1 for _, path, _ in recorder.hits if path.startswith(PATH + "?")) == 2


@pytest.mark.anyio
async def test_the_default_cap_is_generous_and_can_be_lifted() -> None:
    """By default 100,000 items may be listed; ``max_items=None`` lifts the cap; a bad cap is refused."""
    assert DEFAULT_MAX_ITEMS == 100_000

    async def fetch(page: int, size: int) -> Page[int]:
        return Page(contents=tuple(range(page * size, (page + 1) * size)), total_count=10**9)

    unbounded = PageIterator(fetch, page_size=1_000, max_items=None)
    assert len(await unbounded.collect(limit=150_000)) == 150_000
    assert len(await PageIterator(fetch, page_size=1_000).collect(limit=DEFAULT_MAX_ITEMS)) == DEFAULT_MAX_ITEMS
    with pytest.raises(ValueError, match="max_items"):
        PageIterator(fetch, max_items=0)
