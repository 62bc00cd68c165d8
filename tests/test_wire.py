"""The wire converter: every quirk of API.md, read and written, and the errors that name the field path."""

from __future__ import annotations

import datetime as dt
from typing import Any, get_origin

import attrs
import cattrs
import orjson
import pytest

from aiodataops._errors import ResponseShapeError
from aiodataops._models import (
    Account,
    DataOps,
    DataOpsCreate,
    DataOpsSummary,
    DataOpsUpdate,
    DuplicationCheck,
    HostAlias,
    HostAliasEntry,
    HostAliasGroup,
    ImageVersion,
    Page,
    ResourceCheck,
    ResourceCheckRequest,
    Service,
    ServiceCreate,
    ServiceSummary,
    ServiceUpdate,
    ServiceWorkload,
    SubVersions,
    Workload,
)
from aiodataops._wire import converter, dumps, format_datetime, loads, parse_datetime, structure, unstructure

SID = "DOPS_SERVICE-2a9be312-5d4b-4bc8-b2ae-35100fa9241f"

# The "Response 202" example of seeds/update-data-ops-service.txt, verbatim but for indentation.
SEED_202_BODY = """
{
  "account": {"account_id": "", "account_password": ""},
  "cluster_id": "",
  "cluster_name": "",
  "cluster_permission": {},
  "cluster_request_failed": false,
  "created_dt": "2026-02-11T06:41:30.347Z",
  "data_ops_id": "",
  "data_ops_name": "",
  "data_ops_service_id": "",
  "data_ops_service_name": "",
  "description": "",
  "domain": "",
  "host_alias": {"enabled": "true", "host_alias_list": [{"hostname": "", "ip": ""}]},
  "hosts_file": "",
  "http_port": "",
  "https_port": "",
  "image_id": "",
  "ingress_class_name": "",
  "instance_id": "",
  "modified_dt": "2026-02-11T06:41:30.395Z",
  "namespace_name": "",
  "node_selector": "",
  "service_workload": "",
  "state": "",
  "storage_class_name": "",
  "version": "",
  "web_url": ""
}
"""

# The "Request body" example of the same page.
SEED_REQUEST_BODY = """
{
  "description": "",
  "domain": "",
  "host_alias": {"enabled": "true", "host_alias_list": [{"hostname": "", "ip": ""}]},
  "node_selector": "",
  "service_workload": {
    "scheduler": {"cpu": "", "memory": "", "replica": "", "version": ""},
    "web_server": {"cpu": "", "memory": "", "replica": "", "version": ""},
    "worker": {"cpu": "", "memory": "", "replica": "", "version": ""}
  },
  "worker_type": ""
}
"""

WORKLOAD = {"cpu": "2", "memory": "4", "replica": "1", "version": "2.7.3"}
SERVICE_WORKLOAD = {"scheduler": WORKLOAD, "web_server": WORKLOAD, "worker": WORKLOAD}


def _shape_error(data: Any, cls: Any) -> ResponseShapeError:
    with pytest.raises(ResponseShapeError) as info:
        structure(data, cls)
    return info.value


def _service(**fields: Any) -> dict[str, Any]:
    return {"data_ops_service_id": SID, **fields}


# -- the seed page's examples ---------------------------------------------------------------------------------


def test_seed_202_body_parses_into_service() -> None:
    """The 202 example body of the official page parses into a `Service` with every quirk read right."""
    service = structure(loads(SEED_202_BODY), Service)
    assert service.id == ""
    assert service.service_workload is None
    assert service.host_alias == HostAlias(enabled=True, host_alias_list=(HostAliasEntry(hostname="", ip=""),))
    assert service.cluster_request_failed is False
    assert service.cluster_permission == {}
    assert service.created_dt == dt.datetime(2026, 2, 11, 6, 41, 30, 347000, tzinfo=dt.UTC)
    assert service.modified_dt == dt.datetime(2026, 2, 11, 6, 41, 30, 395000, tzinfo=dt.UTC)
    assert service.account == Account(account_id="", account_password="")
    assert service.http_port is None  # "" for a number means "not set"
    assert service.extra == {}


