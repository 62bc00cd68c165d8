"""What the emulator's tests share: a signed HTTP caller and request bodies.

A module of its own (not ``conftest``) so that tests can import it by a name no other directory's conftest shadows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from yarl import URL

from aiodataops._signing import Credentials, now_ms, signed_headers
from aiodataops.emulator import PASSWORD_MARK

if TYPE_CHECKING:
    import aiohttp
    from multidict import CIMultiDict

    from aiodataops.emulator import Emulator

#: The creates, documented at API version 1.2 only; every other operation is sent at 1.1.
_CREATES = {("POST", "/v1/data-ops"): "create_data_ops", ("POST", "/v1/data-ops-services"): "create_service"}


class Caller:
    """Sends signed requests to one emulator and returns ``(status, parsed body, headers)``."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        credentials: Credentials | None = None,
        timestamp_ms: int | None = None,
        sign_path: str | None = None,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> tuple[int, Any, CIMultiDict[str]]:
        url = URL(self.emu.base_url + path, encoded=True)
        signed_url = URL(self.emu.base_url + sign_path, encoded=True) if sign_path else url
        all_headers = signed_headers(
            method,
            str(signed_url),
            timestamp_ms or now_ms(),
            credentials or self.emu.credentials,
            operation=_CREATES.get((method, path)),  # a create is sent at its own version (1.2)
        )
        all_headers.update(headers or {})
        data = raw_body if raw_body is not None else (orjson.dumps(body) if body is not None else None)
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        async with self.session.request(method, url, data=data, headers=all_headers) as response:
            raw = await response.read()
            parsed: Any = raw.decode()
            if response.content_type == "application/json":
                parsed = orjson.loads(raw)
            return response.status, parsed, response.headers.copy()


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
