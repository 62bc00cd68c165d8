"""attrs models of every Data Ops request and response (API.md, "Models").

Conventions, all enforced by the one converter in ``_wire.py``:

- ``None`` means "not set": a request never sends a ``None`` field, so an update sends only what it changes.
- Response models keep fields the server added after this SDK was written in ``extra`` (reachable, never sent).
  So do the parts (``Workload``, ``HostAlias``, ``Account``...), because responses nest them too: a field the
  server adds inside ``service_workload`` must not break every read.
- Request models have no ``extra``: an unknown key anywhere in a request body, nested parts included, is an error
  (the emulator answers 400).
- Collections are tuples so models stay hashable and immutable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "Account",
    "DataOps",
    "DataOpsCreate",
    "DataOpsSummary",
    "DataOpsUpdate",
    "DuplicationCheck",
    "HostAlias",
    "HostAliasEntry",
    "HostAliasGroup",
    "ImageVersion",
    "Page",
    "ResourceCheck",
    "ResourceCheckRequest",
    "Service",
    "ServiceCreate",
    "ServiceSummary",
    "ServiceUpdate",
    "ServiceWorkload",
    "SubVersions",
    "Tag",
    "Workload",
]

T = TypeVar("T")

_EXTRA: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False, kw_only=True)


# -- parts --------------------------------------------------------------------------------------------------


@attrs.frozen
class Workload:
    """Resources of one workload role; every value is a string on the wire (``cpu`` in vCores, ``memory`` in GB)."""

    cpu: str | None = None
    memory: str | None = None
    replica: str | None = None
    version: str | None = None
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class ServiceWorkload:
    """The three workload roles of an Airflow deployment."""

    scheduler: Workload | None = None
    web_server: Workload | None = None
    worker: Workload | None = None
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class HostAliasEntry:
    """One ``/etc/hosts`` line of a service: a hostname and its IP address."""

    hostname: str
    ip: str
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class HostAlias:
    """A service's host aliases; ``enabled`` is a Python bool, sent as the string ``"true"``/``"false"``."""

    enabled: bool
    host_alias_list: tuple[HostAliasEntry, ...] = ()
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class HostAliasGroup:
    """One host alias entry of a data ops: several hostnames for one IP address."""

    hostnames: tuple[str, ...]
    ip: str
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class Account:
    """The Airflow admin account; the password never appears in a repr."""

    account_id: str | None = None
    account_password: str | None = attrs.field(default=None, repr=False)
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class Tag:
    """A resource tag."""

    tag_key: str
    tag_value: str = ""
    extra: dict[str, Any] = _EXTRA


# -- services -----------------------------------------------------------------------------------------------


@attrs.frozen
class ServiceUpdate:
    """DataOpsServiceUpdateRequest: every field optional; only the fields that are set are sent."""

    description: str | None = None
    domain: str | None = None
    host_alias: HostAlias | None = None
    node_selector: str | None = None
    service_workload: ServiceWorkload | None = None
    worker_type: str | None = None


@attrs.frozen
class ServiceCreate:
    """DataOpsServiceCreateRequest."""

    data_ops_id: str
    data_ops_service_name: str
    domain: str
    host_alias: HostAlias
    service_workload: ServiceWorkload
    storage_class_name: str
    account: Account | None = None
    description: str | None = None
    node_selector: str | None = None
    tags: tuple[Tag, ...] | None = None
    worker_type: str | None = None


@attrs.frozen
class Service:
    """A data ops service as ``GET /v1/data-ops-services/{id}`` and the update's 202 answer it."""

    data_ops_service_id: str
    state: str | None = None
    account: Account | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    # hash=False: a dict cannot be hashed, and a Service should be (it is frozen); eq still compares it.
    cluster_permission: dict[str, Any] | None = attrs.field(default=None, hash=False)
    cluster_request_failed: bool | None = None
    created_dt: dt.datetime | None = None
    modified_dt: dt.datetime | None = None
    data_ops_id: str | None = None
    data_ops_name: str | None = None
    data_ops_service_name: str | None = None
    description: str | None = None
    domain: str | None = None
    host_alias: HostAlias | None = None
    hosts_file: str | None = None
    http_port: str | None = None
    https_port: str | None = None
    image_id: str | None = None
    ingress_class_name: str | None = None
    instance_id: str | None = None
    namespace_name: str | None = None
    node_selector: str | None = None
    service_workload: ServiceWorkload | None = None
    storage_class_name: str | None = None
    version: str | None = None
    web_url: str | None = None
    worker_type: str | None = None
    extra: dict[str, Any] = _EXTRA

    @property
    def id(self) -> str:
        """The service id, ``DOPS_SERVICE-<uuid>``."""
        return self.data_ops_service_id