def test_seed_202_body_written_back_keeps_the_wire_forms() -> None:
    """Writing the parsed 202 body sends `enabled` as `"true"`, datetimes as sent, and drops the unset workload."""
    data = unstructure(structure(loads(SEED_202_BODY), Service))
    expected = loads(SEED_202_BODY)
    del expected["service_workload"]  # "" was read as "no workload", and None is never sent
    del expected["http_port"], expected["https_port"]  # "" for a number is "not set" too
    assert data == expected


def test_seed_request_body_round_trips_exactly() -> None:
    """The request example of the official page parses into `ServiceUpdate` and is written back unchanged."""
    update = structure(loads(SEED_REQUEST_BODY), ServiceUpdate)
    assert update.host_alias is not None
    assert update.host_alias.enabled is True
    assert unstructure(update) == loads(SEED_REQUEST_BODY)


# -- host_alias.enabled ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("enabled", "wire"), [(True, "true"), (False, "false")])
def test_host_alias_enabled_is_written_as_a_string(enabled: bool, wire: str) -> None:
    """`HostAlias.enabled` goes out as the string `"true"`/`"false"`, never a JSON bool."""
    update = ServiceUpdate(host_alias=HostAlias(enabled=enabled))
    assert unstructure(update) == {"host_alias": {"enabled": wire, "host_alias_list": []}}
    assert orjson.loads(dumps(update))["host_alias"]["enabled"] == wire


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("FALSE", False),
        ("True", True),
        ("False", False),
        ("fAlSe", False),
    ],
)
def test_host_alias_enabled_is_read_from_bool_or_string(wire: Any, expected: bool) -> None:
    """`enabled` is read from a JSON bool or either string in any case, and `"false"` is always False."""
    service = structure(_service(host_alias={"enabled": wire, "host_alias_list": []}), Service)
    assert service.host_alias is not None
    assert service.host_alias.enabled is expected


@pytest.mark.parametrize("wire", [1, 0, None, "yes", "no", "", "1", "0", "t", "f", "on", [], {}, 1.0])
def test_host_alias_enabled_rejects_other_values(wire: Any) -> None:
    """Any other `enabled` value is a `ResponseShapeError` naming `$.host_alias.enabled`, never a truthiness guess."""
    error = _shape_error(_service(host_alias={"enabled": wire}), Service)
    assert error.path == "$.host_alias.enabled"
    assert "boolean" in error.problem


def test_host_alias_enabled_is_required() -> None:
    """A `host_alias` without `enabled` is an error naming that field."""
    error = _shape_error(_service(host_alias={"host_alias_list": []}), Service)
    assert error.path == "$.host_alias.enabled"
    assert "missing" in error.problem


# -- service_workload -----------------------------------------------------------------------------------------


def test_service_workload_read_from_object() -> None:
    """`service_workload` given as an object is read into a `ServiceWorkload` of string values."""
    service = structure(_service(service_workload=SERVICE_WORKLOAD), Service)
    assert service.service_workload == ServiceWorkload(
        scheduler=Workload(**WORKLOAD), web_server=Workload(**WORKLOAD), worker=Workload(**WORKLOAD)
    )


@pytest.mark.parametrize("wire", ["", None])
def test_service_workload_empty_string_or_null_is_none(wire: Any) -> None:
    """`service_workload` given as `""` (as in the official example) or null reads as "no workload"."""
    assert structure(_service(service_workload=wire), Service).service_workload is None


def test_service_workload_read_from_json_string() -> None:
    """`service_workload` given as a string holding JSON reads exactly like the object itself."""
    as_string = structure(_service(service_workload=orjson.dumps(SERVICE_WORKLOAD).decode()), Service)
    as_object = structure(_service(service_workload=SERVICE_WORKLOAD), Service)
    assert as_string.service_workload is not None
    assert as_string.service_workload == as_object.service_workload


def test_service_workload_is_written_as_an_object() -> None:
    """A service's workload read from a JSON string is written back as an object, not a string."""
    service = structure(_service(service_workload=orjson.dumps({"worker": WORKLOAD}).decode()), Service)
    assert unstructure(service)["service_workload"] == {"worker": WORKLOAD}


