"""A seeded fleet: clusters, Airflow images, data ops and their services, with realistic names and real ID formats.

Names follow what platform teams write (``prod-etl-007`` in data ops ``prod-dops-01``); IDs are ``DOPS-<uuid>`` and
``DOPS_SERVICE-<uuid>``; cluster ids are 32 hex digits (API.md). Every ``account_password`` starts with
``EMUPASS-`` so a test can search any output for a leaked password.
"""

from __future__ import annotations

import random
import uuid
from typing import Any, Final

import attrs

__all__ = [
    "IMAGE_VERSIONS",
    "PASSWORD_MARK",
    "UUID_PATTERN",
    "Cluster",
    "Fleet",
    "data_ops_body",
    "new_cluster_id",
    "new_data_ops_id",
    "new_service_id",
    "password",
    "seed_fleet",
    "service_body",
]

#: The form of the uuid inside an id (``DOPS-<uuid>``, ``DOPS_SERVICE-<uuid>``), as a regular expression.
UUID_PATTERN: Final = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PASSWORD_MARK: Final = "EMUPASS-"  # noqa: S105 -- a marker for leak tests, not a password

#: (version, image name) of the Airflow images on offer, oldest first.
IMAGE_VERSIONS: Final = (
    ("2.7.3", "Apache Airflow 2.7.3"),
    ("2.9.3", "Apache Airflow 2.9.3"),
    ("2.10.5", "Apache Airflow 2.10.5"),
)

_ENVS: Final = ("prod", "stg", "dev")
# At most five letters so that "prod-sales-1234" stays within the 15 characters a service name may have.
_TEAMS: Final = ("etl", "ml", "bi", "sales", "ads", "risk", "iot", "crm", "fin", "ops")
_PEOPLE: Final = ("kim.minji", "lee.jiho", "park.seoyeon", "choi.hyun", "jung.daeun", "kang.minsu")
_SPARE_CLUSTERS: Final = 2


@attrs.define
class Cluster:
    """A Kubernetes Engine cluster data ops can be installed on."""

    cluster_id: str
    cluster_name: str
    ingress_controllers: list[str]
    cpu_capacity: float


@attrs.define
class Fleet:
    """Everything seeded: clusters (some without data ops), images, data ops and service bodies (wire dicts)."""

    clusters: dict[str, Cluster]
    images: list[dict[str, Any]]
    data_ops: list[dict[str, Any]]
    services: list[dict[str, Any]]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_data_ops_id(rng: random.Random) -> str:
    """Return a fresh ``DOPS-<uuid>``."""
    return f"DOPS-{_uuid(rng)}"


def new_service_id(rng: random.Random) -> str:
    """Return a fresh ``DOPS_SERVICE-<uuid>``."""
    return f"DOPS_SERVICE-{_uuid(rng)}"


def new_cluster_id(rng: random.Random) -> str:
    """Return a fresh cluster id: 32 lowercase hex digits."""
    return f"{rng.getrandbits(128):032x}"


def password(rng: random.Random) -> str:
    """Return a fresh Airflow admin password, marked so that leaks are easy to find."""
    return f"{PASSWORD_MARK}{rng.getrandbits(64):016x}"


def _cluster(rng: random.Random, env: str, index: int) -> Cluster:
    return Cluster(
        cluster_id=new_cluster_id(rng),
        cluster_name=f"k8s-{env}-{index:02d}",
        ingress_controllers=[f"nginx-{env}-{index:02d}", "nginx-default"],
        cpu_capacity=float(rng.choice((64, 96, 128))),
    )


def data_ops_body(
    rng: random.Random,
    *,
    data_ops_id: str,
    name: str,
    cluster: Cluster,
    image: dict[str, Any],
    created_dt: str,
    modified_dt: str,
    created_by: str,
    description: str = "",
    domain: str | None = None,
    dsc_domain: str | None = None,
    host_alias_list: list[dict[str, Any]] | None = None,
    storage_class_name: str = "nfs-csi",
    node_selector: str = "",
    instance_id: str | None = None,
    account_id: str = "admin",
    account_password: str | None = None,
) -> dict[str, Any]:
    """Build the wire body of one data ops (without ``state``; the store sets it)."""
    domain = domain if domain is not None else f"{name}.dataops.example.com"
    return {
        "account": {"account_id": account_id, "account_password": account_password or password(rng)},
        "account_id": account_id,
        "cluster_id": cluster.cluster_id,
        "cluster_name": cluster.cluster_name,
        "cluster_permission": {},
        "cluster_request_failed": False,
        "created_by": created_by,
        "created_dt": created_dt,
        "data_ops_id": data_ops_id,
        "data_ops_name": name,
        "description": description,
        "domain": domain,
        "dsc_domain": dsc_domain if dsc_domain is not None else f"dsc.{domain}",
        "host_alias_list": host_alias_list if host_alias_list is not None else [],
        "hosts_file": "",
        "http_port": "80",
        "https_port": "443",
        "image_id": image["image_id"],
        "ingress_class_name": "nginx",
        "instance_id": instance_id if instance_id is not None else f"INSTANCE-{_uuid(rng)}",
        # Documented as a boolean but written as a string in the examples; "Y"/"N" is the string form assumed here.
        "is_active_image": "Y",
        "modified_by": created_by,
        "modified_dt": modified_dt,
        "namespace_name": f"airflow-{name}",
        "node_selector": node_selector,
        "region": "kr-west1",
        "storage_class_name": storage_class_name,
        "version": image["version"],
        "web_url": f"https://{domain}",
    }