@attrs.frozen
class ServiceSummary:
    """One item of ``GET /v1/data-ops-services``."""

    data_ops_service_id: str
    state: str | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    created_by: str | None = None
    created_dt: dt.datetime | None = None
    data_ops_id: str | None = None
    data_ops_name: str | None = None
    data_ops_service_name: str | None = None
    description: str | None = None
    modified_by: str | None = None
    modified_dt: dt.datetime | None = None
    version: str | None = None
    extra: dict[str, Any] = _EXTRA

    @property
    def id(self) -> str:
        """The service id, ``DOPS_SERVICE-<uuid>``."""
        return self.data_ops_service_id


# -- data ops -----------------------------------------------------------------------------------------------


@attrs.frozen
class DataOpsCreate:
    """DataOpsCreateRequest."""

    cluster_id: str
    data_ops_name: str
    domain: str
    dsc_domain: str
    host_alias_list: tuple[HostAliasGroup, ...]
    image_id: str
    ingress_controller_name: str
    storage_class_name: str
    account: Account | None = None
    description: str | None = None
    instance_id: str | None = None
    node_selector: str | None = None
    tags: tuple[Tag, ...] | None = None


@attrs.frozen
class DataOpsUpdate:
    """The body of ``PUT /v1/data-ops/{id}``; its fields are a guess (the mutable fields of create)."""

    description: str | None = None
    domain: str | None = None
    dsc_domain: str | None = None
    host_alias_list: tuple[HostAliasGroup, ...] | None = None
    image_id: str | None = None
    node_selector: str | None = None


@attrs.frozen
class DataOps:
    """A data ops (an Airflow installation on a cluster) as ``GET /v1/data-ops/{id}`` answers it."""

    data_ops_id: str
    state: str | None = None
    account: Account | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    created_dt: dt.datetime | None = None
    modified_dt: dt.datetime | None = None
    data_ops_name: str | None = None
    description: str | None = None
    domain: str | None = None
    dsc_domain: str | None = None
    host_alias_list: tuple[HostAliasGroup, ...] | None = None
    hosts_file: str | None = None
    image_id: str | None = None
    instance_id: str | None = None
    is_active_image: bool | None = None
    node_selector: str | None = None
    region: str | None = None
    storage_class_name: str | None = None
    version: str | None = None
    web_url: str | None = None
    extra: dict[str, Any] = _EXTRA

    @property
    def id(self) -> str:
        """The data ops id, ``DOPS-<uuid>``."""
        return self.data_ops_id


@attrs.frozen
class DataOpsSummary:
    """One item of ``GET /v1/data-ops`` (its fields are a guess: those the detail shares with a list)."""

    data_ops_id: str
    state: str | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    created_by: str | None = None
    created_dt: dt.datetime | None = None
    data_ops_name: str | None = None
    description: str | None = None
    modified_by: str | None = None
    modified_dt: dt.datetime | None = None
    version: str | None = None
    extra: dict[str, Any] = _EXTRA

    @property
    def id(self) -> str:
        """The data ops id, ``DOPS-<uuid>``."""
        return self.data_ops_id


# -- small answers ------------------------------------------------------------------------------------------


@attrs.frozen
class Page(Generic[T]):
    """One page of a list operation."""

    contents: tuple[T, ...]
    total_count: int
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class DuplicationCheck:
    """The answer of a ``check-duplication`` operation: ``result`` is true when the name is taken."""

    result: bool
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class ImageVersion:
    """One Airflow image a data ops can be created from."""

    image_id: str
    image_name: str | None = None
    version: str | None = None
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class SubVersions:
    """The service versions a data ops offers, and how many services it has."""

    data_ops_service_count: int
    versions: tuple[str, ...]
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class ResourceCheckRequest:
    """The body of a ``validate-resources`` operation (a guess: the workload and worker type to check)."""

    service_workload: ServiceWorkload
    worker_type: str | None = None
    node_selector: str | None = None


@attrs.frozen
class ResourceCheck:
    """The answer of a ``validate-resources`` operation: ``result`` true when the cluster has room."""

    result: bool
    err_code: str | None = None
    extra: dict[str, Any] = _EXTRA