@pytest.mark.parametrize("wire", ['{"worker": ', "not json", "{'worker': {}}", " "])
def test_service_workload_bad_json_string_is_a_clear_error(wire: str) -> None:
    """A string that is not JSON is an error naming `$.service_workload` and saying a JSON string was expected."""
    error = _shape_error(_service(service_workload=wire), Service)
    assert error.path == "$.service_workload"
    assert "JSON" in error.problem
    assert "$.service_workload" in str(error)


@pytest.mark.parametrize("wire", ["[1, 2]", '"text"', "5", "null", 5, [SERVICE_WORKLOAD], True])
def test_service_workload_non_object_is_an_error(wire: Any) -> None:
    """A workload that is (or whose JSON string holds) something other than an object is an error at its path."""
    error = _shape_error(_service(service_workload=wire), Service)
    assert error.path == "$.service_workload"
    assert "object" in error.problem


@pytest.mark.parametrize("as_json_string", [False, True], ids=["object", "json-string"])
@pytest.mark.parametrize("value", [2, 2.5, True, ["2"], {"v": "2"}])
def test_workload_values_must_be_strings(value: Any, *, as_json_string: bool) -> None:
    """A non-string workload value is an error naming `$.service_workload.worker.cpu`, not silently `str()`-ed."""
    workload: Any = {"worker": {**WORKLOAD, "cpu": value}}
    if as_json_string:
        workload = orjson.dumps(workload).decode()
    error = _shape_error(_service(service_workload=workload), Service)
    assert error.path == "$.service_workload.worker.cpu"
    assert "expected a string" in error.problem


@pytest.mark.parametrize("field", ["memory", "replica", "version"])
def test_every_workload_value_is_strict(field: str) -> None:
    """`memory`, `replica` and `version` are strings on the wire too: an integer is refused at its path."""
    error = _shape_error(_service(service_workload={"scheduler": {field: 1}}), Service)
    assert error.path == f"$.service_workload.scheduler.{field}"


def test_workload_in_a_request_is_strict_too() -> None:
    """A request body whose workload holds an integer is refused (the emulator relies on it to answer 400)."""
    error = _shape_error({"service_workload": {"worker": {"replica": 3}}}, ServiceUpdate)
    assert error.path == "$.service_workload.worker.replica"


# -- datetimes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (dt.datetime(2026, 2, 11, 6, 41, 30, 347000, tzinfo=dt.UTC), "2026-02-11T06:41:30.347Z"),
        (dt.datetime(2026, 2, 11, 6, 41, 30, tzinfo=dt.UTC), "2026-02-11T06:41:30.000Z"),
        (dt.datetime(2026, 2, 11, 6, 41, 30, 347999, tzinfo=dt.UTC), "2026-02-11T06:41:30.347Z"),
        (
            dt.datetime(2026, 2, 11, 15, 41, 30, 347000, tzinfo=dt.timezone(dt.timedelta(hours=9))),
            "2026-02-11T06:41:30.347Z",
        ),
    ],
    ids=["ms", "whole-second", "truncated-us", "offset-to-utc"],
)
def test_datetimes_are_written_in_utc_with_milliseconds_and_z(value: dt.datetime, wire: str) -> None:
    """Datetimes go out as ISO 8601 in UTC with exactly three fraction digits and a `Z`."""
    assert format_datetime(value) == wire
    assert unstructure(ServiceSummary(data_ops_service_id=SID, created_dt=value))["created_dt"] == wire


def test_naive_datetime_is_not_written() -> None:
    """A datetime without a zone cannot be sent: it is not an absolute time."""
    with pytest.raises(ValueError, match="time zone"):
        format_datetime(dt.datetime(2026, 2, 11, 6, 41, 30))  # noqa: DTZ001 -- the naive datetime is the point


@pytest.mark.parametrize(
    "wire",
    [
        "2026-02-11T06:41:30.347Z",
        "2026-02-11T06:41:30.347+00:00",
        "2026-02-11T15:41:30.347+09:00",
        "2026-02-10T20:41:30.347-10:00",
    ],
)
def test_datetimes_are_read_with_z_or_an_offset(wire: str) -> None:
    """A datetime with `Z` or any offset is read as the same instant."""
    expected = dt.datetime(2026, 2, 11, 6, 41, 30, 347000, tzinfo=dt.UTC)
    assert parse_datetime(wire) == expected
    assert structure(_service(modified_dt=wire), Service).modified_dt == expected


