"""The services table: Airflow deployments inside data ops, their changes, sub-versions and resource checks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Final

from aiodataops._wire import unstructure
from aiodataops.emulator import _seed
from aiodataops.emulator._refusals import BusyError, InvalidError, UnknownIdError
from aiodataops.emulator._table import Table
from aiodataops.emulator._timeline import CREATING, RUNNING, Record
from aiodataops.emulator._validate import check_service_create, check_service_update, check_workload, cpu_demand

if TYPE_CHECKING:
    import random

    from aiodataops._models import ResourceCheckRequest, ServiceCreate, ServiceUpdate
    from aiodataops.emulator._data_ops_table import DataOpsTable
    from aiodataops.emulator._timeline import Timeline

__all__ = ["SERVICE_FILTERS", "SERVICE_SUMMARY_KEYS", "ServiceTable"]

#: The keys of a list item (DataOpsServicesConsoleResponseV1Dot1).
SERVICE_SUMMARY_KEYS: Final = (
    "account_id",
    "cluster_id",
    "cluster_name",
    "cluster_permission",
    "cluster_request_failed",
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
)
#: The documented query filters of ``GET /v1/data-ops-services`` (getdataopsservicelistconsole); any other is
#: ignored, as a server ignores a parameter it does not know.
SERVICE_FILTERS: Final = frozenset({"created_by", "state", "data_ops_service_name", "data_ops_name"})


class ServiceTable(Table):
    """Every data ops service; each belongs to a data ops of ``data_ops``."""

    kind: ClassVar[str] = "service"
    object_type: ClassVar[str] = "DataOpsService"
    noun: ClassVar[str] = "data ops service"
    id_key: ClassVar[str] = "data_ops_service_id"
    name_key: ClassVar[str] = "data_ops_service_name"
    summary_keys: ClassVar[tuple[str, ...]] = SERVICE_SUMMARY_KEYS
    filters: ClassVar[frozenset[str]] = SERVICE_FILTERS
    id_pattern: ClassVar[re.Pattern[str]] = re.compile(rf"^DOPS_SERVICE-{_seed.UUID_PATTERN}$")

    def __init__(self, timeline: Timeline, rng: random.Random, data_ops: DataOpsTable) -> None:
        super().__init__(timeline)
        self._rng = rng
        self._data_ops = data_ops

    def add(self, body: dict[str, Any], state: str) -> Record:
        """Add a service to its data ops."""
        record = super().add(body, state)
        self._data_ops.members[body["data_ops_id"]][record.id] = None
        return record

    def remove(self, record: Record) -> None:
        """Forget a deleted service."""
        super().remove(record)
        self._data_ops.members.get(record.body["data_ops_id"], {}).pop(record.id, None)

    def update(self, service_id: str, update: ServiceUpdate, now: float, actor: str) -> dict[str, Any]:
        """Accept an update: the new body in UPDATING (the 202 answer); 409 while another change runs."""
        record = self.record(service_id, now)
        problems = check_service_update(update)
        if problems:
            raise InvalidError(problems)
        self.refuse_if_busy(record, "changing")
        return self.accept_update(record, _merge_service(record.body, unstructure(update)), now, actor)

    def create(self, request: ServiceCreate, now: float, actor: str) -> dict[str, Any]:
        """Accept a create: the new body in CREATING; it reads as 404 during the stale window."""
        self.timeline.advance(now)
        problems = check_service_create(request)
        parent = self._data_ops.records.get(request.data_ops_id)
        if parent is None:
            problems.append(
                (("body", "data_ops_id"), f"data ops {request.data_ops_id} not found", "value_error.not_found")
            )
        if problems:
            raise InvalidError(problems)
        assert parent is not None
        if request.data_ops_service_name in self.names:
            raise BusyError(f"data ops service name {request.data_ops_service_name!r} is already taken")
        if parent.state != RUNNING:
            raise BusyError(f"data ops {parent.id} is {parent.state}; services can be created only when it is RUNNING")
        workload = unstructure(request.service_workload)
        placeholder = Record(self.kind, "", {}, CREATING)
        stamp = self.timeline.stamp(placeholder, now)
        account = request.account
        body = _seed.service_body(
            self._rng,
            service_id=_seed.new_service_id(self._rng),
            name=request.data_ops_service_name,
            data_ops=parent.body,
            created_dt=stamp,
            modified_dt=stamp,
            created_by=actor,
            service_workload=workload,
            version=workload["scheduler"]["version"],
            description=request.description or "",
            domain=request.domain,
            host_alias=unstructure(request.host_alias),
            storage_class_name=request.storage_class_name,
            node_selector=request.node_selector or "",
            worker_type=request.worker_type or "CeleryExecutor",
            account_id=(account.account_id if account else None) or "admin",
            account_password=account.account_password if account else None,
        )
        if request.tags:
            body["tags"] = [unstructure(tag) for tag in request.tags]
        return self.accept_create(body, placeholder, now)

    def delete(self, service_id: str, now: float, actor: str) -> dict[str, Any]:
        """Accept a delete: the body in TERMINATING; the service answers 404 once it ends."""
        record = self.record(service_id, now)
        self.refuse_if_busy(record, "deleting")
        return self.accept_delete(record, now, actor)

    def sub_versions(self, data_ops_id: str, now: float) -> dict[str, Any]:
        """The component versions a data ops offers its services and how many services it has; unknown id: 400.

        Documented as DataOpsServiceImageResponse: ``versions`` is an object keyed scheduler, webserver, worker.
        """
        self.timeline.advance(now)
        record = self._data_ops.records.get(data_ops_id)
        if record is None:
            raise UnknownIdError("DataOps", data_ops_id)
        version = record.body["version"]
        return {
            "data_ops_service_count": len(self._data_ops.members.get(data_ops_id, {})),
            "versions": {"scheduler": version, "webserver": version, "worker": version},
        }

    def check_resources_create(self, cluster_id: str, request: ResourceCheckRequest, now: float) -> dict[str, Any]:
        """Whether a cluster has room for a new service with this workload."""
        self.timeline.advance(now)
        cluster = self._data_ops.cluster(cluster_id)
        problems = check_workload(request.service_workload, ("body", "service_workload"), complete=False)
        if problems:
            raise InvalidError(problems)
        return self._room(cluster, cpu_demand(request.service_workload))

    def check_resources_update(self, service_id: str, request: ResourceCheckRequest, now: float) -> dict[str, Any]:
        """Whether a service's cluster has room for its workload changed to this one."""
        record = self.record(service_id, now)
        problems = check_workload(request.service_workload, ("body", "service_workload"), complete=False)
        if problems:
            raise InvalidError(problems)
        current = record.body.get("service_workload")
        merged = _merge_workload(current if isinstance(current, dict) else {}, unstructure(request.service_workload))
        cluster = self._data_ops.clusters[record.body["cluster_id"]]
        return self._room(cluster, cpu_demand(merged) - cpu_demand(current))

    def _room(self, cluster: _seed.Cluster, extra_cpu: float) -> dict[str, Any]:
        """ClusterResourceCheckResponse: ``{cpu, memory, err_code, result}`` (``err_code`` ``""`` when it fits)."""
        used = sum(
            cpu_demand(r.body.get("service_workload"))
            for r in self.records.values()
            if r.body["cluster_id"] == cluster.cluster_id
        )
        fits = used + extra_cpu <= cluster.cpu_capacity
        cpu = {"capacity": f"{cluster.cpu_capacity:g}", "used": f"{used:g}", "requested": f"{extra_cpu:g}"}
        return {"cpu": cpu, "memory": {}, "err_code": "" if fits else "INSUFFICIENT_CPU", "result": fits}


def _merge_workload(current: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = {role: dict(fields) for role, fields in current.items() if isinstance(fields, dict)}
    for role, fields in change.items():
        merged[role] = {**merged.get(role, {}), **fields}
    return merged


def _merge_service(body: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Apply an update's fields: workloads merge per role and field, every other field is replaced."""
    merged = dict(body)
    for key, value in change.items():
        if key == "service_workload":
            current = merged.get("service_workload")
            merged[key] = _merge_workload(current if isinstance(current, dict) else {}, value)
            scheduler = merged[key].get("scheduler", {})
            if scheduler.get("version"):
                merged["version"] = scheduler["version"]
        else:
            merged[key] = value
    if "domain" in change:
        merged["web_url"] = f"https://{change['domain']}"
    return merged
