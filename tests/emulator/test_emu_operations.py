"""Each of the 17 operations answers through HTTP with bodies the package's own models read."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from _emulator_helpers import data_ops_create, service_create

from aiodataops._models import (
    DataOps,
    DataOpsSummary,
    DuplicationCheck,
    ImageVersion,
    Page,
    ResourceCheck,
    Service,
    ServiceSummary,
    SubVersions,
)
from aiodataops._wire import structure
from aiodataops.emulator import PASSWORD_MARK

if TYPE_CHECKING:
    from aiodataops._clock import VirtualClock
    from aiodataops.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_list_data_ops(emu: Emulator, call) -> None:
    """list_data_ops answers every seeded data ops as a page the SDK's Page[DataOpsSummary] reads."""
    status, body, _ = await call("GET", "/v1/data-ops?page=0&size=20")
    page = structure(body, Page[DataOpsSummary])
    assert status == 200
    assert page.total_count == 2
    assert [item.id for item in page.contents] == emu.data_ops_ids()


async def test_get_data_ops(emu: Emulator, call) -> None:
    """get_data_ops answers the detail of one data ops, readable as DataOps."""
    data_ops_id = emu.data_ops_ids()[1]
    status, body, _ = await call("GET", f"/v1/data-ops/{data_ops_id}")
    data_ops = structure(body, DataOps)
    assert (status, data_ops.id, data_ops.state) == (200, data_ops_id, "RUNNING")
    assert re.fullmatch(r"[0-9a-f]{32}", data_ops.cluster_id or "")


async def test_create_data_ops_then_running(emu: Emulator, clock: VirtualClock, call) -> None:
    """create_data_ops answers 202 in CREATING and the data ops reads RUNNING after the create duration."""
    status, body, _ = await call("POST", "/v1/data-ops", await data_ops_create(emu, call))
    created = structure(body, DataOps)
    assert (status, created.state) == (202, "CREATING")
    assert re.fullmatch(r"DOPS-[0-9a-f-]{36}", created.id)
    clock.advance(4.0)
    status, body, _ = await call("GET", f"/v1/data-ops/{created.id}")
    assert (status, body["state"]) == (200, "RUNNING")
    assert emu.data_ops_ids()[-1] == created.id


async def test_create_data_ops_refuses_a_busy_cluster(emu: Emulator, call) -> None:
    """create_data_ops on a cluster that already has a data ops answers 409."""
    request = await data_ops_create(emu, call, cluster_id=emu.cluster_ids()[0])
    _, controllers, _ = await call("GET", f"/v1/data-ops/clusters/{emu.cluster_ids()[0]}/ingress-controllers")
    request["ingress_controller_name"] = controllers[0]
    status, body, _ = await call("POST", "/v1/data-ops", request)
    assert status == 409
    assert body["errors"][0]["status"] == 409


async def test_update_data_ops(emu: Emulator, call) -> None:
    """update_data_ops answers 202 with the change applied and the state UPDATING."""
    data_ops_id = emu.data_ops_ids()[0]
    status, body, _ = await call("PUT", f"/v1/data-ops/{data_ops_id}", {"description": "moved to team B"})
    assert (status, body["state"], body["description"]) == (202, "UPDATING", "moved to team B")
    assert emu.data_ops_state(data_ops_id) == "UPDATING"


async def test_delete_data_ops_with_services_is_refused(emu: Emulator, call) -> None:
    """delete_data_ops answers 409 while the data ops still has services."""
    status, body, _ = await call("DELETE", f"/v1/data-ops/{emu.data_ops_ids()[0]}")
    assert status == 409
    assert "service" in body["errors"][0]["detail"][0]


async def test_delete_empty_data_ops_ends_in_404(emu: Emulator, clock: VirtualClock, call) -> None:
    """delete_data_ops of an empty data ops goes TERMINATING, then the data ops answers 404."""
    _, created, _ = await call("POST", "/v1/data-ops", await data_ops_create(emu, call))
    clock.advance(5.0)
    status, body, _ = await call("DELETE", f"/v1/data-ops/{created['data_ops_id']}")
    assert (status, body["state"]) == (202, "TERMINATING")
    clock.advance(3.0)
    status, body, _ = await call("GET", f"/v1/data-ops/{created['data_ops_id']}")
    assert (status, body["object_type"]) == (404, "DataOps")


