"""Counts in messages take the noun that fits them ("1 poll", "2 polls"), with one helper for the SDK and the CLI."""

from __future__ import annotations

import pytest

from aiodataops._errors import WaitTimeoutError
from aiodataops._models import Page
from aiodataops._paging import ListingError, PageIterator
from aiodataops._plural import plural
from aiodataops.cli import _common


def test_the_cli_and_the_sdk_share_one_helper() -> None:
    """``cli._common.plural`` is the core's helper: singular for 1 only, thousands separated."""
    assert _common.plural is plural
    assert [plural(n, "target") for n in (0, 1, 2, 1200)] == ["0 targets", "1 target", "2 targets", "1,200 targets"]
    assert plural(1, "body", "bodies") == "1 body"
    assert plural(3, "body", "bodies") == "3 bodies"


def test_a_wait_that_polled_once_says_1_poll() -> None:
    """A wait error after a single poll says "1 poll", not "1 polls"; after two, "2 polls"."""
    once = WaitTimeoutError("not settled", resource_id="DOPS_SERVICE-a", last_state="UPDATING", elapsed=1.0, polls=1)
    assert "(last state 'UPDATING', 1 poll in 1.0s)" in str(once)
    twice = WaitTimeoutError("not settled", resource_id="DOPS_SERVICE-a", last_state="UPDATING", elapsed=1.0, polls=2)
    assert "2 polls in" in str(twice)


@pytest.mark.anyio
async def test_a_listing_capped_at_one_item_says_1_item() -> None:
    """``max_items=1`` exceeded: the ``ListingError`` says "more than 1 item", not "1 items"."""

    async def fetch(page: int, size: int) -> Page[int]:
        return Page(contents=tuple(range(page * size, (page + 1) * size)), total_count=10**9)

    with pytest.raises(ListingError, match=r"more than 1 item by page 0 "):
        await PageIterator(fetch, page_size=2, max_items=1).collect()
