"""Hypothesis properties of the models and the wire converter: round trips for every model, and robustness.

The strategies are explicit rather than ``st.builds`` inference: ``_models.py`` uses ``from __future__ import
annotations``, and the datetimes must be generated with millisecond precision in UTC to survive the wire format.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any, get_origin

import attrs
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aiodataops import _models
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
    SubVersionSet,
    Tag,
    Workload,
)
from aiodataops._wire import dumps, format_datetime, loads, parse_datetime, structure, unstructure

# deadline=None: cattrs compiles a class's hooks on its first use, so the first example of each test is slow for
# reasons that are not the behaviour under test; speed is measured in benchmarks/, not here.
PROPERTY = settings(max_examples=60, deadline=None)

# -- strategies -----------------------------------------------------------------------------------------------

text = st.text()
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def tuples(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(strategy, max_size=3).map(tuple)


#: The fields each model strategy sets, checked against the model by a test below.
GENERATED_FIELDS: dict[type, set[str]] = {}


def model(cls: type, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`st.builds` with every field given explicitly (no inference from the string annotations)."""
    GENERATED_FIELDS[cls] = set(fields)
    return st.builds(cls, **fields)


#: Millisecond precision in UTC: the only datetimes the wire format can carry without loss.
utc_ms_datetimes = st.datetimes(timezones=st.just(dt.UTC)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)

json_scalars = st.none() | st.booleans() | int64 | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(text, json_values, max_size=4)

workloads = model(Workload, cpu=opt(text), memory=opt(text), replica=opt(text), version=opt(text))
service_workloads = model(
    ServiceWorkload,
    scheduler=opt(workloads),
    web_server=opt(workloads),
    worker=opt(workloads),
    dag_processor=opt(workloads),
)
#: A port as a response may carry it; "" is read as "not set", so it cannot round-trip.
ports = opt(text.filter(bool))
host_alias_entries = model(HostAliasEntry, hostname=text, ip=text)
host_aliases = model(HostAlias, enabled=st.booleans(), host_alias_list=tuples(host_alias_entries))
host_alias_groups = model(HostAliasGroup, hostnames=tuples(text), ip=text)
accounts = model(Account, account_id=opt(text), account_password=opt(text))
tags = model(Tag, tag_key=text, tag_value=text)

service_updates = model(
    ServiceUpdate,
    description=opt(text),
    domain=opt(text),
    host_alias=opt(host_aliases),
    node_selector=opt(text),
    service_workload=opt(service_workloads),
    worker_type=opt(text),
)
service_creates = model(
    ServiceCreate,
    data_ops_id=text,
    data_ops_service_name=text,
    domain=text,
    host_alias=host_aliases,
    service_workload=service_workloads,
    storage_class_name=text,
    worker_type=text,
    account=opt(accounts),
    description=opt(text),
    node_selector=opt(text),
    tags=opt(tuples(tags)),
)
services = model(
    Service,
    data_ops_service_id=text,
    state=opt(text),
    account=opt(accounts),
    account_id=opt(text),
    cluster_id=opt(text),
    cluster_name=opt(text),
    cluster_permission=opt(json_objects),
    cluster_request_failed=opt(st.booleans()),
    created_dt=opt(utc_ms_datetimes),
    modified_dt=opt(utc_ms_datetimes),
    data_ops_id=opt(text),
    data_ops_name=opt(text),
    data_ops_service_name=opt(text),
    description=opt(text),
    domain=opt(text),
    host_alias=opt(host_aliases),
    hosts_file=opt(text),
    http_port=ports,
    https_port=ports,
    image_id=opt(text),
    ingress_class_name=opt(text),
    instance_id=opt(text),
    is_active_image=opt(st.booleans()),
    namespace_name=opt(text),
    node_selector=opt(text),
    service_workload=opt(service_workloads),
    storage_class_name=opt(text),
    version=opt(text),
    web_url=opt(text),
    worker_type=opt(text),
)
service_summaries = model(
    ServiceSummary,
    data_ops_service_id=text,
    state=opt(text),
    account_id=opt(text),
    cluster_id=opt(text),
    cluster_name=opt(text),
    cluster_permission=opt(json_objects),
    cluster_request_failed=opt(st.booleans()),
    created_by=opt(text),
    created_dt=opt(utc_ms_datetimes),
    data_ops_id=opt(text),
    data_ops_name=opt(text),
    data_ops_service_name=opt(text),
    description=opt(text),
    modified_by=opt(text),
    modified_dt=opt(utc_ms_datetimes),
    version=opt(text),
)
data_ops_creates = model(
    DataOpsCreate,
    cluster_id=text,
    data_ops_name=text,
    domain=text,
    host_alias_list=tuples(host_alias_groups),
    image_id=text,
    ingress_controller_name=text,
    storage_class_name=text,
    account=opt(accounts),
    description=opt(text),
    dsc_domain=opt(text),
    instance_id=opt(text),
    node_selector=opt(text),
    tags=opt(tuples(tags)),
)
data_ops_updates = model(
    DataOpsUpdate,
    account=opt(accounts),
    description=opt(text),
    domain=opt(text),
    host_alias_list=opt(tuples(host_alias_groups)),
    node_selector=opt(text),
)
data_ops = model(
    DataOps,
    data_ops_id=text,
    state=opt(text),
    account=opt(accounts),
    account_id=opt(text),
    cluster_id=opt(text),
    cluster_name=opt(text),
    cluster_permission=opt(json_objects),
    cluster_request_failed=opt(st.booleans()),
    created_dt=opt(utc_ms_datetimes),
    modified_dt=opt(utc_ms_datetimes),
    data_ops_name=opt(text),
    description=opt(text),
    domain=opt(text),
    dsc_domain=opt(text),
    host_alias_list=opt(tuples(host_alias_groups)),
    hosts_file=opt(text),
    http_port=ports,
    https_port=ports,
    image_id=opt(text),
    ingress_class_name=opt(text),
    instance_id=opt(text),
    is_active_image=opt(st.booleans()),
    namespace_name=opt(text),
    node_selector=opt(text),
    region=opt(text),
    storage_class_name=opt(text),
    version=opt(text),
    web_url=opt(text),
)
data_ops_summaries = model(
    DataOpsSummary,
    data_ops_id=text,
    state=opt(text),
    account_id=opt(text),
    cluster_id=opt(text),
    cluster_name=opt(text),
    cluster_permission=opt(json_objects),
    cluster_request_failed=opt(st.booleans()),
    created_by=opt(text),
    created_dt=opt(utc_ms_datetimes),
    data_ops_name=opt(text),
    description=opt(text),
    image_id=opt(text),
    instance_id=opt(text),
    is_active_image=opt(st.booleans()),
    modified_by=opt(text),
    modified_dt=opt(utc_ms_datetimes),
    namespace_name=opt(text),
    version=opt(text),
)
image_versions = model(
    ImageVersion, image_id=text, image_name=opt(text), version=opt(text), image_attr=opt(json_objects)
)
sub_version_sets = model(SubVersionSet, scheduler=opt(text), webserver=opt(text), worker=opt(text))