def test_datetime_round_trips_as_text() -> None:
    """A wire datetime read and written again is the same text."""
    wire = "2026-02-11T06:41:30.395Z"
    service = structure(_service(modified_dt=wire), Service)
    assert unstructure(service)["modified_dt"] == wire


def test_naive_datetime_is_read_as_utc() -> None:
    """A datetime without `Z` or an offset is UTC, as SCP's Go SDK reads it."""
    service = structure(_service(created_dt="2026-02-11T06:41:30.347"), Service)
    assert service.created_dt == dt.datetime(2026, 2, 11, 6, 41, 30, 347000, tzinfo=dt.UTC)


def test_blank_datetime_is_not_set() -> None:
    """`""` for a datetime, as the documented examples write placeholders, reads as "not set"."""
    assert structure(_service(created_dt="", modified_dt=""), Service).created_dt is None


@pytest.mark.parametrize("wire", ["yesterday", "2026-13-01T00:00:00Z", 1770792090347, True])
def test_non_datetime_is_refused_on_read(wire: Any) -> None:
    """Something that is not an ISO 8601 string (an epoch number, a word, a bad month) is an error at its path."""
    error = _shape_error({"data_ops_service_id": SID, "modified_dt": wire}, ServiceSummary)
    assert error.path == "$.modified_dt"
    assert "datetime" in error.problem


# -- unknown fields -------------------------------------------------------------------------------------------

RESPONSE_MINIMA: list[tuple[Any, dict[str, Any]]] = [
    (Service, {"data_ops_service_id": SID}),
    (ServiceSummary, {"data_ops_service_id": SID}),
    (DataOps, {"data_ops_id": "DOPS-1"}),
    (DataOpsSummary, {"data_ops_id": "DOPS-1"}),
    (Page[ServiceSummary], {"contents": [], "total_count": 0}),
    (DuplicationCheck, {"result": False}),
    (ImageVersion, {"image_id": "img-1"}),
    (SubVersions, {"data_ops_service_count": 0, "versions": {"scheduler": "2.9.3"}}),
    (ResourceCheck, {"result": True}),
]


@pytest.mark.parametrize(("cls", "minimum"), RESPONSE_MINIMA, ids=lambda v: getattr(v, "__name__", ""))
def test_unknown_response_fields_are_kept_and_never_sent_back(cls: Any, minimum: dict[str, Any]) -> None:
    """A field the server added is kept in `.extra`, and writing the model back never includes it."""
    data = {**minimum, "added_later": {"nested": [1, "two"]}, "another": None}
    model = structure(data, cls)
    assert model.extra == {"added_later": {"nested": [1, "two"]}, "another": None}
    written = unstructure(model)
    assert "added_later" not in written
    assert "another" not in written
    assert "extra" not in written
    assert set(written) <= {a.name for a in attrs.fields(get_origin(cls) or cls)}


def test_unknown_fields_in_nested_parts_are_kept() -> None:
    """A field the server adds inside a nested part (workload, host alias, account) is kept there, not an error."""
    data = _service(
        service_workload={"worker": {**WORKLOAD, "gpu": "1"}, "triggerer": WORKLOAD},
        host_alias={"enabled": "true", "host_alias_list": [{"hostname": "h", "ip": "10.0.0.1", "comment": "c"}]},
        account={"account_id": "admin", "account_password": "pw", "expires": "never"},
    )
    service = structure(data, Service)
    assert service.service_workload is not None
    assert service.service_workload.extra == {"triggerer": WORKLOAD}
    assert service.service_workload.worker is not None
    assert service.service_workload.worker.extra == {"gpu": "1"}
    assert service.host_alias is not None
    assert service.host_alias.host_alias_list[0].extra == {"comment": "c"}
    assert service.account is not None
    assert service.account.extra == {"expires": "never"}
    text = dumps(service).decode()
    for added in ("gpu", "triggerer", "comment", "expires"):
        assert added not in text


