"""What every resource of the API shares: get, paged lists, create, update, delete, and waiting for a settled state.

``Services`` and ``DataOpsResource`` subclass ``Resource`` and add their own operations and their typed filters.
Paths are built from percent-encoded segments (``encode_path``), so an id or a name holding ``/``, ``?`` or
non-ASCII characters stays one segment and the signature covers exactly what is sent.

**Create answers.** The create response bodies are not documented. A body that carries the resource's id is read
as the resource; otherwise the new resource is found by listing with its name as a filter and matching the name
exactly on the client side (the server's filter semantics are a guess), then read with ``get``. A create is
asynchronous, so the listing is tried a few times, through the client's clock, before giving up with
``ResponseShapeError``. Update and delete answers are read the same way: the body when it carries the id, else
(for an update) a fresh ``get``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Protocol, TypeVar, cast

from aiodataops._errors import ResponseShapeError, WaitError
from aiodataops._paging import PageIterator
from aiodataops._peek import Peek, peek
from aiodataops._transport import encode_path
from aiodataops._wire import dumps, structure

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiodataops._clock import Clock
    from aiodataops._models import DataOps, Page, Service
    from aiodataops._polling import PollPolicy
    from aiodataops._transport import Transport
    from aiodataops._waiting import Operation, StateEvent

__all__ = ["CREATE_LOOKUP_DELAYS", "DEFAULT_PAGE_SIZE", "Filter", "Resource"]

DEFAULT_PAGE_SIZE: Final = 20
#: Seconds to wait before each further listing when a create answered without an id.
CREATE_LOOKUP_DELAYS: Final = (1.0, 2.0, 4.0)

Filter = str | int | bool | None
_PAGING_KEYS: Final = frozenset({"page", "size", "sort"})


def merge_filters(named: dict[str, Filter], extra: dict[str, Any]) -> dict[str, Filter]:
    """The named filters plus any other keyword, sent as is (for filters this SDK does not know yet).

    Paging keys are refused here: they have their own arguments, and a filter of that name would page silently.
    """
    for key in extra:
        if key in _PAGING_KEYS:
            raise TypeError(f"{key}: not a filter; use page_size=/sort= (or list_page(page=, size=))")
    return {**named, **extra}


D = TypeVar("D", bound="Service | DataOps")  # the detail model
S = TypeVar("S")  # the list item model (ServiceSummary, DataOpsSummary)
U = TypeVar("U")  # the update request model (ServiceUpdate, DataOpsUpdate)


class _ClientParts(Protocol):
    """What a resource needs from its client (``DataOpsClient``)."""

    @property
    def transport(self) -> Transport: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def poll_policy(self) -> PollPolicy: ...


class Resource(Generic[D, S, U]):
    """Operations common to services and data ops; subclasses set the class attributes below."""

    collection: ClassVar[str]  # "data-ops-services"
    operation_suffix: ClassVar[str]  # "service" -> get_service, list_services
    detail: type[D]
    page_model: Any  # Page[Summary], a concrete alias cattrs can build
    id_field: ClassVar[str]  # "data_ops_service_id"
    name_field: ClassVar[str]  # "data_ops_service_name"

    def __init__(self, client: _ClientParts) -> None:
        self._client = client
        self._transport = client.transport

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._transport.endpoint!r})"

    # -- helpers ------------------------------------------------------------------------------------------------

    def _path(self, *segments: str) -> str:
        return encode_path("v1", self.collection, *segments)

    async def _json(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: dict[str, Filter] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> tuple[Any, bytes]:
        answer = await self._transport.request(
            method,
            path,
            params=params,
            body=None if body is None else dumps(body),
            idempotent=idempotent,
            operation=operation,
        )
        raw = answer.body
        return (answer.json() if raw else None), raw

    def _read_detail(self, data: Any, raw: bytes) -> D | None:
        """The answer as the detail model when it carries the id; ``None`` when it does not look like one."""
        if isinstance(data, dict) and data.get(self.id_field):
            return structure(data, self.detail, raw=raw)
        return None

    # -- reads --------------------------------------------------------------------------------------------------

    async def get(self, resource_id: str) -> D:
        """Read one resource; ``NotFoundError`` when it does not exist."""
        data, raw = await self._json("GET", self._path(resource_id), f"get_{self.operation_suffix}")
        return structure(data, self.detail, raw=raw)

    async def _list_page(self, page: int, size: int, sort: str | None, filters: dict[str, Filter]) -> Page[S]:
        if page < 0:
            raise ValueError(f"page: pages count from 0, got {page!r}")
        if size < 1:
            raise ValueError(f"size: must be at least 1, got {size!r}")
        params: dict[str, Filter] = {**filters, "page": page, "size": size, "sort": sort}
        data, raw = await self._json("GET", self._path(), f"list_{self.operation_suffix}s", params=params)
        result: Page[S] = structure(data, self.page_model, raw=raw)
        return result

    def _iterate(self, page_size: int, sort: str | None, filters: dict[str, Filter]) -> PageIterator[S]:
        def fetch(page: int, size: int) -> Awaitable[Page[S]]:
            return self._list_page(page, size, sort, filters)

        return PageIterator(fetch, page_size=page_size)

    async def _check_name(self, name: str, operation: str) -> bool:
        if not name:
            raise ValueError("name: must not be empty")
        data, raw = await self._json("GET", self._path(name, "check-duplication"), operation)
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, bool):
            from aiodataops._models import DuplicationCheck  # noqa: PLC0415 -- only to name the misfit

            structure(data, DuplicationCheck, raw=raw)
        return bool(result)

    # -- changes ------------------------------------------------------------------------------------------------

    async def _create(self, request: Any, name: str, list_by_name: Callable[[str], PageIterator[S]]) -> D:
        data, raw = await self._json("POST", self._path(), f"create_{self.operation_suffix}", body=request)
        found = self._read_detail(data, raw)
        if found is not None:
            return found
        # No id in the answer: find the new resource by its (unique) name.
        for delay in (0.0, *CREATE_LOOKUP_DELAYS):
            if delay:
                await self._client.clock.sleep(delay)
            async for item in list_by_name(name):
                if getattr(item, self.name_field, None) == name:
                    return await self.get(getattr(item, self.id_field))
        raise ResponseShapeError(
            f"the create answer carries no {self.id_field} and no {self.name_field} {name!r} was listed afterwards",
            body=raw.decode("utf-8", "replace"),
        )

    async def _put(self, resource_id: str, request: U, *, retry_sent: bool = True) -> D | None:
        """Send the update; return the 202 body when it is a readable resource, else ``None``."""
        data, raw = await self._json(
            "PUT", self._path(resource_id), f"update_{self.operation_suffix}", body=request, idempotent=retry_sent
        )
        return self._read_detail(data, raw)

    async def _update(self, resource_id: str, request: U, *, retry_sent: bool = True) -> D:
        found = await self._put(resource_id, request, retry_sent=retry_sent)
        return found if found is not None else await self.get(resource_id)

    async def _delete(self, resource_id: str) -> D | None:
        data, raw = await self._json("DELETE", self._path(resource_id), f"delete_{self.operation_suffix}")
        return self._read_detail(data, raw)

    async def delete(self, resource_id: str) -> None:
        """Ask for deletion (asynchronous: the resource reads TERMINATING, then 404)."""
        await self._delete(resource_id)

    # -- waiting ------------------------------------------------------------------------------------------------

    async def wait_settled(
        self,
        resource_id: str,
        *,
        after: D | None = None,
        operation: Operation = "update",
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
        accepted: bool | None = None,
    ) -> D | None:
        """Poll until the accepted change settles (see ``aiodataops._waiting``); ``None`` after a delete.

        ``after`` is the accepted (202) body, so that reads older than the change never count as settled;
        ``accepted=True`` without ``after`` says a change was accepted but its answer had no readable body.
        """
        from aiodataops._waiting import wait_settled  # noqa: PLC0415 -- the waiting layer loads on first use

        try:
            result = await wait_settled(
                self._peek,
                resource_id,
                after=cast("Peek[D] | D | None", after),
                operation=operation,
                policy=policy or self._client.poll_policy,
                on_event=on_event,
                clock=self._client.clock,
                accepted=accepted,
            )
        except WaitError as exc:
            if isinstance(exc.last_body, Peek):
                exc.last_body = exc.last_body.full()
            raise
        # The waiting layer hands back what the getter gave it: a Peek, or the full model when a field misfit.
        return cast("D | None", result.full() if isinstance(result, Peek) else result)

    async def _peek(self, resource_id: str) -> Peek[D] | D:
        """A poll's read: only what a wait looks at is checked (see ``_peek``); the rest waits for ``full()``."""
        data, raw = await self._json("GET", self._path(resource_id), f"get_{self.operation_suffix}")
        return peek(data, raw, self.detail, self.id_field)

    async def _settled(
        self,
        resource_id: str,
        after: D | None,
        operation: Operation,
        policy: PollPolicy | None,
        on_event: Callable[[StateEvent], object] | None,
    ) -> D:
        # A change answered without a readable body still happened: the wait must not take the next (possibly
        # stale) read as its bar, so it is told a change was accepted rather than handed a fresh GET.
        result = await self.wait_settled(
            resource_id, after=after, operation=operation, policy=policy, on_event=on_event, accepted=True
        )
        if result is None:  # only a delete ends without a body
            raise ResponseShapeError(f"waiting for the {operation} of {resource_id} ended without a body")
        return result

    async def update_and_wait(
        self,
        resource_id: str,
        update: U,
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> D:
        """Update, then wait until the change settles; return the settled resource."""
        accepted = await self._put(resource_id, update)
        return await self._settled(resource_id, accepted, "update", policy, on_event)

    async def delete_and_wait(
        self,
        resource_id: str,
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> None:
        """Delete, then wait until the resource is gone."""
        accepted = await self._delete(resource_id)
        await self.wait_settled(resource_id, after=accepted, operation="delete", policy=policy, on_event=on_event)
