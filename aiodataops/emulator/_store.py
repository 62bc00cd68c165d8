"""The emulator's in-memory data and its lifecycle in time.

No task runs per resource: every accepted change pushes its end (and the end of its stale-read window) onto one
heap of timed events, and each request first applies the events that are due (``advance``). A fleet of 10,000
services costs a dict entry each, and a rollout costs a heap push per change.

Bodies are wire dicts (the JSON the API answers), replaced, never mutated, on every change: the previous snapshot
can be kept as is for the stale-read window, and an answer is one ``orjson.dumps`` away.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import random
import time
from typing import TYPE_CHECKING, Any, Final

from aiodataops._wire import format_datetime, unstructure
from aiodataops.emulator import _seed
from aiodataops.emulator._random import between, unit
from aiodataops.emulator._validate import (
    check_host_alias_groups,
    check_name,
    check_not_empty,
    check_service_create,
    check_service_update,
    check_workload,
    cpu_demand,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aiodataops._clock import Clock
    from aiodataops._models import (
        DataOpsCreate,
        DataOpsUpdate,
        ResourceCheckRequest,
        ServiceCreate,
        ServiceUpdate,
    )
    from aiodataops.emulator._config import EmulatorConfig
    from aiodataops.emulator._validate import Problem

__all__ = [
    "DATA_OPS_FILTERS",
    "DATA_OPS_SUMMARY_KEYS",
    "SERVICE_FILTERS",
    "SERVICE_SUMMARY_KEYS",
    "BadQueryError",
    "BusyError",
    "InvalidError",
    "MissingError",
    "Record",
    "Store",
    "StoreError",
]

RUNNING: Final = "RUNNING"
ERROR: Final = "ERROR"
CREATING: Final = "CREATING"
UPDATING: Final = "UPDATING"
TERMINATING: Final = "TERMINATING"
_GONE: Final = "<gone>"
#: States in which a resource refuses another change (409).
_BUSY: Final = frozenset({CREATING, UPDATING, TERMINATING})

SERVICE_SUMMARY_KEYS: Final = (
    "cluster_id",
    "cluster_name",
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
DATA_OPS_SUMMARY_KEYS: Final = (
    "cluster_id",
    "cluster_name",
    "created_by",
    "created_dt",
    "data_ops_id",
    "data_ops_name",
    "description",
    "modified_by",
    "modified_dt",
    "state",
    "version",
)
#: Query parameters that filter a list by exact match (API.md's guessed names, plus the parent id).
SERVICE_FILTERS: Final = frozenset(
    {"data_ops_id", "data_ops_name", "data_ops_service_name", "cluster_name", "state", "version", "created_by"}
)
DATA_OPS_FILTERS: Final = frozenset({"data_ops_name", "cluster_name", "state", "version", "created_by"})

_CACHE_SIZE: Final = 64


class StoreError(Exception):
    """A request the store refuses; ``_app`` turns each kind into its envelope."""


class MissingError(StoreError):
    """An unknown id (404)."""

    def __init__(self, object_type: str, object_id: str) -> None:
        super().__init__(f"{object_type} {object_id} not found")
        self.object_type = object_type
        self.object_id = object_id


class BusyError(StoreError):
    """The resource is in the middle of another change, or a name is taken (409)."""


class InvalidError(StoreError):
    """Values the API refuses (400 with a list of problems)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _ in problems))
        self.problems = problems


class BadQueryError(StoreError):
    """A path or query parameter the API refuses (400)."""


class Record:
    """One data ops or service: its true body and state, its pending change and its stale snapshot."""

    __slots__ = ("body", "changes", "generation", "id", "kind", "last_ms", "stale_body", "stale_until", "state")

    def __init__(self, kind: str, rid: str, body: dict[str, Any], state: str) -> None:
        self.kind = kind
        self.id = rid
        self.body = body
        self.state = state
        #: What reads answer until ``stale_until``; ``None`` there means "not visible yet" (a fresh create).
        self.stale_body: dict[str, Any] | None = None
        self.stale_until = -math.inf
        self.changes = 0
        self.generation = 0
        self.last_ms = 0


def _title(state: str) -> str:
    return state.title()


def _upper(state: str) -> str:
    return state