def test_extra_does_not_affect_equality() -> None:
    """Two models that differ only in unknown fields compare equal (`extra` has `eq=False`)."""
    one = structure(_service(state="RUNNING", new="a"), Service)
    other = structure(_service(state="RUNNING", new="b"), Service)
    assert one == other
    assert hash(one) == hash(other)


def test_a_server_field_named_extra_is_kept_in_extra() -> None:
    """A response field literally called `extra` is kept like any other unknown field and not sent back."""
    service = structure(_service(extra={"x": 1}), Service)
    assert service.extra == {"extra": {"x": 1}}
    assert "extra" not in unstructure(service)


REQUEST_MINIMA: list[tuple[Any, dict[str, Any]]] = [
    (ServiceUpdate, {}),
    (
        ServiceCreate,
        {
            "data_ops_id": "DOPS-1",
            "data_ops_service_name": "etl-one",
            "domain": "etl.example.com",
            "host_alias": {"enabled": "false", "host_alias_list": []},
            "service_workload": SERVICE_WORKLOAD,
            "storage_class_name": "nfs",
            "worker_type": "CeleryExecutor",
        },
    ),
    (
        DataOpsCreate,
        {
            "cluster_id": "0" * 32,
            "data_ops_name": "prod",
            "domain": "d",
            "host_alias_list": [],
            "image_id": "img",
            "ingress_controller_name": "nginx",
            "storage_class_name": "nfs",
        },
    ),
    (DataOpsUpdate, {}),
    (ResourceCheckRequest, {"service_workload": SERVICE_WORKLOAD}),
]


@pytest.mark.parametrize(("cls", "minimum"), REQUEST_MINIMA, ids=lambda v: getattr(v, "__name__", ""))
def test_request_models_reject_unknown_keys(cls: Any, minimum: dict[str, Any]) -> None:
    """A request body with a key the model does not know is refused, naming the key."""
    structure(minimum, cls)  # the minimum itself is fine
    error = _shape_error({**minimum, "bogus_field": 1}, cls)
    assert error.path == "$"
    assert "bogus_field" in error.problem


@pytest.mark.parametrize(
    ("body", "path", "key"),
    [
        ({"service_workload": {"worker": {"cpu": "1", "gpu": "1"}}}, "$.service_workload.worker", "gpu"),
        ({"service_workload": {"triggerer": WORKLOAD}}, "$.service_workload", "triggerer"),
        (
            {
                "host_alias": {
                    "enabled": "true",
                    "host_alias_list": [{"hostname": "a", "ip": "b"}, {"hostname": "a", "ip": "b", "x": 1}],
                }
            },
            "$.host_alias.host_alias_list[1]",
            "x",
        ),
        ({"host_alias": {"enabled": "true", "extra_flag": True}}, "$.host_alias", "extra_flag"),
    ],
)
def test_request_models_reject_unknown_nested_keys(body: dict[str, Any], path: str, key: str) -> None:
    """An unknown key inside a nested part of a request is refused too, at the part's path."""
    error = _shape_error(body, ServiceUpdate)
    assert error.path == path
    assert key in error.problem


def test_nested_unknown_keys_rejected_in_create_requests() -> None:
    """Creating with an unknown account or tag key is refused at its path (the account may hold a password)."""
    minimum = dict(REQUEST_MINIMA[1][1])
    error = _shape_error({**minimum, "tags": [{"tag_key": "k", "colour": "red"}]}, ServiceCreate)
    assert error.path == "$.tags[0]"
    error = _shape_error({**minimum, "account": {"account_id": "a", "pass": "p"}}, ServiceCreate)
    assert error.path == "$.account"


# -- only what is set is sent -----------------------------------------------------------------------------------


def test_empty_update_sends_nothing() -> None:
    """An update with nothing set sends the empty object."""
    assert unstructure(ServiceUpdate()) == {}
    assert dumps(ServiceUpdate()) == b"{}"


def test_update_with_empty_description_sends_exactly_that() -> None:
    """`ServiceUpdate(description="")` sends exactly `{"description": ""}`: empty is a value, None is "unset"."""
    assert unstructure(ServiceUpdate(description="")) == {"description": ""}
    assert dumps(ServiceUpdate(description="")) == b'{"description":""}'


