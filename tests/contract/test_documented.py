"""Contract tests from the API reference: every documented example fits the models, and the table follows the docs.

The reference is ``../shared/reference/dataops-documented.json`` next to the repository (the documented 17
operations, their request and response examples and schemas, and live observations). A source distribution does
not ship it: then these tests skip, saying so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import attrs
import orjson
import pytest

from aiodataops._models import (
    DataOps,
    DataOpsCreate,
    DataOpsSummary,
    DataOpsUpdate,
    ImageVersion,
    Page,
    ResourceCheck,
    ResourceCheckRequest,
    Service,
    ServiceCreate,
    ServiceSummary,
    ServiceUpdate,
    SubVersions,
)
from aiodataops._signing import API_VERSIONS
from aiodataops._wire import structure, unstructure
from aiodataops.emulator._routes import ROUTES

REFERENCE: Final = Path(__file__).parents[2] / ".." / "shared" / "reference" / "dataops-documented.json"

#: The reference's operation id -> the name the client, the emulator and ``API_VERSIONS`` give it.
OPERATION_NAMES: Final = {
    "checkduplicationcontroller": "check_service_name",
    "checkduplicationcontrollerv1": "check_data_ops_name",
    "createdataops": "create_data_ops",
    "createdataopsservice": "create_service",
    "deletedataopsservice": "delete_service",
    "deletedataopsv1": "delete_data_ops",
    "getdataopsdetail": "get_data_ops",
    "getdataopsimageversionv1": "image_versions",
    "getdataopslistconsole": "list_data_ops",
    "getdataopsservice": "get_service",
    "getdataopsservicelistconsole": "list_services",
    "getdataopsservicevalidateresourcescreation": "validate_resources_create",
    "getdataopsservicevalidateresourcesupdate": "validate_resources_update",
    "getdataopssubversion": "sub_versions",
    "getingresscontrollerlistv1": "ingress_controllers",
    "updatedataopsservice": "update_service",
    "updatedataopsv1": "update_data_ops",
}
#: The request model of each operation documented with a request body.
REQUEST_MODELS: Final[dict[str, Any]] = {
    "createdataops": DataOpsCreate,
    "createdataopsservice": ServiceCreate,
    "getdataopsservicevalidateresourcescreation": ResourceCheckRequest,
    "getdataopsservicevalidateresourcesupdate": ResourceCheckRequest,
    "updatedataopsservice": ServiceUpdate,
    "updatedataopsv1": DataOpsUpdate,
}
#: The response model of each operation documented with a response example.
RESPONSE_MODELS: Final[dict[str, Any]] = {
    "getdataopsdetail": DataOps,
    "getdataopsimageversionv1": Page[ImageVersion],
    "getdataopslistconsole": Page[DataOpsSummary],
    "getdataopsservice": Service,
    "getdataopsservicelistconsole": Page[ServiceSummary],
    "getdataopsservicevalidateresourcescreation": ResourceCheck,
    "getdataopsservicevalidateresourcesupdate": ResourceCheck,
    "getdataopssubversion": SubVersions,
    "updatedataopsservice": Service,
    "updatedataopsv1": DataOps,
}
#: Required fields of the create models that differ from the documented 1.2 schema, and why (the models' comments).
REQUIRED_EXCEPTIONS: Final = {
    # Live, an empty create was refused naming 7 fields: the 1.1 set, with ingress_controller_name.
    "createdataops": {"ingress_controller_name"},
    "createdataopsservice": set(),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """The machine-readable reference, or a skip when this checkout has none (an sdist)."""
    if not REFERENCE.is_file():
        pytest.skip(f"the API reference is not here ({REFERENCE.resolve()}): contract tests need ../shared")
    data: dict[str, Any] = orjson.loads(REFERENCE.read_bytes())
    return data


def _examples(reference: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: op[key] for name, op in reference["operations"].items() if isinstance(op.get(key), dict)}


def test_every_operation_is_known_by_name_and_version(reference: dict[str, Any]) -> None:
    """Each documented operation has a name here, and ``API_VERSIONS`` sends it at a documented version."""
    operations = reference["operations"]
    assert set(operations) == set(OPERATION_NAMES)
    assert set(API_VERSIONS) == set(OPERATION_NAMES.values())
    for op_id, op in operations.items():
        assert API_VERSIONS[OPERATION_NAMES[op_id]] in op["api_versions"], op_id


def test_the_emulator_serves_every_documented_method_and_path(reference: dict[str, Any]) -> None:
    """The emulator routes each documented method and path to the operation of that name."""

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    served = {(method, shape(path)): name for method, path, _, name in ROUTES}
    for op_id, op in reference["operations"].items():
        assert served.get((op["method"], shape(op["path"]))) == OPERATION_NAMES[op_id], op_id


def test_every_request_example_round_trips_through_its_model(reference: dict[str, Any]) -> None:
    """Each documented request body builds its (strict) request model and is written back unchanged."""
    examples = _examples(reference, "request_example")
    assert set(examples) == set(REQUEST_MODELS)
    for op_id, example in examples.items():
        model = structure(example, REQUEST_MODELS[op_id])
        assert unstructure(model) == example, op_id


def test_every_response_example_reads_into_its_model(reference: dict[str, Any]) -> None:
    """Each documented response body, placeholders and all, reads into its model without a shape error."""
    examples = _examples(reference, "response_example")
    assert set(examples) == set(RESPONSE_MODELS)
    for op_id, example in examples.items():
        structure(example, RESPONSE_MODELS[op_id])
    sub = structure(examples["getdataopssubversion"], SubVersions)
    assert sub.versions is not None
    assert (sub.data_ops_service_count, sub.versions.webserver) == (None, "")
    detail = structure(examples["getdataopsdetail"], DataOps)
    assert (detail.is_active_image, detail.http_port, detail.cluster_request_failed) == (None, None, False)
    check = structure(examples["getdataopsservicevalidateresourcescreation"], ResourceCheck)
    assert (check.result, check.cpu, check.memory) == (None, "CPU", "Memory")
    page = structure(examples["getdataopslistconsole"], Page[DataOpsSummary])
    assert page.total_count is None


def test_the_create_models_require_what_the_reference_requires(reference: dict[str, Any]) -> None:
    """The create models' required fields are the documented 1.2 schema's, but for the live exceptions noted."""
    for op_id, model in (("createdataops", DataOpsCreate), ("createdataopsservice", ServiceCreate)):
        schema = reference["schemas"][reference["operations"][op_id]["request_schema"]["ref"]]
        documented = {f["name"] for f in schema["fields"] if f["required"]}
        required = {a.name for a in attrs.fields(model) if a.default is attrs.NOTHING}
        assert required == documented | REQUIRED_EXCEPTIONS[op_id], op_id
        assert {f["name"] for f in schema["fields"]} == {a.name for a in attrs.fields(model)}, op_id


def test_the_update_models_have_the_documented_fields(reference: dict[str, Any]) -> None:
    """The update and resource-check request models have exactly the documented schema's fields."""
    for op_id in ("updatedataopsservice", "updatedataopsv1", "getdataopsservicevalidateresourcescreation"):
        schema = reference["schemas"][reference["operations"][op_id]["request_schema"]["ref"]]
        model = REQUEST_MODELS[op_id]
        assert {f["name"] for f in schema["fields"]} == {a.name for a in attrs.fields(model)}, op_id
