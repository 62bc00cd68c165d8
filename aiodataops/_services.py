"""``client.services``: the data ops service operations of API.md (``/v1/data-ops-services``)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Final

from aiodataops._accepted import ResourceKind, utc_now
from aiodataops._models import (
    Page,
    ResourceCheck,
    ResourceCheckRequest,
    Service,
    ServiceCreate,
    ServiceSummary,
    ServiceUpdate,
    SubVersions,
)
from aiodataops._resource import DEFAULT_PAGE_SIZE, Resource, merge_filters
from aiodataops._urls import encode_path
from aiodataops._wire import structure

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops._paging import PageIterator
    from aiodataops._polling import PollPolicy
    from aiodataops._waiting import StateEvent

__all__ = ["Services"]

#: Filters this SDK named before the reference; the documented list operation has none of them.
_UNDOCUMENTED_FILTERS: Final = frozenset({"data_ops_id", "cluster_name", "version"})


def _undocumented(filters: dict[str, Any]) -> dict[str, Any]:
    """Warn about filters the documented list operation does not take (the server may ignore them)."""
    for key in sorted(_UNDOCUMENTED_FILTERS & filters.keys()):
        warnings.warn(
            f"services.list({key}=...): not a documented filter of GET /v1/data-ops-services; the server may "
            "ignore it and answer every service. Filter on the client (e.g. by data_ops_name) instead.",
            DeprecationWarning,
            stacklevel=3,
        )
    return filters


class Services(Resource[Service, ServiceSummary, ServiceUpdate]):
    """Data ops services (Airflow deployments): list, read, create, update, delete, checks, and waiting.

    Filters are the documented query parameters of ``GET /v1/data-ops-services``: ``data_ops_name``,
    ``data_ops_service_name``, ``state`` and ``created_by`` (and ``sort``); any other keyword is sent as a query
    parameter as is, for filters this SDK does not know yet. ``data_ops_id``, ``cluster_name`` and ``version``,
    named here before the reference, are not documented: the server may ignore them and answer every service, so
    they warn (``DeprecationWarning``) and are sent as is for one more release.
    """

    collection: ClassVar[str] = "data-ops-services"
    operation_suffix: ClassVar[str] = "service"
    detail = Service
    page_model = Page[ServiceSummary]
    id_field: ClassVar[str] = "data_ops_service_id"
    name_field: ClassVar[str] = "data_ops_service_name"
    kind: ClassVar[ResourceKind] = "service"
    shows_updates: ClassVar[bool] = True

    def list(
        self,
        *,
        data_ops_name: str | None = None,
        data_ops_service_name: str | None = None,
        state: str | None = None,
        created_by: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sort: str | None = None,
        **filters: Any,
    ) -> PageIterator[ServiceSummary]:
        """Iterate over every matching service, fetching pages lazily (``async for s in client.services.list()``).

        ``sort`` is ``"field:asc"`` or ``"field:desc"``.
        """
        chosen = merge_filters(
            {
                "data_ops_name": data_ops_name,
                "data_ops_service_name": data_ops_service_name,
                "state": state,
                "created_by": created_by,
            },
            _undocumented(filters),
        )
        return self._iterate(page_size, sort, chosen)

    async def list_page(
        self,
        page: int = 0,
        size: int = DEFAULT_PAGE_SIZE,
        *,
        data_ops_name: str | None = None,
        data_ops_service_name: str | None = None,
        state: str | None = None,
        created_by: str | None = None,
        sort: str | None = None,
        **filters: Any,
    ) -> Page[ServiceSummary]:
        """Fetch one page (``page`` counts from 0) with its ``total_count``."""
        chosen = merge_filters(
            {
                "data_ops_name": data_ops_name,
                "data_ops_service_name": data_ops_service_name,
                "state": state,
                "created_by": created_by,
            },
            _undocumented(filters),
        )
        return await self._list_page(page, size, sort, chosen)

    async def create(self, request: ServiceCreate) -> Service:
        """Ask for a new service; returns it as first read (state CREATING). See ``_resource`` on the answer."""
        return await self._create(
            request,
            request.data_ops_service_name,
            lambda name: self.list(data_ops_service_name=name),
        )

    async def update(self, service_id: str, update: ServiceUpdate, *, retry_sent: bool = True) -> Service:
        """Change a service (only the fields set in ``update`` are sent); returns the 202 body (state UPDATING).

        Without a usable body in the answer, a fresh ``get`` is returned instead: something to look at, never the
        bar of a wait (it may be a stale read of the state before the change). To follow the change, use ``put``
        and ``wait_accepted`` (or ``update_and_wait``). ``retry_sent``: as for ``put``.
        """
        return await self._update(service_id, update, retry_sent=retry_sent)

    async def check_name(self, name: str) -> bool:
        """Return ``True`` when a service already has this name."""
        return await self._check_name(name, "check_service_name")

    async def validate_resources_create(self, cluster_id: str, request: ResourceCheckRequest) -> ResourceCheck:
        """Ask whether a cluster has room for a new service with this workload (no side effect)."""
        data, raw = await self._json(
            "POST",
            self._path("clusters", cluster_id, "validate-resources"),
            "validate_resources_create",
            body=request,
            idempotent=True,  # a check changes nothing, so re-sending it is safe
        )
        return structure(data, ResourceCheck, raw=raw)

    async def validate_resources_update(self, service_id: str, request: ResourceCheckRequest) -> ResourceCheck:
        """Ask whether a service's cluster has room for its workload changed to this one (no side effect)."""
        data, raw = await self._json(
            "POST",
            self._path(service_id, "validate-resources"),
            "validate_resources_update",
            body=request,
            idempotent=True,  # a check changes nothing, so re-sending it is safe
        )
        return structure(data, ResourceCheck, raw=raw)

    async def sub_versions(self, data_ops_id: str) -> SubVersions:
        """The service versions a data ops offers and how many services it has (unknown id: ``BadRequestError``)."""
        data, raw = await self._json(
            "GET", encode_path("v1", self.collection, "data-ops", data_ops_id, "sub-versions"), "sub_versions"
        )
        return structure(data, SubVersions, raw=raw)

    async def create_and_wait(
        self,
        request: ServiceCreate,
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> Service:
        """Create, then wait until the new service settles (RUNNING); return it."""
        sent_at = utc_now()
        created = await self.create(request)
        return await self._created(created, sent_at, policy, on_event)