def _workload(cpu: str, memory: str, replica: str, version: str) -> dict[str, str]:
    return {"cpu": cpu, "memory": memory, "replica": replica, "version": version}


def default_workload(rng: random.Random, version: str) -> dict[str, dict[str, str]]:
    """Return a plausible ``service_workload`` object."""
    return {
        "scheduler": _workload(rng.choice(("1", "2")), rng.choice(("2", "4")), "1", version),
        "web_server": _workload("1", rng.choice(("2", "4")), "1", version),
        "worker": _workload(rng.choice(("2", "4")), rng.choice(("4", "8")), str(rng.randint(1, 4)), version),
    }


def service_body(
    rng: random.Random,
    *,
    service_id: str,
    name: str,
    data_ops: dict[str, Any],
    created_dt: str,
    modified_dt: str,
    created_by: str,
    service_workload: dict[str, Any],
    version: str,
    description: str = "",
    domain: str | None = None,
    host_alias: dict[str, Any] | None = None,
    storage_class_name: str = "nfs-csi",
    node_selector: str = "",
    worker_type: str = "CeleryExecutor",
    account_id: str = "admin",
    account_password: str | None = None,
) -> dict[str, Any]:
    """Build the wire body of one service (without ``state``; the store sets it)."""
    domain = domain if domain is not None else f"{name}.{data_ops['domain']}"
    return {
        "account": {"account_id": account_id, "account_password": account_password or password(rng)},
        "account_id": account_id,
        "cluster_id": data_ops["cluster_id"],
        "cluster_name": data_ops["cluster_name"],
        "cluster_permission": {},
        "cluster_request_failed": False,
        "created_by": created_by,
        "created_dt": created_dt,
        "data_ops_id": data_ops["data_ops_id"],
        "data_ops_name": data_ops["data_ops_name"],
        "data_ops_service_id": service_id,
        "data_ops_service_name": name,
        "description": description,
        "domain": domain,
        "host_alias": host_alias if host_alias is not None else {"enabled": "false", "host_alias_list": []},
        "hosts_file": "",
        "http_port": "80",
        "https_port": "443",
        "image_id": data_ops["image_id"],
        "ingress_class_name": "nginx",
        "instance_id": data_ops["instance_id"],
        "is_active_image": data_ops["is_active_image"],
        "modified_by": created_by,
        "modified_dt": modified_dt,
        "namespace_name": f"airflow-{name}",
        "node_selector": node_selector,
        "service_workload": service_workload,
        "storage_class_name": storage_class_name,
        "version": version,
        "web_url": f"https://{domain}",
        "worker_type": worker_type,
    }


def seed_fleet(seed: int, service_counts: list[int], wall_now: float, format_time: Any) -> Fleet:
    """Build the seeded fleet: one cluster per data ops plus spare ones, and ``service_counts[i]`` services each."""
    rng = random.Random(seed)  # noqa: S311 -- test data, not cryptography
    images = [
        {
            "image_attr": {"k8s.version": "1.29", "os.type": "ubuntu"},
            "image_id": f"IMAGE-{_uuid(rng)}",
            "image_name": image_name,
            "version": version,
        }
        for version, image_name in IMAGE_VERSIONS
    ]
    clusters: dict[str, Cluster] = {}
    data_ops: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    serial: dict[tuple[str, str], int] = {}
    for index, count in enumerate(service_counts):
        env = _ENVS[index % len(_ENVS)]
        cluster = _cluster(rng, env, index // len(_ENVS) + 1)
        clusters[cluster.cluster_id] = cluster
        image = images[-1 - (index % 2)]
        born = wall_now - rng.uniform(200, 400) * 86400
        body = data_ops_body(
            rng,
            data_ops_id=new_data_ops_id(rng),
            name=f"{env}-dops-{index // len(_ENVS) + 1:02d}",
            cluster=cluster,
            image=image,
            created_dt=format_time(born),
            modified_dt=format_time(born + rng.uniform(0, 100) * 86400),
            created_by=rng.choice(_PEOPLE),
            description=f"Airflow for {env}",
        )
        data_ops.append(body)
        for _ in range(count):
            team = _TEAMS[len(services) % len(_TEAMS)]
            number = serial[env, team] = serial.get((env, team), 0) + 1
            name = f"{env}-{team}-{number:03d}"
            service_born = born + rng.uniform(1, 150) * 86400
            services.append(
                service_body(
                    rng,
                    service_id=new_service_id(rng),
                    name=name,
                    data_ops=body,
                    created_dt=format_time(service_born),
                    modified_dt=format_time(service_born + rng.uniform(0, 40) * 86400),
                    created_by=rng.choice(_PEOPLE),
                    service_workload=default_workload(rng, body["version"]),
                    version=body["version"],
                    description=f"{team} pipelines ({env})",
                )
            )
    for spare in range(_SPARE_CLUSTERS):
        cluster = _cluster(rng, "spare", spare + 1)
        clusters[cluster.cluster_id] = cluster
    return Fleet(clusters=clusters, images=images, data_ops=data_ops, services=services)