class Store:
    """All data ops, services, clusters and images of one emulator, and the clock their lifecycle runs on."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._seed = config.seed
        self._case = _title if config.state_case == "title" else _upper
        self._mono0 = clock.now()
        self._wall0 = time.time()
        self._rng = random.Random(config.seed + 1)  # noqa: S311 -- ids and passwords of test data
        self._heap: list[tuple[float, int, str, Record, int, str]] = []
        self._seq = itertools.count()
        self._forced: dict[str, str] = {}
        self._cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._cache_version = -1
        #: Resource id -> the clock time its latest accepted change ends (or ended).
        self.settle_times: dict[str, float] = {}
        #: Bumped on every visible change; list answers are cached per version.
        self.version = 0
        self.data_ops: dict[str, Record] = {}
        self.services: dict[str, Record] = {}
        self._data_ops_names: dict[str, str] = {}
        self._service_names: dict[str, str] = {}
        self._members: dict[str, dict[str, None]] = {}
        fleet = _seed.seed_fleet(config.seed, config.service_counts(), self._wall0, self._format_seconds)
        self.clusters = fleet.clusters
        self.images = fleet.images
        self._images = {image["image_id"]: image for image in fleet.images}
        for body in fleet.data_ops:
            self._add_data_ops(body, RUNNING)
        for body in fleet.services:
            self._add_service(body, RUNNING)

    # -- time ---------------------------------------------------------------------------------------------------

    def now(self) -> float:
        """Return the clock's time, the one every transition is measured on."""
        return self._clock.now()

    @staticmethod
    def _format_seconds(seconds: float) -> str:
        return _format_ms(int(seconds * 1000))

    def _stamp(self, record: Record, now: float) -> str:
        """Return a new ``modified_dt``: the clock's wall time, strictly later than the record's last one."""
        ms = max(int((self._wall0 + now - self._mono0) * 1000), record.last_ms + 1)
        record.last_ms = ms
        return _format_ms(ms)

    def advance(self, now: float) -> None:
        """Apply every transition and stale-window end that is due at ``now``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, event, record, generation, target = heapq.heappop(heap)
            self.version += 1
            if generation != record.generation:
                continue
            if event == "unstale":
                record.stale_body = None
                record.stale_until = -math.inf
            elif target == _GONE:
                self._remove(record)
            else:
                self._set_state(record, target)

    # -- records ------------------------------------------------------------------------------------------------

    def _set_state(self, record: Record, state: str) -> None:
        record.state = state
        record.body = {**record.body, "state": self._case(state)}

    def _add_data_ops(self, body: dict[str, Any], state: str) -> Record:
        record = Record("data_ops", body["data_ops_id"], {**body, "state": self._case(state)}, state)
        self.data_ops[record.id] = record
        self._data_ops_names[body["data_ops_name"]] = record.id
        self._members[record.id] = {}
        return record

    def _add_service(self, body: dict[str, Any], state: str) -> Record:
        record = Record("service", body["data_ops_service_id"], {**body, "state": self._case(state)}, state)
        self.services[record.id] = record
        self._service_names[body["data_ops_service_name"]] = record.id
        self._members[body["data_ops_id"]][record.id] = None
        return record

    def _remove(self, record: Record) -> None:
        if record.kind == "service":
            self.services.pop(record.id, None)
            self._service_names.pop(record.body["data_ops_service_name"], None)
            self._members.get(record.body["data_ops_id"], {}).pop(record.id, None)
        else:
            self.data_ops.pop(record.id, None)
            self._data_ops_names.pop(record.body["data_ops_name"], None)
            self._members.pop(record.id, None)

    def _begin(
        self,
        record: Record,
        now: float,
        *,
        previous: dict[str, Any] | None,
        in_progress: str,
        duration: tuple[float, float],
        target: str,
    ) -> None:
        """Start a change: set the in-progress state, open the stale window, schedule the end."""
        self.version += 1
        record.changes += 1
        record.generation += 1
        self._set_state(record, in_progress)
        stale = self._config.stale_read_seconds
        if stale > 0:
            record.stale_body = previous
            record.stale_until = now + stale
            heapq.heappush(self._heap, (now + stale, next(self._seq), "unstale", record, record.generation, ""))
        forced = self._forced.pop(record.id, None)
        if forced is not None and target != _GONE:
            target = forced
        elif (
            target == RUNNING
            and in_progress == UPDATING
            and self._config.error_rate > 0
            and unit(self._seed, "outcome", record.id, record.changes) < self._config.error_rate
        ):
            target = ERROR
        at = now + between(*duration, unit(self._seed, "duration", record.id, record.changes))
        self.settle_times[record.id] = at
        heapq.heappush(self._heap, (at, next(self._seq), "settle", record, record.generation, target))

    def reconfigure(self, config: EmulatorConfig) -> None:
        """Use new lifecycle settings from the next change on (durations, stale window, error rate)."""
        self._config = config

    def force_outcome(self, resource_id: str, state: str) -> None:
        """Make the next change of this resource end in ``state`` (e.g. ``"ERROR"``) whatever the dice say."""
        self._forced[resource_id] = state.upper()

    def set_state(self, resource_id: str, state: str) -> None:
        """Set a resource's true state at once (test set-up: a service stuck in ERROR, say)."""
        record = self.services.get(resource_id) or self.data_ops.get(resource_id)
        if record is None:
            raise KeyError(resource_id)
        record.generation += 1
        record.stale_body = None
        record.stale_until = -math.inf
        self.version += 1
        self._set_state(record, state.upper())

    @staticmethod
    def visible(record: Record, now: float) -> dict[str, Any] | None:
        """Return what a read sees now: the stale snapshot inside its window (``None``: not visible yet)."""
        if now < record.stale_until:
            return record.stale_body
        return record.body

    def _service(self, service_id: str, now: float) -> Record:
        self.advance(now)
        record = self.services.get(service_id)
        if record is None:
            raise MissingError("DataOpsService", service_id)
        return record

    def _data_ops(self, data_ops_id: str, now: float) -> Record:
        self.advance(now)
        record = self.data_ops.get(data_ops_id)
        if record is None:
            raise MissingError("DataOps", data_ops_id)
        return record

    def _cluster(self, cluster_id: str) -> _seed.Cluster:
        if len(cluster_id) != 32 or any(c not in "0123456789abcdef" for c in cluster_id):  # noqa: PLR2004 -- 32 hex
            raise BadQueryError(f"cluster_id: expected 32 lowercase hex digits, got {cluster_id!r}")
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise MissingError("Cluster", cluster_id)
        return cluster

    # -- services -----------------------------------------------------------------------------------------------

    def get_service(self, service_id: str, now: float) -> dict[str, Any]:
        """The service body a read sees now."""
        body = self.visible(self._service(service_id, now), now)
        if body is None:
            raise MissingError("DataOpsService", service_id)
        return body

    def update_service(self, service_id: str, update: ServiceUpdate, now: float, actor: str) -> dict[str, Any]:
        """Accept an update: the new body in UPDATING (the 202 answer); 409 while another change runs."""
        record = self._service(service_id, now)
        problems = check_service_update(update)
        if problems:
            raise InvalidError(problems)
        if record.state in _BUSY:
            raise BusyError(
                f"data ops service {service_id} is {record.state}; wait until it settles before changing it"
            )
        previous = record.body
        body = _merge_service(previous, unstructure(update))
        body["modified_dt"] = self._stamp(record, now)
        body["modified_by"] = actor
        record.body = body
        self._begin(
            record, now, previous=previous, in_progress=UPDATING, duration=self._config.update_duration, target=RUNNING
        )
        return record.body

    def create_service(self, request: ServiceCreate, now: float, actor: str) -> dict[str, Any]:
        """Accept a create: the new body in CREATING; it reads as 404 during the stale window."""
        self.advance(now)
        problems = check_service_create(request)
        parent = self.data_ops.get(request.data_ops_id)
        if parent is None:
            problems.append(
                (("body", "data_ops_id"), f"data ops {request.data_ops_id} not found", "value_error.not_found")
            )
        if problems:
            raise InvalidError(problems)
        assert parent is not None
        if request.data_ops_service_name in self._service_names:
            raise BusyError(f"data ops service name {request.data_ops_service_name!r} is already taken")
        if parent.state != RUNNING:
            raise BusyError(f"data ops {parent.id} is {parent.state}; services can be created only when it is RUNNING")
        workload = unstructure(request.service_workload)
        placeholder = Record("service", "", {}, CREATING)
        stamp = self._stamp(placeholder, now)
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
        record = self._add_service(body, CREATING)
        record.last_ms = placeholder.last_ms
        self._begin(
            record, now, previous=None, in_progress=CREATING, duration=self._config.create_duration, target=RUNNING
        )
        return record.body

    def delete_service(self, service_id: str, now: float, actor: str) -> dict[str, Any]:
        """Accept a delete: the body in TERMINATING; the service answers 404 once it ends."""
        record = self._service(service_id, now)
        if record.state in _BUSY:
            raise BusyError(
                f"data ops service {service_id} is {record.state}; wait until it settles before deleting it"
            )
        previous = record.body
        record.body = {**previous, "modified_dt": self._stamp(record, now), "modified_by": actor}
        self._begin(
            record, now, previous=previous, in_progress=TERMINATING, duration=self._config.delete_duration, target=_GONE
        )
        return record.body

    def service_name_taken(self, name: str, now: float) -> bool:
        """Whether a service already has this name."""
        self.advance(now)
        return name in self._service_names

    def sub_versions(self, data_ops_id: str, now: float) -> dict[str, Any]:
        """The versions a data ops offers its services and how many services it has; unknown id: 400."""
        self.advance(now)
        record = self.data_ops.get(data_ops_id)
        if record is None:
            raise BadQueryError(f"data_ops_id: data ops {data_ops_id} does not exist")
        versions = [v for v, _ in _seed.IMAGE_VERSIONS if _version_key(v) <= _version_key(record.body["version"])]
        return {"data_ops_service_count": len(self._members.get(data_ops_id, {})), "versions": versions}

    def check_resources_create(self, cluster_id: str, request: ResourceCheckRequest, now: float) -> dict[str, Any]:
        """Whether a cluster has room for a new service with this workload."""
        self.advance(now)
        cluster = self._cluster(cluster_id)
        problems = check_workload(request.service_workload, ("body", "service_workload"), complete=False)
        if problems:
            raise InvalidError(problems)
        return self._room(cluster, cpu_demand(request.service_workload))

    def check_resources_update(self, service_id: str, request: ResourceCheckRequest, now: float) -> dict[str, Any]:
        """Whether a service's cluster has room for its workload changed to this one."""
        record = self._service(service_id, now)
        problems = check_workload(request.service_workload, ("body", "service_workload"), complete=False)
        if problems:
            raise InvalidError(problems)
        current = record.body.get("service_workload")
        merged = _merge_workload(current if isinstance(current, dict) else {}, unstructure(request.service_workload))
        cluster = self.clusters[record.body["cluster_id"]]
        return self._room(cluster, cpu_demand(merged) - cpu_demand(current))

    def _room(self, cluster: _seed.Cluster, extra_cpu: float) -> dict[str, Any]:
        used = sum(
            cpu_demand(r.body.get("service_workload"))
            for r in self.services.values()
            if r.body["cluster_id"] == cluster.cluster_id
        )
        if used + extra_cpu > cluster.cpu_capacity:
            return {"err_code": "INSUFFICIENT_CPU", "result": False}
        return {"err_code": None, "result": True}

    # -- data ops -----------------------------------------------------------------------------------------------

    def get_data_ops(self, data_ops_id: str, now: float) -> dict[str, Any]:
        """The data ops body a read sees now."""
        body = self.visible(self._data_ops(data_ops_id, now), now)
        if body is None:
            raise MissingError("DataOps", data_ops_id)
        return body

    def update_data_ops(self, data_ops_id: str, update: DataOpsUpdate, now: float, actor: str) -> dict[str, Any]:
        """Accept a data ops update: the new body in UPDATING."""
        record = self._data_ops(data_ops_id, now)
        problems: list[Problem] = []
        if update.host_alias_list is not None:
            problems += check_host_alias_groups(update.host_alias_list, ("body", "host_alias_list"))
        if update.image_id is not None and update.image_id not in self._images:
            problems.append((("body", "image_id"), f"unknown image {update.image_id!r}", "value_error.not_found"))
        if update.domain is not None:
            problems += check_not_empty(update.domain, ("body", "domain"))
        if problems:
            raise InvalidError(problems)
        if record.state in _BUSY:
            raise BusyError(f"data ops {data_ops_id} is {record.state}; wait until it settles before changing it")
        previous = record.body
        body = {**previous, **unstructure(update)}
        if update.image_id is not None:
            body["version"] = self._images[update.image_id]["version"]
        body["modified_dt"] = self._stamp(record, now)
        body["modified_by"] = actor
        record.body = body
        self._begin(
            record, now, previous=previous, in_progress=UPDATING, duration=self._config.update_duration, target=RUNNING
        )
        return record.body

    def create_data_ops(self, request: DataOpsCreate, now: float, actor: str) -> dict[str, Any]:
        """Accept a data ops create on a cluster that has none yet."""
        self.advance(now)
        problems = check_name(request.data_ops_name, ("body", "data_ops_name"))
        problems += check_not_empty(request.storage_class_name, ("body", "storage_class_name"))
        problems += check_not_empty(request.domain, ("body", "domain"))
        problems += check_host_alias_groups(request.host_alias_list, ("body", "host_alias_list"))
        image = self._images.get(request.image_id)
        if image is None:
            problems.append((("body", "image_id"), f"unknown image {request.image_id!r}", "value_error.not_found"))
        try:
            cluster = self._cluster(request.cluster_id)
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
        if request.data_ops_name in self._data_ops_names:
            raise BusyError(f"data ops name {request.data_ops_name!r} is already taken")
        if any(r.body["cluster_id"] == cluster.cluster_id for r in self.data_ops.values()):
            raise BusyError(f"cluster {cluster.cluster_id} already has a data ops")
        placeholder = Record("data_ops", "", {}, CREATING)
        stamp = self._stamp(placeholder, now)
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
        record = self._add_data_ops(body, CREATING)
        record.last_ms = placeholder.last_ms
        self._begin(
            record, now, previous=None, in_progress=CREATING, duration=self._config.create_duration, target=RUNNING
        )
        return record.body

    def delete_data_ops(self, data_ops_id: str, now: float, actor: str) -> dict[str, Any]:
        """Accept a data ops delete; refused (409) while it still has services."""
        record = self._data_ops(data_ops_id, now)
        if self._members.get(data_ops_id):
            raise BusyError(
                f"data ops {data_ops_id} still has {len(self._members[data_ops_id])} service(s); delete them first"
            )
        if record.state in _BUSY:
            raise BusyError(f"data ops {data_ops_id} is {record.state}; wait until it settles before deleting it")
        previous = record.body
        record.body = {**previous, "modified_dt": self._stamp(record, now), "modified_by": actor}
        self._begin(
            record, now, previous=previous, in_progress=TERMINATING, duration=self._config.delete_duration, target=_GONE
        )
        return record.body

    def data_ops_name_taken(self, name: str, now: float) -> bool:
        """Whether a data ops already has this name."""
        self.advance(now)
        return name in self._data_ops_names

    def ingress_controllers(self, cluster_id: str) -> list[str]:
        """The ingress controller names of a cluster."""
        return list(self._cluster(cluster_id).ingress_controllers)

    # -- lists --------------------------------------------------------------------------------------------------

    def list_page(
        self,
        kind: str,
        *,
        filters: tuple[tuple[str, str], ...],
        sorts: tuple[tuple[str, bool], ...],
        page: int,
        size: int,
        now: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """Return one page of summaries and the total count of matches, as reads see them now."""
        self.advance(now)
        if self._cache_version != self.version:
            self._cache.clear()
            self._cache_version = self.version
        key = (kind, filters, sorts)
        matches = self._cache.get(key)
        if matches is None:
            records = self.services if kind == "service" else self.data_ops
            matches = self._match(records.values(), filters, sorts, now)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = matches
        keys = SERVICE_SUMMARY_KEYS if kind == "service" else DATA_OPS_SUMMARY_KEYS
        start = page * size
        items = [{k: body[k] for k in keys if k in body} for body in matches[start : start + size]]
        return items, len(matches)

    def _match(
        self,
        records: Iterable[Record],
        filters: tuple[tuple[str, str], ...],
        sorts: tuple[tuple[str, bool], ...],
        now: float,
    ) -> list[dict[str, Any]]:
        bodies = [b for b in (self.visible(r, now) for r in records) if b is not None]
        if filters:
            bodies = [b for b in bodies if all(b.get(k) == v for k, v in filters)]
        for field, descending in reversed(sorts):
            present = [b for b in bodies if b.get(field) is not None]
            absent = [b for b in bodies if b.get(field) is None]
            present.sort(key=lambda b: b[field], reverse=descending)
            bodies = present + absent
        return bodies


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


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def _format_ms(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return format_datetime(dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=millis * 1000))
