"""The data ops table: Airflow installations on clusters, their creates, updates and deletes, and their services."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Final

from aiodataops._wire import unstructure
from aiodataops.emulator import _seed
from aiodataops.emulator._refusals import BadQueryError, BusyError, InvalidError, MissingError, UnknownIdError
from aiodataops.emulator._table import Table
from aiodataops.emulator._timeline import CREATING, Record
from aiodataops.emulator._validate import check_host_alias_groups, check_name, check_not_empty

if TYPE_CHECKING:
    import random

    from aiodataops._models import DataOpsCreate, DataOpsUpdate
    from aiodataops.emulator._timeline import Timeline
    from aiodataops.emulator._validate import Problem

__all__ = ["DATA_OPS_FILTERS", "DATA_OPS_SUMMARY_KEYS", "DataOpsTable"]

#: The keys of a list item (DataOpsConsoleResponseV1Dot1).
DATA_OPS_SUMMARY_KEYS: Final = (
    "account_id",
    "cluster_id",
    "cluster_name",
    "cluster_permission",
    "cluster_request_failed",
    "created_by",
    "created_dt",
    "data_ops_id",
    "data_ops_name",
    "image_id",
    "instance_id",
    "is_active_image",
    "modified_by",
    "modified_dt",
    "namespace_name",
    "state",
    "version",
)
#: The documented query filters of ``GET /v1/data-ops`` (getdataopslistconsole); any other is ignored, as a server
#: ignores a parameter it does not know.
DATA_OPS_FILTERS: Final = frozenset(
    {"cluster_name", "created_by", "state", "version", "cluster_id", "data_ops_name", "region"}
)


class DataOpsTable(Table):
    """Every data ops, the clusters they live on, the images they run, and which services each one holds."""

    kind: ClassVar[str] = "data_ops"
    object_type: ClassVar[str] = "DataOps"
    noun: ClassVar[str] = "data ops"
    id_key: ClassVar[str] = "data_ops_id"
    name_key: ClassVar[str] = "data_ops_name"
    summary_keys: ClassVar[tuple[str, ...]] = DATA_OPS_SUMMARY_KEYS
    filters: ClassVar[frozenset[str]] = DATA_OPS_FILTERS
    id_pattern: ClassVar[re.Pattern[str]] = re.compile(rf"^DOPS-{_seed.UUID_PATTERN}$")

    def __init__(
        self,
        timeline: Timeline,
        rng: random.Random,
        clusters: dict[str, _seed.Cluster],
        images: list[dict[str, Any]],
    ) -> None:
        super().__init__(timeline)
        self._rng = rng
        self.clusters = clusters
        self.images = images
        self._images = {image["image_id"]: image for image in images}
        #: Data ops id -> the ids of its services (a dict keeps their order).
        self.members: dict[str, dict[str, None]] = {}

    def add(self, body: dict[str, Any], state: str) -> Record:
        """Add a data ops, with no services yet."""
        record = super().add(body, state)
        self.members[record.id] = {}
        return record

    def remove(self, record: Record) -> None:
        """Forget a deleted data ops."""
        super().remove(record)
        self.members.pop(record.id, None)

    def cluster(self, cluster_id: str) -> _seed.Cluster:
        """A cluster by id: 400 for a malformed id, 404 for an unknown one."""
        if len(cluster_id) != 32 or any(c not in "0123456789abcdef" for c in cluster_id):  # noqa: PLR2004 -- 32 hex
            raise BadQueryError(f"cluster_id: expected 32 lowercase hex digits, got {cluster_id!r}")
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise MissingError("Cluster", cluster_id)
        return cluster

    def ingress_controllers(self, cluster_id: str) -> list[str]:
        """The ingress controller names of a cluster; a malformed cluster id is a 400 "not found", as live, and
        an unknown one too (a 404 with the ``unknown_ids_404`` quirk)."""
        try:
            return list(self.cluster(cluster_id).ingress_controllers)
        except BadQueryError:
            raise UnknownIdError("Cluster", cluster_id) from None
        except MissingError:
            if "unknown_ids_404" in self.timeline.config.quirks:
                raise
            raise UnknownIdError("Cluster", cluster_id) from None

    def update(self, data_ops_id: str, update: DataOpsUpdate, now: float, actor: str) -> dict[str, Any]:
        """Accept a data ops update: the new body in UPDATING."""
        record = self.record(data_ops_id, now)
        problems: list[Problem] = []
        if update.host_alias_list is not None:
            problems += check_host_alias_groups(update.host_alias_list, ("body", "host_alias_list"))
        if update.domain is not None:
            problems += check_not_empty(update.domain, ("body", "domain"))
        if problems:
            raise InvalidError(problems)
        self.refuse_if_busy(record, "changing")
        change = unstructure(update)
        if "account" in change:  # a password change keeps the account id unless a new one is given
            change["account"] = {**record.body.get("account", {}), **change["account"]}
        body = {**record.body, **change}
        return self.accept_update(record, body, now, actor)

    def create(self, request: DataOpsCreate, now: float, actor: str) -> dict[str, Any]:
        """Accept a data ops create on a cluster that has none yet."""
        self.timeline.advance(now)
        problems = check_name(request.data_ops_name, ("body", "data_ops_name"))
        problems += check_not_empty(request.storage_class_name, ("body", "storage_class_name"))
        problems += check_not_empty(request.domain, ("body", "domain"))
        problems += check_host_alias_groups(request.host_alias_list, ("body", "host_alias_list"))
        image = self._images.get(request.image_id)
        if image is None:
            problems.append((("body", "image_id"), f"unknown image {request.image_id!r}", "value_error.not_found"))
        try:
            cluster = self.cluster(request.cluster_id)
        except (BadQueryError, MissingError) as exc:
            problems.append((("body", "cluster_id"), str(exc), "value_error.not_found"))
        else:
            if request.ingress_controller_name not in cluster.ingress_controllers:
                problems.append(
                    (
                        ("body", "ingress_controller_name"),
                        f"unknown ingress controller {request.ingress_controller_name!r} on this cluster",
                        "value_error.not_found",
                    )
                )
        if problems:
            raise InvalidError(problems)
        assert image is not None
        if request.data_ops_name in self.names:
            raise BusyError(f"data ops name {request.data_ops_name!r} is already taken")
        if any(r.body["cluster_id"] == cluster.cluster_id for r in self.records.values()):
            raise BusyError(f"cluster {cluster.cluster_id} already has a data ops")
        placeholder = Record(self.kind, "", {}, CREATING)
        stamp = self.timeline.stamp(placeholder, now)
        account = request.account
        body = _seed.data_ops_body(
            self._rng,
            data_ops_id=_seed.new_data_ops_id(self._rng),
            name=request.data_ops_name,
            cluster=cluster,
            image=image,
            created_dt=stamp,
            modified_dt=stamp,
            created_by=actor,
            description=request.description or "",
            domain=request.domain,
            dsc_domain=request.dsc_domain,
            host_alias_list=[unstructure(g) for g in request.host_alias_list],
            storage_class_name=request.storage_class_name,
            node_selector=request.node_selector or "",
            instance_id=request.instance_id,
            account_id=(account.account_id if account else None) or "admin",
            account_password=account.account_password if account else None,
        )
        body["ingress_controller_name"] = request.ingress_controller_name
        return self.accept_create(body, placeholder, now)

    def delete(self, data_ops_id: str, now: float, actor: str) -> dict[str, Any]:
        """Accept a data ops delete; refused (409) while it still has services."""
        record = self.record(data_ops_id, now)
        if self.members.get(data_ops_id):
            raise BusyError(
                f"data ops {data_ops_id} still has {len(self.members[data_ops_id])} service(s); delete them first"
            )
        self.refuse_if_busy(record, "deleting")
        return self.accept_delete(record, now, actor)