async def test_check_data_ops_name(emu: Emulator, call) -> None:
    """check_data_ops_name answers result true for a taken name and false for a free one."""
    name = emu.data_ops_body(emu.data_ops_ids()[0])["data_ops_name"]
    _, taken, _ = await call("GET", f"/v1/data-ops/{name}/check-duplication")
    _, free, _ = await call("GET", "/v1/data-ops/nobody-has-me/check-duplication")
    assert structure(taken, DuplicationCheck).result is True
    assert structure(free, DuplicationCheck).result is False


async def test_image_versions(call) -> None:
    """image_versions answers {contents: [{image_id, image_name, version}], total_count}."""
    status, body, _ = await call("GET", "/v1/data-ops/image-versions")
    page = structure(body, Page[ImageVersion])
    assert status == 200
    assert page.total_count == len(page.contents) >= 2
    assert all(image.version and image.image_name for image in page.contents)


async def test_ingress_controllers(emu: Emulator, call) -> None:
    """ingress_controllers answers a plain JSON list of controller names."""
    status, body, _ = await call("GET", f"/v1/data-ops/clusters/{emu.cluster_ids()[0]}/ingress-controllers")
    assert status == 200
    assert isinstance(body, list)
    assert body
    assert all(isinstance(name, str) for name in body)


async def test_ingress_controllers_unknown_and_malformed_cluster(emu: Emulator, call) -> None:
    """ingress_controllers answers 400 saying "not found" for an unknown and for a malformed cluster id, as live."""
    unknown, body_unknown, _ = await call("GET", f"/v1/data-ops/clusters/{'0' * 32}/ingress-controllers")
    malformed, body_malformed, _ = await call("GET", "/v1/data-ops/clusters/not-hex/ingress-controllers")
    assert (unknown, malformed) == (400, 400)
    assert body_unknown["errors"][0]["detail"] == [f"Cluster {'0' * 32} not found"]
    assert body_malformed["errors"][0]["detail"] == ["Cluster not-hex not found"]


async def test_list_services(emu: Emulator, call) -> None:
    """list_services answers a page the SDK's Page[ServiceSummary] reads, in seeded order."""
    status, body, _ = await call("GET", "/v1/data-ops-services?page=1&size=3")
    page = structure(body, Page[ServiceSummary])
    assert status == 200
    assert page.total_count == 10
    assert [item.id for item in page.contents] == emu.service_ids()[3:6]


async def test_get_service(emu: Emulator, call) -> None:
    """get_service answers the detail readable as Service, with realistic names, ids and a marked password."""
    service_id = emu.service_ids()[0]
    status, body, _ = await call("GET", f"/v1/data-ops-services/{service_id}")
    service = structure(body, Service)
    assert (status, service.id, service.state) == (200, service_id, "RUNNING")
    assert re.fullmatch(r"DOPS_SERVICE-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", service.id)
    assert re.fullmatch(r"(prod|stg|dev)-[a-z]+-\d{3}", service.data_ops_service_name or "")
    assert service.account is not None
    assert (service.account.account_password or "").startswith(PASSWORD_MARK)
    assert service.service_workload is not None
    assert service.service_workload.worker is not None


async def test_create_service_then_running(emu: Emulator, clock: VirtualClock, call) -> None:
    """create_service answers 202 in CREATING; the service reads RUNNING after the create duration."""
    status, body, _ = await call("POST", "/v1/data-ops-services", service_create(emu))
    created = structure(body, Service)
    assert (status, created.state, created.data_ops_service_name) == (202, "CREATING", "new-svc-01")
    assert created.host_alias is not None
    assert created.host_alias.enabled is True
    clock.advance(4.0)
    status, body, _ = await call("GET", f"/v1/data-ops-services/{created.id}")
    assert (status, body["state"]) == (200, "RUNNING")
    _, page, _ = await call("GET", "/v1/data-ops-services?size=100")
    assert page["total_count"] == 11