def pages(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Page[Any]]:
    return model(Page, contents=tuples(items), total_count=opt(int64))


#: (type to structure into, strategy for instances): one entry at least for every model of ``_models``.
CASES: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (Workload, workloads),
    (ServiceWorkload, service_workloads),
    (HostAliasEntry, host_alias_entries),
    (HostAlias, host_aliases),
    (HostAliasGroup, host_alias_groups),
    (Account, accounts),
    (Tag, tags),
    (ServiceUpdate, service_updates),
    (ServiceCreate, service_creates),
    (Service, services),
    (ServiceSummary, service_summaries),
    (DataOpsCreate, data_ops_creates),
    (DataOpsUpdate, data_ops_updates),
    (DataOps, data_ops),
    (DataOpsSummary, data_ops_summaries),
    (Page[ServiceSummary], pages(service_summaries)),
    (Page[DataOpsSummary], pages(data_ops_summaries)),
    (Page[ImageVersion], pages(image_versions)),
    (DuplicationCheck, model(DuplicationCheck, result=st.booleans())),
    (ImageVersion, image_versions),
    (SubVersionSet, sub_version_sets),
    (SubVersions, model(SubVersions, data_ops_service_count=opt(int64), versions=opt(sub_version_sets))),
    (ResourceCheckRequest, model(ResourceCheckRequest, service_workload=service_workloads)),
    (
        ResourceCheck,
        model(
            ResourceCheck,
            result=opt(st.booleans()),
            err_code=opt(text),
            cpu=opt(json_values),
            memory=opt(json_values),
        ),
    ),
]


def _name(cls: Any) -> str:
    origin = get_origin(cls)
    return cls.__name__ if origin is None else f"{origin.__name__}[{cls.__args__[0].__name__}]"


CASE_IDS = [_name(cls) for cls, _ in CASES]

RESPONSE_TYPES = [cls for cls, _ in CASES if "extra" in attrs.fields_dict(get_origin(cls) or cls)]
REQUEST_TYPES = [ServiceUpdate, ServiceCreate, DataOpsCreate, DataOpsUpdate, ResourceCheckRequest]


