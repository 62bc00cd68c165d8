"""Properties of the plan parser: whatever it is given, a ``Plan`` or a ``PlanError`` with a clear message.

tests/fleet/test_plan.py already feeds ``parse_plan`` JSON-like Python data and short text. This suite adds what
reaches it from files: real YAML documents (tags, dates, sets, anchors, non-string keys, flow and block styles),
valid plans damaged by a crash or an editor (cut, a byte changed), arbitrary bytes under both file names, and
valid plans, which must parse the same from YAML and JSON. (The models' round trip is proven in
tests/test_models_properties.py.)
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aiodataops.fleet import Plan, PlanError, load_plan, parse_plan

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_UNCLEAR = re.compile(r"Traceback|cattrs|object at 0x|<class '|Error\(")

_KEYS = st.sampled_from(
    [
        "update", "targets", "select", "data_ops_service_id", "service_workload", "worker", "scheduler", "cpu",
        "memory", "replica", "description", "host_alias", "enabled", "host_alias_list", "hostname", "ip", "state",
        "data_ops_name", "extra", "x",
    ]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from(["DOPS_SERVICE-1", "DOPS_SERVICE-2", "*", "prod-*", "2", "true", "RUNNING", ""])
    | st.dates()
    | st.datetimes(timezones=st.just(dt.UTC))
    | st.binary(max_size=6)
)
#: What a YAML file can hold: nested lists and mappings, keys that are not always strings, sets of scalars.
_YAML_DATA = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_KEYS | st.integers(0, 3) | st.booleans(), children, max_size=4)
        | st.frozensets(st.text(max_size=4), max_size=3).map(set)
    ),
    max_leaves=30,
)


def _workload() -> st.SearchStrategy[dict[str, str]]:
    number = st.integers(1, 16).map(str)
    return st.fixed_dictionaries({}, optional={"cpu": number, "memory": number, "replica": number})


_UPDATE = st.fixed_dictionaries(
    {},
    optional={
        "description": st.text(max_size=12),
        "domain": st.sampled_from(["a.example.com", "b.example.com"]),
        "service_workload": st.fixed_dictionaries({}, optional={"worker": _workload(), "scheduler": _workload()}),
        "host_alias": st.fixed_dictionaries(
            {"enabled": st.booleans() | st.sampled_from(["true", "false"])},
            optional={
                "host_alias_list": st.lists(
                    st.fixed_dictionaries({"hostname": st.just("h"), "ip": st.just("10.0.0.1")}), max_size=2
                )
            },
        ),
    },
)
_SERVICE_IDS = st.integers(0, 10**6).map(lambda n: f"DOPS_SERVICE-{n:08x}")
_SELECT = st.dictionaries(
    st.sampled_from(["data_ops_name", "state", "data_ops_service_name", "version"]),
    st.sampled_from(["prod-*", "RUNNING", "etl-?", "*"]) | st.lists(st.sampled_from(["a*", "b*"]), min_size=1),
    min_size=1,
    max_size=2,
)
_TARGET = (
    _SERVICE_IDS
    | st.fixed_dictionaries({"data_ops_service_id": _SERVICE_IDS}, optional={"update": _UPDATE})
    | st.fixed_dictionaries({"select": _SELECT}, optional={"update": _UPDATE})
)
#: Plans that are usually valid (a random top-level update may set nothing, targets may repeat).
_PLANS = st.fixed_dictionaries({"update": _UPDATE, "targets": st.lists(_TARGET, min_size=1, max_size=5)})


def check(data: Any, path: str | None) -> Plan | None:
    """Parse; a ``PlanError`` must be clear (placed problems, the file named, no Python internals)."""
    try:
        plan = parse_plan(data, path=path)
    except PlanError as error:
        problems, message = error.problems, str(error)
    else:
        assert plan.targets
        assert len(plan.sha256) == 64
        return plan
    assert problems
    assert all(isinstance(place, str) and problem for place, problem in problems)
    assert message.strip()
    if path is not None:
        assert message.startswith(f"{path}: ")
    assert not _UNCLEAR.search(message), message
    return None


@SETTINGS
@given(data=_YAML_DATA | _PLANS, flow=st.sampled_from([None, True, False]))
@example(data={"update": {"update": None, 0: None}}, flow=None)  # keys of two types once broke the sorting of them
def test_any_yaml_document_gives_a_plan_or_a_clear_error(data: Any, flow: bool | None) -> None:
    """Any YAML document (tags, dates, binary, sets, odd keys, either style) parses to a plan or a clear error."""
    text = yaml.dump(data, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    check(text, "plan.yaml")


@SETTINGS
@given(plan=_PLANS, cut=st.floats(0, 1), byte=st.integers(0, 255), as_json=st.booleans())
def test_a_damaged_plan_file_gives_a_plan_or_a_clear_error(plan: Any, cut: float, byte: int, as_json: bool) -> None:
    """A plan file cut short, or with one byte changed, still gives a plan or a clear error, as JSON or YAML."""
    raw = orjson.dumps(plan) if as_json else yaml.safe_dump(plan).encode()
    path = "plan.json" if as_json else "plan.yaml"
    at = int(cut * len(raw))
    check(raw[:at], path)
    changed = raw[:at] + bytes([byte]) + raw[at + 1 :]
    check(changed, path)


@SETTINGS
@given(
    raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    path=st.sampled_from(["plan.yaml", "plan.json", "plan"]),
)
def test_arbitrary_bytes_give_a_plan_or_a_clear_error(raw: bytes, path: str) -> None:
    """Bytes that are not even text, under any file name, give a plan or a clear error."""
    check(raw, path)


@SETTINGS
@given(plan=_PLANS)
def test_a_plan_reads_the_same_from_yaml_and_json(plan: Any) -> None:
    """The same plan written as YAML and as JSON gives the same targets and the same digest, or the same problems."""
    results = []
    for raw, path in ((yaml.safe_dump(plan).encode(), "p.yaml"), (orjson.dumps(plan), "p.json")):
        try:
            parsed = parse_plan(raw, path=path)
        except PlanError as error:
            results.append(("error", error.problems))
        else:
            results.append(("plan", (parsed.targets, parsed.sha256)))
    assert results[0] == results[1]


def test_a_plan_file_round_trips_through_load_plan(tmp_path: Any) -> None:
    """load_plan on a file gives the same plan as parse_plan on its text (the file's name decides the format)."""
    data = {"update": {"description": "a"}, "targets": ["DOPS_SERVICE-1", {"select": {"state": "RUNNING"}}]}
    for name, raw in (("p.json", orjson.dumps(data)), ("p.yml", yaml.safe_dump(data).encode())):
        (tmp_path / name).write_bytes(raw)
        assert load_plan(tmp_path / name).targets == parse_plan(data).targets


@pytest.mark.parametrize("text", ["[" * 2000, "targets: " + "[" * 500 + "]" * 500 + "\nupdate: {description: a}\n"])
def test_a_deeply_nested_document_is_a_plan_error(text: str) -> None:
    """A document nested deeper than any plan needs is a PlanError, not a RecursionError."""
    assert check(text, "plan.yaml") is None


@pytest.mark.parametrize("form", ["json", "data"])
def test_deep_json_or_loaded_data_is_a_plan_error(form: str) -> None:
    """JSON within orjson's depth limit, or loaded data, nested a thousand levels deep is refused as too deep."""
    text = '{"update": {"description": "a"}, "targets": ' + "[" * 1000 + "]" * 1000 + "}"
    data: Any = text if form == "json" else orjson.loads(text)
    with pytest.raises(PlanError) as caught:
        parse_plan(data, path="plan.json")
    assert caught.value.problems == (("", "nested too deeply to be a plan"),)


def test_unknown_key_hints_name_only_keys_a_plan_may_use() -> None:
    """A wrong key inside host_alias is told the keys a plan may write there, which do not include 'extra'."""
    with pytest.raises(PlanError) as caught:
        parse_plan("update: {host_alias: {enabled: true, extras: 1}}\ntargets: [DOPS_SERVICE-1]\n", path="p.yaml")
    [(place, problem)] = caught.value.problems
    assert place == "update.host_alias.extras"
    assert "extra" not in problem.replace("extras", "")
