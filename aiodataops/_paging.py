"""Lazy iteration over a list operation's pages: the next page is fetched only when the last item was consumed.

Every request sends ``page`` (0-based) and ``size`` (API.md, "Endpoints": the server's defaults are not known to
be stable). Iteration stops when a page comes back empty or when ``(page + 1) * size >= total_count``, whichever
comes first, so neither a short last page nor a stale ``total_count`` costs an extra request.

A listing must also end when the server misbehaves, so paging is bounded (``ListingError``, naming what happened):

- a page holding the same items as the one before (a server that ignores ``page``, with a huge ``total_count``);
- after the first page, more items than the latest ``total_count`` says there are (a server that ignores
  ``size``; a consistent server never does this, even while the list shrinks, as a page holds at most
  ``total_count - page * size`` items);
- more than ``max_items`` items in all (default 100,000; a server inventing new items on every page). Every page
  but the last brings at least one item, so this bounds the pages fetched too.

``stop_fetching()`` ends a listing at once from outside (a Ctrl-C, a halted fleet run): no page is asked for after
it and the request in flight, if any, is cancelled; the items already fetched still come out, then the iteration
ends as if the list had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Generic, Self, TypeVar

import anyio

from aiodataops._errors import ResponseShapeError
from aiodataops._plural import plural

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from aiodataops._models import Page

__all__ = ["DEFAULT_MAX_ITEMS", "ListingError", "PageIterator", "StoppableListings"]

T = TypeVar("T")

#: Items a listing may yield before it is taken for one that never ends: far above any real account's services.
DEFAULT_MAX_ITEMS: Final = 100_000

# The fields that identify a listed item, most specific first (a service summary also names its data ops).
_ID_FIELDS: Final = ("data_ops_service_id", "data_ops_id", "image_id")


class ListingError(ResponseShapeError):
    """A listing that would not end: a page repeating the one before, more items than ``total_count`` or ``max_items``.

    ``page`` is the 0-based page at which paging stopped, ``items`` how many items had been yielded.
    """

    def __init__(self, message: str, *, page: int, items: int) -> None:
        super().__init__(message, path="$.contents")
        self.page = page
        self.items = items
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def _identity(item: object) -> object:
    """What tells one listed item from another: its id, or the item itself if it has none."""
    for name in _ID_FIELDS:
        value = getattr(item, name, None)
        if value is not None:
            return value
    return item


class PageIterator(Generic[T]):
    """An async iterator over the items of every page, fetching pages on demand.

    ``total_count`` is ``None`` until the first page arrived. ``max_items`` bounds the whole listing (``None``: no
    bound; set it before iterating to list more than ``DEFAULT_MAX_ITEMS``). ``aclose()`` stops the iteration early
    (nothing is in flight between pages, so there is nothing else to release); ``stop_fetching()`` stops it from
    another task, cancelling a page request in flight.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], Awaitable[Page[T]]],
        *,
        page_size: int = 20,
        page: int = 0,
        max_items: int | None = DEFAULT_MAX_ITEMS,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size: must be at least 1, got {page_size!r}")
        if page < 0:
            raise ValueError(f"page: pages count from 0, got {page!r}")
        if max_items is not None and max_items < 1:
            raise ValueError(f"max_items: must be at least 1 (or None), got {max_items!r}")
        self._fetch = fetch
        self._size = page_size
        self._page = page
        self._items: tuple[T, ...] = ()
        self._index = 0
        self._done = False
        self._offset = page * page_size  # items before the first page fetched
        self._received = 0
        self._previous_ids: tuple[object, ...] = ()
        self._fetching: anyio.CancelScope | None = None
        self._fetch_no_more = False
        self.total_count: int | None = None
        self.max_items = max_items

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while self._index >= len(self._items):
            if self._done or self._fetch_no_more:
                raise StopAsyncIteration
            self._fetching = anyio.CancelScope()
            try:
                with self._fetching:
                    result = await self._fetch(self._page, self._size)
            finally:
                self._fetching = None
            if self._fetch_no_more:  # stopped while the page was in flight (its request cancelled, or just answered)
                self._stop()
                raise StopAsyncIteration
            self._check(result)
            self.total_count = result.total_count
            self._items = result.contents
            self._index = 0
            total = result.total_count  # None: the server left it unset; page until a page comes back empty
            if not result.contents or (total is not None and (self._page + 1) * self._size >= total):
                self._done = True
            self._page += 1
        item = self._items[self._index]
        self._index += 1
        return item

    def _check(self, result: Page[T]) -> None:
        """Raise ``ListingError`` if this page shows the listing would not end."""
        page, received = self._page, self._received + len(result.contents)
        ids = tuple(_identity(item) for item in result.contents)
        if ids and ids == self._previous_ids:
            self._stop()
            raise ListingError(
                f"the listing does not end: page {page} holds the same {plural(len(ids), 'item')} as page {page - 1} "
                "(the server ignores the page number?); stopped",
                page=page,
                items=self._received,
            )
        total = result.total_count
        if self._received and total is not None and self._offset + received > total:
            self._stop()
            raise ListingError(
                f"the listing ran past its end: {plural(received, 'item')} by page {page}, but the server counts "
                f"{result.total_count} (the server ignores the page size?); stopped",
                page=page,
                items=self._received,
            )
        if self.max_items is not None and received > self.max_items:
            self._stop()
            raise ListingError(
                f"the listing does not end: more than {plural(self.max_items, 'item')} by page {page} "
                f"(the server counts {result.total_count}); stopped at max_items",
                page=page,
                items=self._received,
            )
        self._previous_ids = ids
        self._received = received

    def _stop(self) -> None:
        self._done = True
        self._items = ()
        self._index = 0

    def stop_fetching(self) -> None:
        """Ask for no more pages, and cancel the request in flight: the items already fetched still come out, then
        the iteration ends. Not a coroutine, so that a watcher of a stop event (another task) can call it."""
        self._fetch_no_more = True
        if self._fetching is not None:
            self._fetching.cancel()

    async def aclose(self) -> None:
        """Stop iterating; later ``__anext__`` calls end at once."""
        self._stop()

    async def collect(self, limit: int | None = None) -> list[T]:
        """Read every remaining item (at most ``limit``) into a list."""
        out: list[T] = []
        async for item in self:
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
        return out


class StoppableListings(Generic[T]):
    """Listings made through ``make`` (call ``listings.list()`` instead), which ``stop_fetching()`` stops together.

    A fleet run hands ``list`` to whatever resolves its selectors and calls ``stop_fetching()`` when it halts on a
    Ctrl-C: the listing in progress asks for no more pages, and one made later asks for none. An iterator that is not
    a ``PageIterator`` (a test's fake, say) is handed out as it is, and not stopped.
    """

    def __init__(self, make: Callable[[], AsyncIterator[T]]) -> None:
        self._make = make
        self._made: list[PageIterator[T]] = []
        self.stopped = False

    def list(self) -> AsyncIterator[T]:
        """A new listing from ``make``; already stopped if ``stop_fetching()`` was called."""
        listing = self._make()
        if isinstance(listing, PageIterator):
            self._made.append(listing)
            if self.stopped:
                listing.stop_fetching()
        return listing

    def stop_fetching(self) -> None:
        """Stop every listing made, and those still to be made, from asking for another page."""
        self.stopped = True
        for listing in self._made:
            listing.stop_fetching()
