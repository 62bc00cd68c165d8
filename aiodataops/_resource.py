"""What every resource of the API shares: get, paged lists, create, update, delete, and waiting for a settled state.

``Services`` and ``DataOpsResource`` subclass ``Resource`` and add their own operations and their typed filters.
Paths are built from percent-encoded segments (``encode_path``), so an id or a name holding ``/``, ``?`` or
non-ASCII characters stays one segment and the signature covers exactly what is sent.

**Create answers.** The create response bodies are not documented. A body that carries the resource's id is read
as the resource; otherwise the new resource is found by listing with its name as a filter and matching the name
exactly on the client side (the server's filter semantics are a guess), then read with ``get``. A create is
asynchronous, so the listing is tried a few times, through the client's clock, before giving up with
``ResponseShapeError``.

**Change answers.** ``put`` returns an ``Accepted`` (see ``_accepted``; deletes and ``create_and_wait`` use one
inside): the 2xx body as
the model when it is one about this resource, else no body: an empty answer, plain text, JSON that does not fit the
model or names another id all mean "accepted, state unknown" (a 2xx is an acceptance whatever its body; failing it
would report a change that is under way as refused). ``wait_accepted`` follows an ``Accepted``; ``update_and_wait``
is ``put`` then ``wait_accepted``. ``update`` (kept for compatibility) returns the body, or a fresh ``get`` when
there was none: a value to look at, never a bar for a wait.

**Detail reads** (``get`` and a poll's read) check that the answer is about the id asked for: another id is a
``ResponseShapeError``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar, cast

from aiodataops._accepted import Accepted, Operation, ResourceKind, utc_now
from aiodataops._changes import not_visible
from aiodataops._errors import ResponseShapeError, WaitError
from aiodataops._paging import PageIterator
from aiodataops._peek import Peek, check_id, peek
from aiodataops._urls import encode_path
from aiodataops._wire import dumps, loads, structure, unstructure

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping

    from aiodataops._models import DataOps, Page, Service
    from aiodataops._polling import PollPolicy
    from aiodataops._protocols import ClientCore
    from aiodataops._transport import Transport
    from aiodataops._waiting import StateEvent

__all__ = ["CREATE_LOOKUP_DELAYS", "DEFAULT_PAGE_SIZE", "Filter", "Resource"]

DEFAULT_PAGE_SIZE: Final = 20
#: Seconds to wait before each further listing when a create answered without an id.
CREATE_LOOKUP_DELAYS: Final = (1.0, 2.0, 4.0)

log = logging.getLogger("aiodataops.client")

Filter = str | int | bool | None
_PAGING_KEYS: Final = frozenset({"page", "size", "sort"})
#: Resource ids whose encoded detail path is kept (per resource); past this many the cache starts again.
_PATH_CACHE_SIZE: Final = 4096


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


class Resource(Generic[D, S, U]):
    """Operations common to services and data ops; subclasses set the class attributes below."""

    collection: ClassVar[str]  # "data-ops-services"
    operation_suffix: ClassVar[str]  # "service" -> get_service, list_services
    detail: type[D]
    page_model: Any  # Page[Summary], a concrete alias cattrs can build
    id_field: ClassVar[str]  # "data_ops_service_id"
    name_field: ClassVar[str]  # "data_ops_service_name"
    kind: ClassVar[ResourceKind]  # "service"
    shows_updates: ClassVar[bool] = False
    """Whether a settled read is trusted to show the update's fields (a wait keeps polling until it does)."""

    def __init__(self, client: ClientCore, transport: Transport) -> None:
        self._client = client
        self._transport = transport
        self._detail_paths: dict[str, str] = {}
        self._get_operation = f"get_{self.operation_suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._transport.endpoint!r})"

    # -- helpers ------------------------------------------------------------------------------------------------

    def _path(self, *segments: str) -> str:
        return encode_path("v1", self.collection, *segments)

    def _detail_path(self, resource_id: str) -> str:
        """``_path(resource_id)``, kept per id: a wait reads the same resource many times."""
        paths = self._detail_paths
        path = paths.get(resource_id)
        if path is None:
            if len(paths) >= _PATH_CACHE_SIZE:
                paths.clear()  # never grows with the fleet
            path = paths[resource_id] = self._path(resource_id)
        return path

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

    def _accepted_body(self, raw: bytes, resource_id: str, operation: str) -> D | None:
        """A change's 2xx answer as the model, or ``None`` when it is not a usable body about this resource."""
        if not raw.strip():
            return None
        try:
            data = loads(raw)
            check_id(data, raw, self.id_field, resource_id)
            return self._read_detail(data, raw)
        except ResponseShapeError as exc:
            # Accepted all the same: the status says so. Follow it as a change accepted without a body.
            log.warning("%s %s: accepted, but the answer is not a usable body (%s)", operation, resource_id, exc)
            return None

    def _peeked_body(self, raw: bytes, resource_id: str, operation: str) -> D | None:
        """``_accepted_body`` for a reader of ``state`` and ``modified_dt`` only: a ``Peek`` (see ``_put_light``)."""
        if not raw.strip():
            return None
        try:
            data = loads(raw)
            check_id(data, raw, self.id_field, resource_id)
            if not (isinstance(data, dict) and data.get(self.id_field)):
                return None
            # A Peek reads as the model does where a wait looks (state, modified_dt); cast for Accepted's type.
            return cast("D", peek(data, raw, self.detail, self.id_field, resource_id))
        except ResponseShapeError as exc:
            log.warning("%s %s: accepted, but the answer is not a usable body (%s)", operation, resource_id, exc)
            return None

    async def _change(
        self,
        method: str,
        resource_id: str,
        operation: Operation,
        request: Any,
        *,
        idempotent: bool | None = None,
        light: bool = False,
    ) -> Accepted[D]:
        sent_at = utc_now()
        answer = await self._transport.request(
            method,
            self._detail_path(resource_id),
            body=None if request is None else dumps(request),
            idempotent=idempotent,
            operation=f"{operation}_{self.operation_suffix}",
        )
        read = self._peeked_body if light else self._accepted_body
        body = read(answer.body, resource_id, operation)
        return Accepted(resource_id, self.kind, body, sent_at, operation, request=request)

    # -- reads --------------------------------------------------------------------------------------------------

    async def get(self, resource_id: str) -> D:
        """Read one resource; ``NotFoundError`` when it does not exist."""
        data, raw = await self._json("GET", self._path(resource_id), f"get_{self.operation_suffix}")
        check_id(data, raw, self.id_field, resource_id)
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

    async def put(self, resource_id: str, update: U, *, retry_sent: bool = True) -> Accepted[D]:
        """Send an update (only the fields set in ``update``); return what the server accepted, body or not.

        Follow it with ``wait_accepted``. ``retry_sent=False`` stops the transport from sending the PUT again once
        it may have reached the server (a dropped answer, a 5xx): the caller then looks before it re-sends, as the
        fleet engine does, so that an update is never applied twice. Failures before the request left (connection
        refused) are still retried.
        """
        return await self._change("PUT", resource_id, "update", update, idempotent=retry_sent)

    async def _put_light(self, resource_id: str, update: U, *, retry_sent: bool = True) -> Accepted[D]:
        """``put`` for ``fleet.apply``, whose ``Accepted`` never leaves it: the 202 body is a ``Peek`` (its id,
        ``state`` and ``modified_dt`` checked as the model would check them, the rest not built: ``_wait_light``).

        A body whose id, state or modified_dt does not fit is followed as a body-less acceptance, as ``put`` follows
        any misfit body; a misfit elsewhere in it is not looked at, the fleet reading nothing else of it.
        """
        return await self._change("PUT", resource_id, "update", update, idempotent=retry_sent, light=True)

    async def _update(self, resource_id: str, request: U, *, retry_sent: bool = True) -> D:
        accepted = await self.put(resource_id, request, retry_sent=retry_sent)
        return accepted.body if accepted.body is not None else await self.get(resource_id)

    async def delete(self, resource_id: str) -> None:
        """Ask for deletion (asynchronous: the resource reads TERMINATING, then 404)."""
        await self._change("DELETE", resource_id, "delete", None)

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
        (``wait_accepted`` takes what ``put`` returned and knows both cases by itself.)
        """
        from aiodataops._waiting import wait_settled  # noqa: PLC0415 -- the waiting layer loads on first use

        return await self._unpeeked(
            wait_settled(  # type: ignore[arg-type] # mypy widens R to the bound; the getter gives Peek[D] | D
                self._peek,
                resource_id,
                after=cast("Peek[D] | D | None", after),
                operation=operation,
                policy=policy or self._client.poll_policy,
                on_event=on_event,
                clock=self._client.clock,
                accepted=accepted,
            )
        )

    async def _settled_light(
        self,
        resource_id: str,
        fields: Iterable[str],
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> D | None:
        """``wait_settled(resource_id)`` for ``fleet.apply``'s read before its PUT, which looks at a few fields only
        and hands no model out: the settled read is built from its id, ``state``, ``modified_dt`` and ``fields``
        (``Peek.part``: the same converter, so a misfit among them is the same ``ResponseShapeError``), not whole;
        a misfit elsewhere in it is not looked at. A failed wait's ``last_body`` is built the same way.
        """
        from aiodataops._waiting import wait_settled  # noqa: PLC0415 -- the waiting layer loads on first use

        names = ("state", "modified_dt", *fields)
        try:
            result = await wait_settled(
                self._peek,
                resource_id,
                policy=policy or self._client.poll_policy,
                on_event=on_event,
                clock=self._client.clock,
            )
        except WaitError as exc:
            if isinstance(exc.last_body, Peek):
                exc.last_body = exc.last_body.part(names)
            raise
        return result.part(names) if isinstance(result, Peek) else result

    async def wait_accepted(
        self,
        accepted: Accepted[D],
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> D:
        """Poll until the change ``accepted`` (from ``put``) settles; return the settled resource.

        A body-less acceptance is followed by the newness rules of ``_waiting`` (never by a fresh GET); for a
        service update, a settled read must also show the update's fields. For a delete use ``delete_and_wait``.
        """
        if accepted.operation == "delete":
            raise ValueError("a delete settles with nothing to return: use delete_and_wait()")
        result = await self._follow(accepted, policy, on_event)
        if result is None:  # only a delete ends without a body
            raise ResponseShapeError(
                f"waiting for the {accepted.operation} of {accepted.resource_id} ended without a body"
            )
        return result

    async def _follow(
        self,
        accepted: Accepted[D],
        policy: PollPolicy | None,
        on_event: Callable[[StateEvent], object] | None,
    ) -> D | None:
        return await self._unpeeked(self._following(accepted, policy, on_event, light=False))

    async def _wait_light(
        self,
        accepted: Accepted[D],
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
        wire: Mapping[str, Any] | None = None,
    ) -> Peek[D] | D:
        """``wait_accepted`` for ``fleet.apply``, which reads only the settled state and whether the update shows.
        ``wire`` is the update's wire form when the caller has it (``unstructure(accepted.request)``).

        The settled read is checked in the fields the update sets (``Peek.part``: the same converter, so a misfit
        there is the same ``ResponseShapeError``) besides its id, state and modified_dt; the whole model is not
        built, and a misfit elsewhere in it is not looked at (the fleet hands no model out). A failed wait's
        ``last_body`` is the full model, as ``wait_accepted``'s.
        """
        try:
            result = await self._following(accepted, policy, on_event, light=True, wire=wire)
        except WaitError as exc:
            if isinstance(exc.last_body, Peek):
                exc.last_body = exc.last_body.full()
            raise
        if result is None:  # only a delete ends without a body
            raise ResponseShapeError(
                f"waiting for the {accepted.operation} of {accepted.resource_id} ended without a body"
            )
        return result

    def _following(
        self,
        accepted: Accepted[D],
        policy: PollPolicy | None,
        on_event: Callable[[StateEvent], object] | None,
        *,
        light: bool,
        wire: Mapping[str, Any] | None = None,
    ) -> Awaitable[Peek[D] | D | None]:
        from aiodataops._waiting import accepted_wait  # noqa: PLC0415 -- the waiting layer loads on first use

        visible: Callable[[Peek[D] | D], str | None] | None = None
        if self.shows_updates and accepted.operation == "update" and accepted.request is not None:
            request = accepted.request
            if light:
                desired = unstructure(request) if wire is None else wire
                fields = tuple(desired)

                def visible(read: Peek[D] | D) -> str | None:
                    return not_visible(read.part(fields) if isinstance(read, Peek) else read, desired)

            else:

                def visible(read: Peek[D] | D) -> str | None:
                    return not_visible(read.full() if isinstance(read, Peek) else read, request)

        return accepted_wait(
            self._peek,
            accepted,
            policy=policy or self._client.poll_policy,
            on_event=on_event,
            clock=self._client.clock,
            visible=visible,
        )

    @staticmethod
    async def _unpeeked(waiting: Awaitable[Peek[D] | D | None]) -> D | None:
        """Await a wait over ``_peek`` reads and hand back full models (also in its error's ``last_body``)."""
        try:
            result = await waiting
        except WaitError as exc:
            if isinstance(exc.last_body, Peek):
                exc.last_body = exc.last_body.full()
            raise
        # The waiting layer hands back what the getter gave it: a Peek, or the full model when a field misfit.
        return result.full() if isinstance(result, Peek) else result

    async def _peek(self, resource_id: str) -> Peek[D] | D:
        """A poll's read: only what a wait looks at is checked (see ``_peek``); the rest waits for ``full()``."""
        # ``_json`` written out: one coroutine less on every await of every poll.
        answer = await self._transport.request("GET", self._detail_path(resource_id), operation=self._get_operation)
        raw = answer.body
        return peek(answer.json() if raw else None, raw, self.detail, self.id_field, resource_id)

    async def _created(
        self,
        created: D,
        sent_at: Any,
        policy: PollPolicy | None,
        on_event: Callable[[StateEvent], object] | None,
    ) -> D:
        """Follow a create (its answer, or the resource found after it) until the new resource settles."""
        accepted: Accepted[D] = Accepted(created.id, self.kind, created, sent_at, "create")
        return await self.wait_accepted(accepted, policy=policy, on_event=on_event)

    async def update_and_wait(
        self,
        resource_id: str,
        update: U,
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> D:
        """Update, then wait until the change settles (``put`` then ``wait_accepted``); return the settled resource."""
        accepted = await self.put(resource_id, update)
        return await self.wait_accepted(accepted, policy=policy, on_event=on_event)

    async def delete_and_wait(
        self,
        resource_id: str,
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> None:
        """Delete, then wait until the resource is gone."""
        accepted = await self._change("DELETE", resource_id, "delete", None)
        await self._follow(accepted, policy, on_event)
