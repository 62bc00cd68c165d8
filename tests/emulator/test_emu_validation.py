"""Bad requests get a 4xx in the live envelopes, naming the field and the problem, and change nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from _emulator_helpers import data_ops_create, service_create

if TYPE_CHECKING:
    from aiodataops.emulator import Emulator

pytestmark = pytest.mark.anyio


def reasons(body: dict[str, Any]) -> list[str]:
    """The detail strings of a validation 400 in the live errors envelope."""
    error = body["errors"][0]
    assert (error["code"], error["status"]) == ("ValidationError", 400)
    return list(error["detail"])


def locs(body: dict[str, Any]) -> list[list[object]]:
    """The location of each reason (``"body.a.0.b: message"`` -> ``["body", "a", 0, "b"]``)."""
    return [[int(p) if p.isdigit() else p for p in r.partition(": ")[0].split(".")] for r in reasons(body)]


def msgs(body: dict[str, Any]) -> list[str]:
    """The message of each reason."""
    return [r.partition(": ")[2] for r in reasons(body)]


async def test_unknown_update_field_is_400(emu: Emulator, call) -> None:
    """An unknown field in an update body is a 400 in the live envelope whose detail names the field."""
    status, body, _ = await call("PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", {"replicas": "3"})
    assert status == 400
    assert reasons(body) == ["body.replicas: extra fields not permitted"]


async def test_non_string_workload_value_is_400(emu: Emulator, call) -> None:
    """A workload value sent as a JSON number is a 400 naming service_workload.worker.cpu."""
    status, body, _ = await call(
        "PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", {"service_workload": {"worker": {"cpu": 2}}}
    )
    assert status == 400
    assert locs(body) == [["body", "service_workload", "worker", "cpu"]]
    assert "string" in msgs(body)[0]


async def test_unknown_workload_role_is_400(emu: Emulator, call) -> None:
    """A workload role the API does not know (triggerer) is a 400 naming it."""
    status, body, _ = await call(
        "PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", {"service_workload": {"triggerer": {"cpu": "1"}}}
    )
    assert status == 400
    assert locs(body) == [["body", "service_workload", "triggerer"]]


@pytest.mark.parametrize(
    ("field", "value"), [("cpu", "two"), ("memory", "-4"), ("replica", "0"), ("replica", "1.5"), ("version", " ")]
)
async def test_bad_workload_values_are_400(emu: Emulator, call, field: str, value: str) -> None:
    """Workload strings that are not positive numbers (whole for replica, non-blank for version) are a 400."""
    status, body, _ = await call(
        "PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", {"service_workload": {"worker": {field: value}}}
    )
    assert status == 400
    assert locs(body) == [["body", "service_workload", "worker", field]]


async def test_bad_host_alias_enabled_is_400(emu: Emulator, call) -> None:
    """host_alias.enabled other than a boolean or "true"/"false" is a 400 naming it."""
    status, body, _ = await call(
        "PUT",
        f"/v1/data-ops-services/{emu.service_ids()[0]}",
        {"host_alias": {"enabled": "yes", "host_alias_list": []}},
    )
    assert status == 400
    assert locs(body) == [["body", "host_alias", "enabled"]]


async def test_bad_host_alias_ip_is_400(emu: Emulator, call) -> None:
    """A host alias entry whose ip is not an IP address is a 400 naming its index."""
    status, body, _ = await call(
        "PUT",
        f"/v1/data-ops-services/{emu.service_ids()[0]}",
        {"host_alias": {"enabled": "true", "host_alias_list": [{"hostname": "db", "ip": "10.0.0.300"}]}},
    )
    assert status == 400
    assert locs(body) == [["body", "host_alias", "host_alias_list", 0, "ip"]]


async def test_invalid_json_is_400(emu: Emulator, call) -> None:
    """A body that is not JSON is a 400 at loc ["body"]."""
    status, body, _ = await call("PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", raw_body=b"{nope")
    assert status == 400
    assert locs(body) == [["body"]]


async def test_body_that_is_not_an_object_is_400(emu: Emulator, call) -> None:
    """A JSON list where an object is expected is a 400."""
    status, body, _ = await call("PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", [])
    assert status == 400
    assert "object" in msgs(body)[0]


async def test_rejected_update_changes_nothing(emu: Emulator, call) -> None:
    """A 400 update leaves the service RUNNING with its old fields and counts no accepted PUT."""
    service_id = emu.service_ids()[0]
    before = emu.service_body(service_id)
    status, _, _ = await call(
        "PUT", f"/v1/data-ops-services/{service_id}", {"description": "new", "service_workload": {"worker": {"cpu": 3}}}
    )
    assert status == 400
    assert emu.service_body(service_id) == before
    assert emu.counters.accepted_puts_per_service[service_id] == 0
    assert emu.counters.puts_per_service[service_id] == 1


async def test_empty_storage_class_is_400(emu: Emulator, call) -> None:
    """Creating a service with an empty storage_class_name is a 400 naming it."""
    status, body, _ = await call("POST", "/v1/data-ops-services", service_create(emu, storage_class_name=""))
    assert status == 400
    assert locs(body) == [["body", "storage_class_name"]]


async def test_missing_required_create_field_is_400(emu: Emulator, call) -> None:
    """Creating a service without a required field is a 400 saying the field is required."""
    request = service_create(emu)
    del request["domain"]
    status, body, _ = await call("POST", "/v1/data-ops-services", request)
    assert status == 400
    assert reasons(body) == ["body.domain: Field required"]


async def test_incomplete_create_workload_is_400(emu: Emulator, call) -> None:
    """Creating a service whose workload lacks a role is a 400 naming the missing role."""
    request = service_create(emu)
    request["service_workload"] = {k: v for k, v in request["service_workload"].items() if k != "web_server"}
    status, body, _ = await call("POST", "/v1/data-ops-services", request)
    assert status == 400
    assert locs(body) == [["body", "service_workload", "web_server"]]


@pytest.mark.parametrize("name", ["ab", "a" * 16, "Prod-etl", "1etl", "etl-", "etl_01", "etl.01", "한글이름"])
async def test_bad_service_names_are_400(emu: Emulator, call, name: str) -> None:
    """Service names outside 3-15 characters of ^[a-z][a-z0-9-]*[a-z0-9]$ are a 400 naming the field."""
    status, body, _ = await call("POST", "/v1/data-ops-services", service_create(emu, name))
    assert status == 400
    assert locs(body) == [["body", "data_ops_service_name"]]


async def test_unknown_parent_data_ops_is_400(emu: Emulator, call) -> None:
    """Creating a service in a data ops that does not exist is a 400 naming data_ops_id."""
    status, body, _ = await call("POST", "/v1/data-ops-services", service_create(emu, data_ops_id="DOPS-nope"))
    assert status == 400
    assert locs(body) == [["body", "data_ops_id"]]


async def test_data_ops_create_checks_image_and_ingress(emu: Emulator, call) -> None:
    """Creating a data ops with an unknown image and ingress controller is a 400 naming both."""
    request = await data_ops_create(emu, call, image_id="IMAGE-nope", ingress_controller_name="traefik")
    status, body, _ = await call("POST", "/v1/data-ops", request)
    assert status == 400
    assert locs(body) == [["body", "image_id"], ["body", "ingress_controller_name"]]


@pytest.mark.parametrize(
    ("method", "path", "object_type"),
    [
        ("PUT", "/v1/data-ops-services/DOPS_SERVICE-00000000-0000-4000-8000-000000000000", "DataOpsService"),
        ("DELETE", "/v1/data-ops-services/DOPS_SERVICE-00000000-0000-4000-8000-000000000000", "DataOpsService"),
        (
            "POST",
            "/v1/data-ops-services/DOPS_SERVICE-00000000-0000-4000-8000-000000000000/validate-resources",
            "DataOpsService",
        ),
        ("PUT", "/v1/data-ops/DOPS-00000000-0000-4000-8000-000000000000", "DataOps"),
        ("DELETE", "/v1/data-ops/DOPS-00000000-0000-4000-8000-000000000000", "DataOps"),
    ],
)
async def test_unknown_ids_are_404(call, method: str, path: str, object_type: str) -> None:
    """An unknown resource id on a change is a 404 in the {code, status, object_type} envelope (not seen live)."""
    body_sent = None
    if method in ("PUT", "POST"):
        body_sent = {"description": "x"} if "/data-ops/" in path else {"service_workload": {"worker": {"replica": "2"}}}
    status, body, _ = await call(method, path, body_sent)
    assert status == 404
    assert body["object_type"] == object_type
    assert body["status"] == 404
    assert body["code"].endswith("_NOT_FOUND")


@pytest.mark.parametrize(
    "query", ["size=0", "size=1001", "size=ten", "page=-1", "page=1.5", "sort=nope:asc", "sort=created_dt:sideways"]
)
async def test_bad_paging_is_400(call, query: str) -> None:
    """Page sizes outside 1..1000, negative or non-numeric pages and unknown sorts are a 400 naming the parameter."""
    status, body, _ = await call("GET", f"/v1/data-ops-services?{query}")
    assert status == 400
    assert body["errors"][0]["detail"][0].startswith(query.split("=", 1)[0])


async def test_unknown_path_is_spring_style_404(call) -> None:
    """A path no operation has is a Spring-style 404 {timestamp, status, error, path}."""
    status, body, _ = await call("GET", "/v1/data-ops-services/a/b/c/d")
    assert status == 404
    assert (body["error"], body["path"]) == ("Not Found", "/v1/data-ops-services/a/b/c/d")


async def test_wrong_method_is_405(emu: Emulator, call) -> None:
    """A method an operation path does not take is a 405 in the Spring-style envelope."""
    status, body, _ = await call("PATCH", f"/v1/data-ops-services/{emu.service_ids()[0]}", {})
    assert (status, body["status"]) == (405, 405)


@pytest.mark.parametrize(
    ("method", "path", "version"),
    [
        ("GET", "/v1/data-ops", "data-ops 9.9"),
        ("GET", "/v1/data-ops", "data-ops 1.2"),
        ("POST", "/v1/data-ops", "data-ops 1.1"),
    ],
)
async def test_a_version_the_operation_is_not_served_at_is_406(call, method: str, path: str, version: str) -> None:
    """Each operation is served at its documented version only (creates 1.2, the rest 1.1); another is 406."""
    status, body, _ = await call(method, path, {} if method == "POST" else None, headers={"Scp-Api-Version": version})
    assert status == 406
    error = body["errors"][0]
    assert (error["code"], error["status"], error["title"]) == ("NoSuchVersion", 406, "NoSuchVersion")
    assert version in error["detail"][0]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/data-ops-services/DOPS_SERVICE-00000000-0000-4000-8000-000000000000",
        "/v1/data-ops-services/not-a-valid-id",
        "/v1/data-ops/DOPS-00000000-0000-4000-8000-000000000000",
        "/v1/data-ops/not-a-valid-id",
        "/v1/data-ops-services/data-ops/00000000-0000-4000-8000-000000000000/sub-versions",
        "/v1/data-ops-services/data-ops/not-a-valid-id/sub-versions",
        "/v1/data-ops/clusters/00000000000040008000000000000000/ingress-controllers",
        "/v1/data-ops/clusters/not-a-valid-id/ingress-controllers",
    ],
)
async def test_unknown_or_malformed_ids_on_the_id_bound_gets_are_400(emu: Emulator, call, path: str) -> None:
    """As observed live, the detail, sub-versions and ingress GETs answer 400 for an unknown or malformed id, saying
    it was not found."""
    status, body, _ = await call("GET", path)
    assert status == 400
    error = body["errors"][0]
    assert error["status"] == 400
    assert "not found" in error["detail"][0]
    assert path.split("/")[-1 if "clusters" not in path and "sub-versions" not in path else -2] in error["detail"][0]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/data-ops-services/DOPS_SERVICE-00000000-0000-4000-8000-000000000000", 404),
        ("/v1/data-ops-services/not-a-valid-id", 400),
        ("/v1/data-ops/DOPS-00000000-0000-4000-8000-000000000000", 404),
        ("/v1/data-ops/not-a-valid-id", 400),
        ("/v1/data-ops-services/data-ops/DOPS-00000000-0000-4000-8000-000000000000/sub-versions", 400),
        ("/v1/data-ops/clusters/00000000000040008000000000000000/ingress-controllers", 404),
        ("/v1/data-ops/clusters/not-a-valid-id/ingress-controllers", 400),
    ],
)
async def test_with_unknown_ids_404_only_well_formed_unknown_ids_answer_404(
    emu: Emulator, call, path: str, status: int
) -> None:
    """With `unknown_ids_404`, a well-formed unknown id answers 404; malformed ids and sub-versions still 400."""
    emu.reconfigure(quirks={"unknown_ids_404"})
    assert (await call("GET", path))[0] == status
