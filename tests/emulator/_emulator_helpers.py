"""Request bodies shared by the emulator's tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiodataops.emulator import PASSWORD_MARK

if TYPE_CHECKING:
    from aiodataops.emulator import Emulator

WORKLOAD = {
    "scheduler": {"cpu": "1", "memory": "2", "replica": "1", "version": "2.10.5"},
    "web_server": {"cpu": "1", "memory": "2", "replica": "1", "version": "2.10.5"},
    "worker": {"cpu": "2", "memory": "4", "replica": "2", "version": "2.10.5"},
}


def service_create(emu: Emulator, name: str = "new-svc-01", **changes: Any) -> dict[str, Any]:
    body = {
        "data_ops_id": emu.data_ops_ids()[0],
        "data_ops_service_name": name,
        "domain": f"{name}.example.com",
        "host_alias": {"enabled": "true", "host_alias_list": [{"hostname": "db.internal", "ip": "10.0.0.5"}]},
        "service_workload": WORKLOAD,
        "storage_class_name": "nfs-csi",
        "worker_type": "CeleryExecutor",
        "account": {"account_id": "admin", "account_password": PASSWORD_MARK + "mine"},
    }
    body.update(changes)
    return body


async def image_id(call) -> str:
    _, body, _ = await call("GET", "/v1/data-ops/image-versions")
    return str(body["contents"][-1]["image_id"])


async def data_ops_create(emu: Emulator, call, name: str = "new-dops-01", **changes: Any) -> dict[str, Any]:
    spare = emu.cluster_ids()[-1]
    _, controllers, _ = await call("GET", f"/v1/data-ops/clusters/{spare}/ingress-controllers")
    body = {
        "cluster_id": spare,
        "data_ops_name": name,
        "domain": f"{name}.example.com",
        "host_alias_list": [{"hostnames": ["a.internal", "b.internal"], "ip": "10.1.2.3"}],
        "image_id": await image_id(call),
        "ingress_controller_name": controllers[0],
        "storage_class_name": "nfs-csi",
    }
    body.update(changes)
    return body
