"""``client.data_ops``: the data ops operations of API.md (``/v1/data-ops``): Airflow installations on clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from aiodataops._accepted import ResourceKind, utc_now
from aiodataops._errors import ResponseShapeError
from aiodataops._models import (
    DataOps,
    DataOpsCreate,
    DataOpsSummary,
    DataOpsUpdate,
    ImageVersion,
    Page,
)
from aiodataops._paging import PageIterator
from aiodataops._resource import DEFAULT_PAGE_SIZE, Resource, merge_filters
from aiodataops._wire import structure

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops._polling import PollPolicy
    from aiodataops._waiting import StateEvent

__all__ = ["DataOpsResource"]


class DataOpsResource(Resource[DataOps, DataOpsSummary, DataOpsUpdate]):
    """Data ops (Airflow installations): list, read, create, update, delete, name check, images, ingress.

    Filters are the documented query parameters of ``GET /v1/data-ops``: ``data_ops_name``, ``cluster_name``,
    ``cluster_id``, ``state``, ``version``, ``created_by`` and ``region`` (and ``sort``); other keywords are sent as
    query parameters as is.
    """

    collection: ClassVar[str] = "data-ops"
    operation_suffix: ClassVar[str] = "data_ops"
    detail = DataOps
    page_model = Page[DataOpsSummary]
    id_field: ClassVar[str] = "data_ops_id"
    name_field: ClassVar[str] = "data_ops_name"
    kind: ClassVar[ResourceKind] = "data_ops"
    # DataOpsUpdate's fields are partly a guess and may not be echoed back as sent: no visibility check.
    shows_updates: ClassVar[bool] = False

    def list(
        self,
        *,
        data_ops_name: str | None = None,
        cluster_name: str | None = None,
        cluster_id: str | None = None,
        state: str | None = None,
        version: str | None = None,
        created_by: str | None = None,
        region: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sort: str | None = None,
        **filters: Any,
    ) -> PageIterator[DataOpsSummary]:
        """Iterate over every matching data ops, fetching pages lazily."""
        chosen = merge_filters(
            {
                "data_ops_name": data_ops_name,
                "cluster_name": cluster_name,
                "cluster_id": cluster_id,
                "state": state,
                "version": version,
                "created_by": created_by,
                "region": region,
            },
            filters,
        )
        return self._iterate(page_size, sort, chosen)

    async def list_page(
        self,
        page: int = 0,
        size: int = DEFAULT_PAGE_SIZE,
        *,
        data_ops_name: str | None = None,
        cluster_name: str | None = None,
        cluster_id: str | None = None,
        state: str | None = None,
        version: str | None = None,
        created_by: str | None = None,
        region: str | None = None,
        sort: str | None = None,
        **filters: Any,
    ) -> Page[DataOpsSummary]:
        """Fetch one page (``page`` counts from 0) with its ``total_count``."""
        chosen = merge_filters(
            {
                "data_ops_name": data_ops_name,
                "cluster_name": cluster_name,
                "cluster_id": cluster_id,
                "state": state,
                "version": version,
                "created_by": created_by,
                "region": region,
            },
            filters,
        )
        return await self._list_page(page, size, sort, chosen)

    async def create(self, request: DataOpsCreate) -> DataOps:
        """Ask for a new data ops; returns it as first read (state CREATING). See ``_resource`` on the answer."""
        return await self._create(request, request.data_ops_name, lambda name: self.list(data_ops_name=name))

    async def update(self, data_ops_id: str, update: DataOpsUpdate) -> DataOps:
        """Change a data ops (only the fields set are sent); returns the accepted body (or, without one, a ``get``).

        To follow the change, use ``put`` and ``wait_accepted`` (or ``update_and_wait``).
        """
        return await self._update(data_ops_id, update)

    async def check_name(self, name: str) -> bool:
        """Return ``True`` when a data ops already has this name."""
        return await self._check_name(name, "check_data_ops_name")

    async def image_versions(self) -> tuple[ImageVersion, ...]:
        """The Airflow images a data ops can be created from (every page)."""
        path = self._path("image-versions")

        async def fetch(page: int, size: int) -> Page[ImageVersion]:
            data, raw = await self._json("GET", path, "image_versions", params={"page": page, "size": size})
            result: Page[ImageVersion] = structure(data, Page[ImageVersion], raw=raw)
            return result

        return tuple(await PageIterator(fetch, page_size=100).collect())

    async def ingress_controllers(self, cluster_id: str) -> tuple[str, ...]:
        """The ingress controller names of a cluster (read from a JSON list or from ``{"contents": [...]}``)."""
        data, raw = await self._json(
            "GET", self._path("clusters", cluster_id, "ingress-controllers"), "ingress_controllers"
        )
        items = data.get("contents") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ResponseShapeError(
                "expected a list of ingress controller names or {contents: [...]}", body=raw.decode("utf-8", "replace")
            )
        names: list[str] = []
        for index, item in enumerate(items):
            where = f"$.contents[{index}]" if isinstance(data, dict) else f"$[{index}]"
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                names.append(item["name"])  # tolerate objects with a name, a plausible future shape
            else:
                raise ResponseShapeError(
                    "expected an ingress controller name (a string)", path=where, body=raw.decode("utf-8", "replace")
                )
        return tuple(names)

    async def create_and_wait(
        self,
        request: DataOpsCreate,
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[StateEvent], object] | None = None,
    ) -> DataOps:
        """Create, then wait until the new data ops settles (RUNNING); return it.

        Creating a data ops builds a whole installation: pass a ``policy`` with a longer ``deadline`` than the
        half hour that suits a service update.
        """
        sent_at = utc_now()
        created = await self.create(request)
        return await self._created(created, sent_at, policy, on_event)