def _fill_extra(value: Any, extra: dict[str, Any]) -> None:
    """Put `extra` into a model and every model part inside it, as a response from a newer server would."""
    if isinstance(value, tuple):
        for item in value:
            _fill_extra(item, extra)
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            if field.name == "extra":
                # Frozen models still allow object.__setattr__, which is how the converter fills `extra` too.
                object.__setattr__(value, "extra", dict(extra))
            else:
                _fill_extra(getattr(value, field.name), extra)


def _is_plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain_json(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


# -- coverage of the strategies themselves --------------------------------------------------------------------


def test_every_model_has_a_round_trip_case() -> None:
    """Every class `_models` exports has a strategy here, so a new model cannot skip the round-trip property."""
    covered = {(get_origin(cls) or cls).__name__ for cls, _ in CASES}
    exported = {name for name in _models.__all__ if attrs.has(getattr(_models, name))}
    assert exported == covered


def test_every_model_field_is_generated() -> None:
    """Each strategy sets every field but `extra`, so a field added to a model must be added to its strategy."""
    for cls, _ in CASES:
        origin = get_origin(cls) or cls
        assert GENERATED_FIELDS[origin] == {a.name for a in attrs.fields(origin) if a.name != "extra"}, origin


# -- round trips ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "strategy"), CASES, ids=CASE_IDS)
@PROPERTY
@given(data=st.data())
def test_round_trip_through_unstructure(cls: Any, strategy: st.SearchStrategy[Any], data: st.DataObject) -> None:
    """For every model, `structure(unstructure(x)) == x`, and the wire data is plain JSON (no tuples, no dates)."""
    instance = data.draw(strategy)
    wire = unstructure(instance)
    assert _is_plain_json(wire)
    assert structure(wire, cls) == instance


@pytest.mark.parametrize(("cls", "strategy"), CASES, ids=CASE_IDS)
@PROPERTY
@given(data=st.data())
def test_round_trip_through_json_bytes(cls: Any, strategy: st.SearchStrategy[Any], data: st.DataObject) -> None:
    """For every model, `structure(loads(dumps(x))) == x`: any unicode text survives the bytes on the wire."""
    instance = data.draw(strategy)
    assert structure(loads(dumps(instance)), cls, raw=dumps(instance)) == instance


@pytest.mark.parametrize(("cls", "strategy"), CASES, ids=CASE_IDS)
@PROPERTY
@given(data=st.data())
def test_unstructure_never_sends_none_or_extra(cls: Any, strategy: st.SearchStrategy[Any], data: st.DataObject) -> None:
    """No written model holds a None field or an `extra` key, at any depth, even when `extra` is filled."""
    instance = data.draw(strategy)
    _fill_extra(instance, data.draw(json_objects))
    wire = unstructure(instance)

    def check(value: Any, model_value: Any) -> None:
        if attrs.has(type(model_value)):
            assert isinstance(value, dict)
            names = {a.name for a in attrs.fields(type(model_value)) if a.name != "extra"}
            assert set(value) <= names
            for key, item in value.items():
                assert item is not None
                check(item, getattr(model_value, key))
        elif isinstance(model_value, tuple):
            for item, model_item in zip(value, model_value, strict=True):
                check(item, model_item)

    check(wire, instance)


@PROPERTY
@given(service=services, added=json_objects)
def test_service_keeps_unknown_fields_on_read(service: Service, added: dict[str, Any]) -> None:
    """A `Service` body with any added fields reads into the same `Service`, with those fields in `.extra`."""
    wire = unstructure(service)
    added = {k: v for k, v in added.items() if k not in attrs.fields_dict(Service)}
    read = structure({**wire, **added}, Service)
    assert read == service
    assert read.extra == added


@PROPERTY
@given(update=service_updates, key=text)
def test_update_rejects_any_unknown_key(update: ServiceUpdate, key: str) -> None:
    """A `ServiceUpdate` body with any key the model does not know is refused, naming that key."""
    if key in attrs.fields_dict(ServiceUpdate):
        return
    with pytest.raises(ResponseShapeError) as info:
        structure({**unstructure(update), key: "x"}, ServiceUpdate)
    assert info.value.path == "$"
    assert key in info.value.problem


@PROPERTY
@given(update=service_updates)
def test_update_sends_exactly_the_fields_set(update: ServiceUpdate) -> None:
    """An update's wire body has exactly the top-level keys whose values are not None."""
    expected = {a.name for a in attrs.fields(ServiceUpdate) if getattr(update, a.name) is not None}
    assert set(unstructure(update)) == expected


# -- scalar quirks ----------------------------------------------------------------------------------------------


@PROPERTY
@given(casing=st.lists(st.booleans(), min_size=5, max_size=5), value=st.sampled_from(["false", "true"]))
def test_enabled_strings_in_any_case(casing: list[bool], value: str) -> None:
    """`"false"` in any casing reads as False and `"true"` in any casing as True; never the other way round."""
    word = "".join(c.upper() if up else c for c, up in zip(value, casing, strict=False))
    read = structure({"enabled": word}, HostAlias)
    assert read.enabled is (value == "true")


@PROPERTY
@given(word=text)
@example(word="N")  # the Y/N spelling reads as a boolean (is_active_image): found by Hypothesis once, pinned
@example(word="yes")
def test_enabled_rejects_every_other_string(word: str) -> None:
    """Any string but `true`/`false`/`Y`/`N` (ignoring case and surrounding space) is an error, not truthiness."""
    if word.strip().lower() in {"true", "false", "y", "n"}:
        return
    with pytest.raises(ResponseShapeError) as info:
        structure({"enabled": word}, HostAlias)
    assert info.value.path == "$.enabled"


@PROPERTY
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1970, 1, 1),  # noqa: DTZ001 -- bounds of a naive strategy; zones are added below
        max_value=dt.datetime(2200, 1, 1),  # noqa: DTZ001 -- bounds of a naive strategy; zones are added below
        timezones=st.builds(
            dt.timezone, st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timedelta(minutes=m))
        ),
    )
)
def test_datetime_with_any_offset_round_trips_to_the_same_instant(moment: dt.datetime) -> None:
    """A datetime in any zone is written as UTC `...sssZ` and read back as the same instant, cut to milliseconds."""
    wire = format_datetime(moment)
    assert wire.endswith("Z")
    assert len(wire) == len("2026-02-11T06:41:30.347Z")
    assert parse_datetime(wire) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@PROPERTY