def test_update_sends_only_the_nested_fields_set() -> None:
    """Unset fields are left out at every depth, so changing one workload value sends only that value."""
    update = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(replica="3")))
    assert unstructure(update) == {"service_workload": {"worker": {"replica": "3"}}}


def test_data_ops_update_sends_only_the_fields_set() -> None:
    """`DataOpsUpdate` follows the same rule: only the fields set are sent."""
    update = DataOpsUpdate(host_alias_list=(HostAliasGroup(hostnames=("a", "b"), ip="10.0.0.1"),))
    assert unstructure(update) == {"host_alias_list": [{"hostnames": ["a", "b"], "ip": "10.0.0.1"}]}


def test_unstructure_gives_plain_json_data() -> None:
    """`unstructure` gives lists, not tuples, so its output equals the same JSON read back."""
    page = Page(contents=(ServiceSummary(data_ops_service_id=SID),), total_count=1)
    data = unstructure(page)
    assert data == {"contents": [{"data_ops_service_id": SID}], "total_count": 1}
    assert type(data["contents"]) is list


# -- strict scalars and sequences ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "data", "path"),
    [
        (
            DataOps,
            {"data_ops_id": "D", "host_alias_list": [{"hostnames": "abc", "ip": "1"}]},
            "$.host_alias_list[0].hostnames",
        ),
        (Page[ServiceSummary], {"contents": "abc", "total_count": 3}, "$.contents"),
    ],
)
def test_a_string_is_not_a_tuple(cls: Any, data: dict[str, Any], path: str) -> None:
    """A string (or object) where a list belongs is an error, never a tuple of characters."""
    error = _shape_error(data, cls)
    assert error.path == path
    assert "expected a list" in error.problem


def test_lists_become_tuples() -> None:
    """A JSON list is read into a tuple, keeping its order."""
    group = structure({"data_ops_id": "D", "host_alias_list": [{"hostnames": ["b", "a"], "ip": "1"}]}, DataOps)
    assert group.host_alias_list is not None
    assert group.host_alias_list[0].hostnames == ("b", "a")


@pytest.mark.parametrize("wire", [True, False])
def test_a_bool_is_not_an_int(wire: bool) -> None:
    """`true`/`false` where an integer belongs is an error, though bool subclasses int in Python."""
    error = _shape_error({"contents": [], "total_count": wire}, Page[ServiceSummary])
    assert error.path == "$.total_count"
    assert "integer" in error.problem


@pytest.mark.parametrize("wire", [1, 0, 1.0])
def test_an_int_is_not_a_bool(wire: Any) -> None:
    """`1`/`0` where a boolean belongs is an error, not truthiness."""
    error = _shape_error({"result": wire}, DuplicationCheck)
    assert error.path == "$.result"


@pytest.mark.parametrize("wire", [1.7, 2.0, "3.5", "many", [3]])
def test_an_int_field_takes_only_whole_numbers(wire: Any) -> None:
    """A float or a non-numeric string where a count belongs is an error, never rounded."""
    error = _shape_error({"data_ops_service_count": wire}, SubVersions)
    assert error.path == "$.data_ops_service_count"


@pytest.mark.parametrize(("wire", "expected"), [(3, 3), ("3", 3), ("", None), (None, None)])
def test_a_count_is_read_from_a_number_or_a_string_of_digits(wire: Any, expected: int | None) -> None:
    """Counts are read from an integer or a string of digits; `""` (the examples' placeholder) is "not set"."""
    assert structure({"data_ops_service_count": wire}, SubVersions).data_ops_service_count == expected
    assert structure({"contents": [], "total_count": wire}, Page[ServiceSummary]).total_count == expected


@pytest.mark.parametrize("wire", [5, 5.0, True, ["RUNNING"], {"name": "RUNNING"}])
def test_a_string_field_takes_only_strings(wire: Any) -> None:
    """A number, bool, list or object where a string belongs is an error, never `str()`-ed."""
    error = _shape_error(_service(state=wire), Service)
    assert error.path == "$.state"
    assert "expected a string" in error.problem


