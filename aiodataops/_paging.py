"""Lazy iteration over a list operation's pages: the next page is fetched only when the last item was consumed.

Every request sends ``page`` (0-based) and ``size`` (API.md, "Endpoints": the server's defaults are not known to
be stable). Iteration stops when a page comes back empty or when ``(page + 1) * size >= total_count``, whichever
comes first, so neither a short last page nor a stale ``total_count`` costs an extra request or loops forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Self, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiodataops._models import Page

__all__ = ["PageIterator"]

T = TypeVar("T")


class PageIterator(Generic[T]):
    """An async iterator over the items of every page, fetching pages on demand.

    ``total_count`` is ``None`` until the first page arrived. ``aclose()`` stops the iteration early (nothing is
    in flight between pages, so there is nothing else to release).
    """

    def __init__(self, fetch: Callable[[int, int], Awaitable[Page[T]]], *, page_size: int = 20, page: int = 0) -> None:
        if page_size < 1:
            raise ValueError(f"page_size: must be at least 1, got {page_size!r}")
        if page < 0:
            raise ValueError(f"page: pages count from 0, got {page!r}")
        self._fetch = fetch
        self._size = page_size
        self._page = page
        self._items: tuple[T, ...] = ()
        self._index = 0
        self._done = False
        self.total_count: int | None = None
        self.pages_fetched = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while self._index >= len(self._items):
            if self._done:
                raise StopAsyncIteration
            result = await self._fetch(self._page, self._size)
            self.pages_fetched += 1
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

    async def aclose(self) -> None:
        """Stop iterating; later ``__anext__`` calls end at once."""
        self._done = True
        self._items = ()
        self._index = 0

    async def collect(self, limit: int | None = None) -> list[T]:
        """Read every remaining item (at most ``limit``) into a list."""
        out: list[T] = []
        async for item in self:
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
        return out