@given(naive=st.datetimes())
def test_naive_datetimes_are_read_as_utc(naive: dt.datetime) -> None:
    """A datetime string without a zone is read as that time in UTC, whatever its value (as SCP's Go SDK does)."""
    read = structure({"data_ops_service_id": "S", "created_dt": naive.isoformat()}, Service)
    assert read.created_dt == naive.replace(tzinfo=dt.UTC)


@PROPERTY
@given(port=st.integers(min_value=0, max_value=65535) | st.text(alphabet=string.digits, min_size=1, max_size=5))
def test_ports_read_from_int_or_string_are_strings(port: int | str) -> None:
    """`http_port` read from an integer or a non-empty string is always the string form (`""` is "not set")."""
    assert structure({"data_ops_service_id": "S", "http_port": port}, Service).http_port == str(port)


# -- robustness: never anything but a Service or a ResponseShapeError ---------------------------------------------

SERVICE_KEYS = sorted(attrs.fields_dict(Service))


@st.composite
def service_like(draw: st.DrawFn) -> Any:
    """JSON that is near a Service: a real body with some fields replaced by arbitrary JSON, or a JSON string."""
    body: dict[str, Any] = unstructure(draw(services))
    for key in draw(st.lists(st.sampled_from(SERVICE_KEYS), max_size=4)):
        body[key] = draw(json_values | json_values.map(lambda v: orjson.dumps(v).decode()))
    return body


@st.composite
def nested_tweak(draw: st.DrawFn) -> Any:
    """A real Service body with one nested workload or host alias value replaced by arbitrary JSON."""
    body: dict[str, Any] = unstructure(draw(services))
    role = draw(st.sampled_from(["scheduler", "web_server", "worker"]))
    field = draw(st.sampled_from(["cpu", "memory", "replica", "version", "new"]))
    body["service_workload"] = {role: {field: draw(json_values)}}
    body["host_alias"] = {"enabled": draw(json_values), "host_alias_list": draw(json_values)}
    return body


@settings(max_examples=100, deadline=None)
@given(data=json_values | json_objects | service_like() | nested_tweak())
def test_structure_service_raises_only_response_shape_error(data: Any) -> None:
    """For any JSON-like input, `structure(data, Service)` returns a `Service` or raises `ResponseShapeError`."""
    outcome: object
    try:
        outcome = structure(data, Service)
    except ResponseShapeError as error:
        outcome = error
    if isinstance(outcome, ResponseShapeError):
        assert outcome.path.startswith("$")
        assert outcome.problem
    else:
        assert isinstance(outcome, Service)


@pytest.mark.parametrize("cls", RESPONSE_TYPES + REQUEST_TYPES, ids=_name)
@settings(max_examples=40, deadline=None)
@given(data=json_values | json_objects)
def test_structure_any_model_raises_only_response_shape_error(cls: Any, data: Any) -> None:
    """For every model, arbitrary JSON either fits or raises `ResponseShapeError`, never another exception."""
    outcome: object
    try:
        outcome = structure(data, cls)
    except ResponseShapeError as error:
        outcome = error
    if isinstance(outcome, ResponseShapeError):
        assert outcome.path.startswith("$")
    else:
        assert isinstance(outcome, get_origin(cls) or cls)