async def test_create_service_duplicate_name_conflicts(emu: Emulator, call) -> None:
    """create_service with a name already taken answers 409 in the errors envelope."""
    taken = emu.service_body(emu.service_ids()[0])["data_ops_service_name"]
    status, body, _ = await call("POST", "/v1/data-ops-services", service_create(emu, taken))
    assert status == 409
    assert taken in body["errors"][0]["detail"][0]


async def test_delete_service_ends_in_404(emu: Emulator, clock: VirtualClock, call) -> None:
    """delete_service answers 202 in TERMINATING, then the service answers 404 and leaves the list."""
    service_id = emu.service_ids()[2]
    status, body, _ = await call("DELETE", f"/v1/data-ops-services/{service_id}")
    assert (status, body["state"]) == (202, "TERMINATING")
    clock.advance(2.5)
    status, body, _ = await call("GET", f"/v1/data-ops-services/{service_id}")
    assert (status, body["object_type"]) == (404, "DataOpsService")
    assert service_id not in emu.service_ids()
    _, page, _ = await call("GET", "/v1/data-ops-services?size=100")
    assert page["total_count"] == 9


async def test_check_service_name(emu: Emulator, call) -> None:
    """check_service_name answers result true for a taken name and false for a free one."""
    name = emu.service_body(emu.service_ids()[0])["data_ops_service_name"]
    _, taken, _ = await call("GET", f"/v1/data-ops-services/{name}/check-duplication")
    _, free, _ = await call("GET", "/v1/data-ops-services/free-name-1/check-duplication")
    assert (taken["result"], free["result"]) == (True, False)


async def test_validate_resources_create(emu: Emulator, call) -> None:
    """validate_resources_create answers result true when the cluster has room and false with an err_code if not."""
    cluster = emu.cluster_ids()[-1]
    small = {"service_workload": {"worker": {"cpu": "1", "replica": "1"}}}
    huge = {"service_workload": {"worker": {"cpu": "64", "replica": "10"}}}
    _, fits, _ = await call("POST", f"/v1/data-ops-services/clusters/{cluster}/validate-resources", small)
    _, too_big, _ = await call("POST", f"/v1/data-ops-services/clusters/{cluster}/validate-resources", huge)
    assert structure(fits, ResourceCheck).result is True
    too_big_check = structure(too_big, ResourceCheck)
    assert (too_big_check.result, too_big_check.err_code) == (False, "INSUFFICIENT_CPU")


async def test_validate_resources_update(emu: Emulator, call) -> None:
    """validate_resources_update checks a service's new workload against its own cluster's room."""
    service_id = emu.service_ids()[0]
    path = f"/v1/data-ops-services/{service_id}/validate-resources"
    _, same, _ = await call("POST", path, {"service_workload": {"worker": {"replica": "1"}}})
    _, huge, _ = await call("POST", path, {"service_workload": {"worker": {"cpu": "64", "replica": "20"}}})
    assert (same["result"], huge["result"]) == (True, False)


async def test_sub_versions(emu: Emulator, call) -> None:
    """sub_versions answers the documented object of component versions and how many services the data ops has."""
    data_ops_id = emu.data_ops_ids()[0]
    status, body, _ = await call("GET", f"/v1/data-ops-services/data-ops/{data_ops_id}/sub-versions")
    version = emu.data_ops_body(data_ops_id)["version"]
    assert body["versions"] == {"scheduler": version, "webserver": version, "worker": version}
    sub = structure(body, SubVersions)
    assert (status, sub.data_ops_service_count) == (200, 5)
    assert sub.versions is not None
    assert sub.versions.webserver == version


async def test_sub_versions_unknown_data_ops_is_400(call) -> None:
    """sub_versions of an unknown data ops answers 400, not 404, as the real API was seen to."""
    status, body, _ = await call("GET", "/v1/data-ops-services/data-ops/DOPS-nope/sub-versions")
    assert status == 400
    assert "DOPS-nope" in body["errors"][0]["detail"][0]