@pytest.mark.parametrize("wire", [True, "false", "FALSE"])
def test_other_booleans_read_either_form(wire: Any) -> None:
    """Other booleans (`cluster_request_failed`) are read from a JSON bool or a `"true"`/`"false"` string."""
    assert structure(_service(cluster_request_failed=wire), Service).cluster_request_failed is (wire is True)


# -- ports ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("wire", "expected"), [(8080, "8080"), ("8080", "8080"), ("", None), (None, None)])
def test_http_port_is_read_from_int_or_string(wire: Any, expected: str | None) -> None:
    """`http_port`/`https_port` are read from an integer or a string (their type is not known) into a string."""
    service = structure(_service(http_port=wire, https_port=wire), Service)
    assert service.http_port == expected
    assert service.https_port == expected


@pytest.mark.parametrize("wire", [True, 80.5, [80], {"port": 80}])
def test_http_port_rejects_other_values(wire: Any) -> None:
    """A port that is neither a string nor an integer is an error naming the field."""
    error = _shape_error(_service(http_port=wire), Service)
    assert error.path == "$.http_port"
    assert "port" in error.problem


def test_http_port_is_written_as_a_string() -> None:
    """A port read from an integer is written back as a string."""
    assert unstructure(structure(_service(https_port=443), Service))["https_port"] == "443"


# -- error paths and messages ---------------------------------------------------------------------------------


def test_error_path_into_a_list_item() -> None:
    """A bad field of the fourth list item is reported at `$.contents[3].state`."""
    items: list[dict[str, Any]] = [{"data_ops_service_id": f"S-{i}", "state": "RUNNING"} for i in range(5)]
    items[3]["state"] = 7
    error = _shape_error({"contents": items, "total_count": 5}, Page[ServiceSummary])
    assert error.path == "$.contents[3].state"
    assert error.problem == "expected a string, got int 7"
    assert str(error) == "field $.contents[3].state: expected a string, got int 7"


def test_error_path_for_a_missing_field_in_a_list_item() -> None:
    """A list item missing a required field is reported at that field's path as missing."""
    items = [{"data_ops_id": "D-0"}, {"state": "RUNNING"}]
    error = _shape_error({"contents": items, "total_count": 2}, Page[DataOpsSummary])
    assert error.path == "$.contents[1].data_ops_id"
    assert error.problem == "required field is missing"


def test_error_path_for_a_list_item_that_is_not_an_object() -> None:
    """A list item that is not an object is reported at the item's own path."""
    error = _shape_error({"contents": [{"image_id": "i"}, "img"], "total_count": 2}, Page[ImageVersion])
    assert error.path == "$.contents[1]"
    assert "expected an object" in error.problem


def test_error_path_deep_in_a_data_ops_host_alias_list() -> None:
    """A bad value two lists deep is reported with both indexes."""
    data = {
        "data_ops_id": "D",
        "host_alias_list": [{"hostnames": ["a"], "ip": "1"}, {"hostnames": ["b", 2], "ip": "2"}],
    }
    error = _shape_error(data, DataOps)
    assert error.path == "$.host_alias_list[1].hostnames[1]"


@pytest.mark.parametrize("wire", [None, [], "text", 3])
def test_a_body_that_is_not_an_object(wire: Any) -> None:
    """A body that is not an object at all is reported at `$`."""
    error = _shape_error(wire, Service)
    assert error.path == "$"
    assert "expected an object" in error.problem


def test_several_problems_report_the_first_and_count_the_rest() -> None:
    """With several misfits, the error names one path and says how many more there are."""
    error = _shape_error(_service(state=1, version=2, web_url=3), Service)
    assert error.path.startswith("$.")
    assert "(and 2 more)" in error.problem


def test_shape_error_keeps_the_raw_body_with_password_masked() -> None:
    """The error keeps the raw body for debugging, with `account_password` masked."""
    raw = b'{"data_ops_service_id": 5, "account": {"account_id": "a", "account_password": "hunter2-secret"}}'
    with pytest.raises(ResponseShapeError) as info:
        structure(loads(raw), Service, raw=raw)
    assert info.value.path == "$.data_ops_service_id"
    assert '"account_id": "a"' in info.value.body
    assert "hunter2-secret" not in info.value.body


