"""attrs models of every Data Ops request and response, as the reference documents them.

The reference is ``../shared/reference/dataops-documented.md`` (and ``.json``): the 17 operations and 28 schemas
SCP documents, with what was observed live. Section names in comments below are that file's ("Schemas", "[LIVE]
Observations"). Where the documentation and live observations disagree, the models follow live, and say so.

Conventions, all enforced by the one converter in ``_wire.py``:

- ``None`` means "not set": a request never sends a ``None`` field, so an update sends only what it changes.
- Response models keep fields the server added after this SDK was written in ``extra`` (reachable, never sent).
  So do the parts (``Workload``, ``HostAlias``, ``Account``...), because responses nest them too: a field the
  server adds inside ``service_workload`` must not break every read.
- Request models have no ``extra``: an unknown key anywhere in a request body, nested parts included, is an error
  (the emulator answers 400).
- Collections are tuples so models stay hashable and immutable.
- Responses are read tolerantly: the documented examples write ``""`` for unset booleans, numbers and datetimes,
  so ``""`` there reads as ``None``; counts may be strings of digits; a datetime without a zone is UTC.
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
    "SubVersionSet",
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
    """The workload roles of an Airflow deployment; ``dag_processor`` (Airflow's DAG processor) is in the 1.2 create
    model (reference, createdataopsservice request example)."""

    scheduler: Workload | None = None
    web_server: Workload | None = None
    worker: Workload | None = None
    dag_processor: Workload | None = None
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
    """A resource tag, ``{tag_key, tag_value}`` as the 1.2 create examples write it (model TagV1Dot2)."""

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
    """DataOpsServiceCreateRequestV1Dot2, sent at API version 1.2 (reference, createdataopsservice).

    Required as documented (reference, "Schemas": the 1.1 and 1.2 models agree, and the live 400 for an empty
    body names 7 missing fields, these 7): ``data_ops_id``, ``data_ops_service_name``, ``domain``, ``host_alias``,
    ``service_workload``, ``storage_class_name`` and ``worker_type``.
    """

    data_ops_id: str
    data_ops_service_name: str
    domain: str
    host_alias: HostAlias
    service_workload: ServiceWorkload
    storage_class_name: str
    worker_type: str
    account: Account | None = None
    description: str | None = None
    node_selector: str | None = None
    tags: tuple[Tag, ...] | None = None


@attrs.frozen
class Service:
    """A data ops service as ``GET /v1/data-ops-services/{id}`` and the update's 202 answer it."""

    data_ops_service_id: str
    state: str | None = None
    account: Account | None = None
    account_id: str | None = None
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
    is_active_image: bool | None = None
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
    """One item of ``GET /v1/data-ops-services`` (DataOpsServicesConsoleResponseV1Dot1)."""

    data_ops_service_id: str
    state: str | None = None
    account_id: str | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    cluster_permission: dict[str, Any] | None = attrs.field(default=None, hash=False)
    cluster_request_failed: bool | None = None
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
    """DataOpsCreateRequestV1Dot2, sent at API version 1.2 (reference, createdataops).

    ``dsc_domain`` is optional, as documented. ``ingress_controller_name`` stays required although the 1.2 model
    makes it optional: live, an empty create body was refused naming 7 missing fields, the required set of the 1.1
    model with ``ingress_controller_name`` (reference, "[LIVE] Observations"); follow live until a 1.2 create is
    seen to pass without it.
    """

    cluster_id: str
    data_ops_name: str
    domain: str
    host_alias_list: tuple[HostAliasGroup, ...]
    image_id: str
    ingress_controller_name: str
    storage_class_name: str
    account: Account | None = None
    description: str | None = None
    dsc_domain: str | None = None
    instance_id: str | None = None
    node_selector: str | None = None
    tags: tuple[Tag, ...] | None = None


@attrs.frozen
class DataOpsUpdate:
    """DataOpsUpdateRequest, the body of ``PUT /v1/data-ops/{id}``: every field optional, only those set are sent.

    The platform refuses any other field ("Extra inputs not permitted"): ``dsc_domain`` and ``image_id``, guessed
    here before the reference, are gone.
    """

    account: Account | None = None
    description: str | None = None
    domain: str | None = None
    host_alias_list: tuple[HostAliasGroup, ...] | None = None
    node_selector: str | None = None


@attrs.frozen
class DataOps:
    """A data ops (an Airflow installation on a cluster) as ``GET /v1/data-ops/{id}`` answers it
    (DataOpsDetailResponseV1Dot1; ``dsc_domain`` and ``region`` are older guesses, kept while they may appear)."""

    data_ops_id: str
    state: str | None = None
    account: Account | None = None
    account_id: str | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    cluster_permission: dict[str, Any] | None = attrs.field(default=None, hash=False)
    cluster_request_failed: bool | None = None
    created_dt: dt.datetime | None = None
    modified_dt: dt.datetime | None = None
    data_ops_name: str | None = None
    description: str | None = None
    domain: str | None = None
    dsc_domain: str | None = None
    host_alias_list: tuple[HostAliasGroup, ...] | None = None
    hosts_file: str | None = None
    http_port: str | None = None
    https_port: str | None = None
    image_id: str | None = None
    ingress_class_name: str | None = None
    instance_id: str | None = None
    #: Documented as a boolean, written ``""`` in the examples; read from a bool, ``"Y"``/``"N"`` or ``"true"``.
    is_active_image: bool | None = None
    namespace_name: str | None = None
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
    """One item of ``GET /v1/data-ops`` (DataOpsConsoleResponseV1Dot1)."""

    data_ops_id: str
    state: str | None = None
    account_id: str | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    cluster_permission: dict[str, Any] | None = attrs.field(default=None, hash=False)
    cluster_request_failed: bool | None = None
    created_by: str | None = None
    created_dt: dt.datetime | None = None
    data_ops_name: str | None = None
    description: str | None = None
    image_id: str | None = None
    instance_id: str | None = None
    is_active_image: bool | None = None
    modified_by: str | None = None
    modified_dt: dt.datetime | None = None
    namespace_name: str | None = None
    version: str | None = None
    extra: dict[str, Any] = _EXTRA

    @property
    def id(self) -> str:
        """The data ops id, ``DOPS-<uuid>``."""
        return self.data_ops_id


# -- small answers ------------------------------------------------------------------------------------------


@attrs.frozen
class Page(Generic[T]):
    """One page of a list operation; ``total_count`` is ``None`` when the server leaves it unset (``""``)."""

    contents: tuple[T, ...] = ()
    total_count: int | None = None
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class DuplicationCheck:
    """The answer of a ``check-duplication`` operation: ``result`` is true when the name is taken."""

    result: bool
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class ImageVersion:
    """One Airflow image a data ops can be created from (ImageAttr).

    ``image_attr`` (``{"k8s.version", "os.type"}``) is documented as required but was absent live (reference,
    "[LIVE] Observations"), so it is optional.
    """

    image_id: str
    image_name: str | None = None
    version: str | None = None
    image_attr: dict[str, Any] | None = attrs.field(default=None, hash=False)
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class SubVersionSet:
    """The version of each Airflow component a data ops offers (DataOpsServiceSubVersionResponse)."""

    scheduler: str | None = None
    webserver: str | None = None
    worker: str | None = None
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class SubVersions:
    """The component versions a data ops offers its services, and how many services it has
    (DataOpsServiceImageResponse: ``versions`` is an object keyed ``scheduler``, ``webserver``, ``worker``)."""

    data_ops_service_count: int | None = None
    versions: SubVersionSet | None = None
    extra: dict[str, Any] = _EXTRA


@attrs.frozen
class ResourceCheckRequest:
    """DataOpsServiceValidateResourceRequest, the body of a ``validate-resources`` operation: the workload only."""

    service_workload: ServiceWorkload


@attrs.frozen
class ResourceCheck:
    """ClusterResourceCheckResponse: ``result`` true when the cluster has room, ``err_code`` why not.

    ``cpu`` and ``memory`` are documented as objects while the examples write strings (``"CPU"``); they are kept
    as sent. ``result`` is ``None`` when the server leaves it unset (``""``).
    """

    result: bool | None = None
    err_code: str | None = None
    cpu: Any = attrs.field(default=None, hash=False)
    memory: Any = attrs.field(default=None, hash=False)
    extra: dict[str, Any] = _EXTRA