@pytest.mark.parametrize("wire", [123456, 1.5, ["pw"], {"pw": "x"}, True])
def test_bad_password_error_never_shows_the_value(wire: Any) -> None:
    """A misfit `account_password` is an error naming its path and type, never its value."""
    error = _shape_error(_service(account={"account_id": "a", "account_password": wire}), Service)
    assert error.path == "$.account.account_password"
    assert repr(wire) not in str(error)
    assert str(wire) not in str(error)


def test_password_never_in_a_repr() -> None:
    """`account_password` is read and kept, but no repr of the account or the service shows it."""
    service = structure(_service(account={"account_id": "admin", "account_password": "hunter2-secret"}), Service)
    assert service.account is not None
    assert service.account.account_password == "hunter2-secret"
    assert "hunter2-secret" not in repr(service)
    assert "hunter2-secret" not in repr(service.account)


def test_loads_refuses_text_that_is_not_json() -> None:
    """`loads` of something that is not JSON raises `ResponseShapeError` keeping the text."""
    with pytest.raises(ResponseShapeError) as info:
        loads(b"upstream connect error or disconnect/reset before headers")
    assert info.value.path == "$"
    assert "not valid JSON" in info.value.problem
    assert "upstream connect error" in info.value.body


# -- models as values -------------------------------------------------------------------------------------------


def test_service_with_cluster_permission_is_hashable() -> None:
    """A frozen `Service` is hashable even when it holds the `cluster_permission` object."""
    one = structure(_service(cluster_permission={"role": "admin"}), Service)
    other = structure(_service(cluster_permission={"role": "admin"}), Service)
    assert one == other
    assert hash(one) == hash(other)
    assert one != structure(_service(cluster_permission={"role": "viewer"}), Service)


def test_structure_does_not_share_the_callers_dicts() -> None:
    """Changing the parsed JSON after structuring never changes the (frozen) model."""
    data = _service(cluster_permission={"role": "admin"}, new_field=1)
    service = structure(data, Service)
    data["cluster_permission"]["role"] = "changed"
    data["new_field"] = 2
    assert service.cluster_permission == {"role": "admin"}
    assert service.extra == {"new_field": 1}


def test_nested_unknown_request_key_is_a_cattrs_forbidden_keys_error() -> None:
    """Calling the converter directly, a nested unknown request key is cattrs' own error at the nested path."""
    body = {"service_workload": {"worker": {"cpu": "1", "gpu": "1"}}}
    with pytest.raises(cattrs.ClassValidationError) as info:
        converter.structure(body, ServiceUpdate)
    found: list[tuple[str, cattrs.ForbiddenExtraKeysError]] = []

    def walk(exc: BaseException, path: str) -> None:
        if isinstance(exc, cattrs.ClassValidationError):
            with_notes, without = exc.group_exceptions()
            for sub, note in with_notes:
                walk(sub, f"{path}.{note.name}")
            for sub in without:
                walk(sub, path)
        elif isinstance(exc, cattrs.ForbiddenExtraKeysError):
            found.append((path, exc))

    walk(info.value, "$")
    assert [(path, exc.extra_fields) for path, exc in found] == [("$.service_workload.worker", {"gpu"})]


# -- the one walker of cattrs errors --------------------------------------------------------------------------


def test_iter_problems_yields_every_leaf_with_its_path() -> None:
    """The walker the plan checker and the emulator share yields each leaf error with the steps leading to it."""
    from aiodataops._wire import WireValueError, format_path, iter_problems  # noqa: PLC0415 -- the API under test

    bad = {"service_workload": {"worker": {"cpu": 4}}, "host_alias": {"enabled": "yes"}, "nope": 1}
    with pytest.raises(cattrs.BaseValidationError) as caught:
        converter.structure(bad, ServiceUpdate)
    leaves = {format_path(steps): leaf for steps, leaf in iter_problems(caught.value)}
    cpu = leaves["$.service_workload.worker.cpu"]
    assert isinstance(cpu, WireValueError)
    assert (cpu.expected, cpu.got) == ("string", int)
    assert "$.host_alias.enabled" in leaves
    assert any(isinstance(leaf, cattrs.ForbiddenExtraKeysError) for leaf in leaves.values())
    assert format_path(("contents", 3, "state")) == "$.contents[3].state"
