"""Fleet plans: parsing, whole validation with the place of every problem, selectors and lazy resolution."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import TYPE_CHECKING

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiodataops._models import HostAlias, ServiceSummary, ServiceUpdate, ServiceWorkload, Workload
from aiodataops.cli._argtypes import service_id
from aiodataops.fleet._plan import Plan, PlanError, Resolver, load_plan, parse_plan

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

GOOD = """
update:
  service_workload:
    worker: {cpu: "2", memory: "4", replica: "3"}
targets:
  - DOPS_SERVICE-aaa
  - data_ops_service_id: DOPS_SERVICE-bbb
    update: {description: "pinned", service_workload: {worker: {replica: "5"}}}
  - select: {data_ops_name: "prod-*"}
  - select: {state: [running, "upd*"], cluster_name: "c?"}
    update: {host_alias: {enabled: false}}
"""


def test_good_plan_has_each_target_with_its_merged_update() -> None:
    """Each target form parses, and a target's own update merges key by key over the top-level one."""
    plan = parse_plan(GOOD, path="plan.yaml")
    worker = Workload(cpu="2", memory="4", replica="3")
    assert plan.update == ServiceUpdate(service_workload=ServiceWorkload(worker=worker))
    first, second, third, fourth = plan.targets
    assert (first.service_id, first.place, first.update) == ("DOPS_SERVICE-aaa", "targets[0]", plan.update)
    assert second.update == ServiceUpdate(
        description="pinned",
        service_workload=ServiceWorkload(worker=Workload(cpu="2", memory="4", replica="5")),
    )
    assert third.select is not None
    assert str(third.select) == "data_ops_name=prod-*"
    assert fourth.update.host_alias == HostAlias(enabled=False)
    assert fourth.update.service_workload == plan.update.service_workload
    assert plan.explicit_ids == {"DOPS_SERVICE-aaa", "DOPS_SERVICE-bbb"}
    assert plan.has_selectors
    assert plan.path == "plan.yaml"
    assert len(plan.sha256) == 64


def test_plan_digest_ignores_formatting_but_not_content() -> None:
    """The digest is of the plan's data: comments and layout do not change it, a value does."""
    base = parse_plan("update: {description: a}\ntargets: [DOPS_SERVICE-1]\n")
    same = parse_plan("# a comment\nupdate:\n  description: a\ntargets:\n  - DOPS_SERVICE-1\n")
    other = parse_plan("update: {description: b}\ntargets: [DOPS_SERVICE-1]\n")
    assert base.sha256 == same.sha256 != other.sha256


@pytest.mark.parametrize(
    ("text", "place", "problem"),
    [
        ("", "", "the plan is empty"),
        ("- a\n- b\n", "", "expected a mapping with 'update' and 'targets'"),
        ("update: {description: a}\n", "targets", "required, missing"),
        ("update: {description: a}\ntargets: []\n", "targets", "empty"),
        ("update: {description: a}\ntargets: DOPS_SERVICE-1\n", "targets", "expected a list"),
        ("update: {description: a}\ntargts: []\ntargets: [x]\n", "targts", "did you mean 'targets'"),
        ("targets: [DOPS_SERVICE-1]\n", "targets[0]", "no update"),
        ("update: {}\ntargets: [DOPS_SERVICE-1]\n", "update", "sets no field"),
        (
            "update: {service_workload: {worker: {}}}\ntargets: [DOPS_SERVICE-1]\n",
            "update.service_workload.worker",
            "sets no field",
        ),
        (
            "update: {description: a}\ntargets: [{data_ops_service_id: x, update: {service_workload: {}}}]\n",
            "targets[0].update.service_workload",
            "sets no field",
        ),
        ("update: {descripton: a}\ntargets: [x]\n", "update.descripton", "did you mean 'description'"),
        (
            "update: {service_workload: {worker: {cpu: 2}}}\ntargets: [x]\n",
            "update.service_workload.worker.cpu",
            'expected a string, got int 2 (write it quoted in YAML, e.g. "2")',
        ),
        (
            (
                "update: {description: a}\ntargets: [x, {data_ops_service_id: y, update: {service_workload: "
                "{worker: {memory: 4.5}}}}]\n"
            ),
            "targets[1].update.service_workload.worker.memory",
            "expected a string, got float 4.5",
        ),
        ("update: {host_alias: {host_alias_list: []}}\ntargets: [x]\n", "update.host_alias.enabled", "required"),
        ("update: {host_alias: {enabled: maybe}}\ntargets: [x]\n", "update.host_alias.enabled", "expected a boolean"),
        ("update: {description: a}\ntargets: [x, x]\n", "targets[1]", "duplicate target x (also targets[0])"),
        (
            "update: {description: a}\ntargets: [x, {data_ops_service_id: x}]\n",
            "targets[1]",
            "duplicate target x",
        ),
        (
            "update: {description: a}\ntargets: [{select: {state: RUNNING}}, {select: {state: RUNNING}}]\n",
            "targets[1]",
            "duplicate selector (same as targets[0])",
        ),
        ("update: {description: a}\ntargets: [{select: {}}]\n", "targets[0].select", "would match every service"),
        ("update: {description: a}\ntargets: [{select: {name: x}}]\n", "targets[0].select.name", "unknown key"),
        ("update: {description: a}\ntargets: [{select: {state: 3}}]\n", "targets[0].select.state", "glob string"),
        ("update: {description: a}\ntargets: [{select: {state: []}}]\n", "targets[0].select.state", "glob string"),
        ("update: {description: a}\ntargets: [{select: {state: R}, id: x}]\n", "targets[0].id", "unknown key"),
        (
            "update: {description: a}\ntargets: [{select: {state: R}, data_ops_service_id: x}]\n",
            "targets[0]",
            "has both",
        ),
        ("update: {description: a}\ntargets: [{update: {description: b}}]\n", "targets[0]", "expected 'data_ops"),
        ("update: {description: a}\ntargets: [5]\n", "targets[0]", "expected a service id or a mapping"),
        ("update: {description: a}\ntargets: ['DOPS_SERVICE-*']\n", "targets[0]", "looks like a glob"),
        ("update: {description: a}\ntargets: ['a b']\n", "targets[0]", "no spaces"),
        ("update: {description: a}\ntargets: ['']\n", "targets[0]", "expected a service id"),
        ("update: {description: a}\ntargets: [{data_ops_service_id: x, update: 3}]\n", "targets[0].update", "mapping"),
        ("update: [description]\ntargets: [x]\n", "update", "expected a mapping of fields"),
        ("update: {description: a}\nupdate: {domain: b}\ntargets: [x]\n", "line 2, column 1", "appears twice"),
        ("update: {description: a\ntargets: [x]\n", "line 2, column 8", "not valid YAML"),
    ],
)
def test_bad_plan_names_the_place_and_the_problem(text: str, place: str, problem: str) -> None:
    """Every kind of bad plan gives a PlanError whose places include the one at fault, with the problem."""
    with pytest.raises(PlanError) as caught:
        parse_plan(text, path="plan.yaml")
    error = caught.value
    matching = [p for where, p in error.problems if where == place]
    assert matching, f"no problem at {place!r} in {error.problems}"
    assert any(problem in p for p in matching), error.problems
    assert str(error).startswith("plan.yaml: ")


@pytest.mark.parametrize("bad", [".", "..", "a/b", "/", "x\u0000y", "x\u007fy", "x\u200by", "\u0085x", "x\ty"])
@pytest.mark.parametrize("as_mapping", [False, True])
def test_ids_that_cannot_be_sent_are_refused_naming_the_target(bad: str, *, as_mapping: bool) -> None:
    """An id that is '.', '..', holds a '/', whitespace or a control character is a PlanError naming targets[i]."""
    entry: object = {"data_ops_service_id": bad} if as_mapping else bad
    place = "targets[1].data_ops_service_id" if as_mapping else "targets[1]"
    with pytest.raises(PlanError) as caught:
        parse_plan({"update": {"description": "a"}, "targets": ["DOPS_SERVICE-ok", entry]})
    assert caught.value.place == place
    assert caught.value.problem.startswith(("not a usable service id", "a service id has no spaces"))


def test_the_plan_and_the_cli_share_one_id_rule() -> None:
    """Every id the CLI's service_id refuses, the plan refuses too, and the ids both accept are the same."""
    for text in ["", ".", "..", "a/b", "a b", "x\u0000", "x\u007f", "DOPS_SERVICE-1", "..x", "a.b", "한글"]:
        try:
            service_id(text)
        except argparse.ArgumentTypeError:
            cli_ok = False
        else:
            cli_ok = True
        try:
            parse_plan({"update": {"description": "a"}, "targets": [text]})
        except PlanError:
            plan_ok = False
        else:
            plan_ok = True
        assert cli_ok == plan_ok, text


def test_every_problem_is_reported_at_once() -> None:
    """A plan with several problems lists all of them, in one error, each with its place."""
    text = """
update: {service_workload: {worker: {cpu: 2, memory: 4}}}
targets:
  - x
  - x
  - {select: {data_ops_nam: a}}
"""
    with pytest.raises(PlanError) as caught:
        parse_plan(text)
    places = [where for where, _ in caught.value.problems]
    assert places == [
        "update.service_workload.worker.cpu",
        "update.service_workload.worker.memory",
        "targets[1]",
        "targets[2].select.data_ops_nam",
    ]
    assert "4 problems in the plan" in str(caught.value)


def test_a_target_update_over_a_bad_top_level_update_is_not_reported_twice() -> None:
    """When the top-level update is wrong, its problem is reported once, not again for every target."""
    text = "update: {description: 5}\ntargets: [a, {data_ops_service_id: b, update: {domain: d}}]\n"
    with pytest.raises(PlanError) as caught:
        parse_plan(text)
    assert [where for where, _ in caught.value.problems] == ["update.description"]


def test_load_plan_reads_json_and_yaml_files(tmp_path: Path) -> None:
    """A .json file is read as JSON, anything else as YAML; both give the same plan."""
    data = {"update": {"description": "x"}, "targets": ["DOPS_SERVICE-1", {"select": {"state": "RUNNING"}}]}
    as_json = tmp_path / "plan.json"
    as_json.write_text(json.dumps(data))
    as_yaml = tmp_path / "plan.yml"
    as_yaml.write_text("update: {description: x}\ntargets: [DOPS_SERVICE-1, {select: {state: RUNNING}}]\n")
    from_json, from_yaml = load_plan(as_json), load_plan(as_yaml)
    assert from_json == attrs_evolve_path(from_yaml, str(as_json))
    assert from_json.sha256 == from_yaml.sha256
    assert from_json.data == data


def attrs_evolve_path(plan: Plan, path: str) -> Plan:
    return attrs.evolve(plan, path=path)


def test_load_plan_errors_for_a_missing_file_and_bad_json(tmp_path: Path) -> None:
    """An unreadable file and malformed JSON are PlanErrors naming the file."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PlanError, match=r"nope\.yaml: cannot read the plan"):
        load_plan(missing)
    bad = tmp_path / "bad.json"
    bad.write_text('{"update": ')
    with pytest.raises(PlanError, match=r"bad\.json: not valid JSON"):
        load_plan(bad)


def test_parse_plan_accepts_loaded_data() -> None:
    """A plan built in code (a dict) validates the same way as text."""
    plan = parse_plan({"update": {"worker_type": "big"}, "targets": [{"data_ops_service_id": "DOPS_SERVICE-9"}]})
    assert plan.targets[0].update == ServiceUpdate(worker_type="big")
    with pytest.raises(PlanError, match=r"targets\[0\]: expected a service id"):
        parse_plan({"update": {"worker_type": "big"}, "targets": [None]})


def _summary(sid: str, **fields: object) -> ServiceSummary:
    return ServiceSummary(data_ops_service_id=sid, **fields)  # type: ignore[arg-type]


def test_selector_globs_match_fields_case_sensitively_except_state() -> None:
    """Globs match their field case-sensitively; state matches in any case; a missing field never matches."""
    plan = parse_plan(
        {
            "update": {"description": "x"},
            "targets": [
                {"select": {"data_ops_name": "prod-*", "state": "running"}},
                {"select": {"created_dt": "2025-01-*"}},
            ],
        }
    )
    by_name = plan.targets[0].select
    by_date = plan.targets[1].select
    assert by_name is not None
    assert by_date is not None
    assert by_name.matches(_summary("a", data_ops_name="prod-etl", state="Running"))
    assert not by_name.matches(_summary("a", data_ops_name="PROD-etl", state="RUNNING"))
    assert not by_name.matches(_summary("a", data_ops_name="prod-etl", state="UPDATING"))
    assert not by_name.matches(_summary("a", state="RUNNING"))
    when = dt.datetime(2025, 1, 31, 9, 0, tzinfo=dt.UTC)
    assert by_date.matches(_summary("a", created_dt=when))
    assert not by_date.matches(_summary("a", created_dt=when.replace(month=2, day=1)))


async def _listing(items: list[ServiceSummary], pulled: list[str]) -> AsyncIterator[ServiceSummary]:
    for item in items:
        pulled.append(item.data_ops_service_id)
        yield item


@pytest.mark.anyio
async def test_resolver_lists_ids_first_then_takes_each_listed_service_once() -> None:
    """Listed ids come first; a listed id is not taken again by a selector; the first matching selector wins."""
    plan = parse_plan(
        {
            "update": {"description": "top"},
            "targets": [
                {"select": {"data_ops_name": "prod-*"}, "update": {"domain": "first"}},
                {"data_ops_service_id": "s2", "update": {"domain": "explicit"}},
                {"select": {"state": "RUNNING"}, "update": {"domain": "second"}},
                {"select": {"data_ops_name": "nothing-*"}},
            ],
        }
    )
    listed = [
        _summary("s1", data_ops_name="prod-a", state="RUNNING"),
        _summary("s2", data_ops_name="prod-b", state="RUNNING"),
        _summary("s3", data_ops_name="dev-a", state="RUNNING"),
        _summary("s1", data_ops_name="prod-a", state="RUNNING"),  # a shifted page repeats an item
        _summary("s4", data_ops_name="dev-b", state="ERROR"),
    ]
    pulled: list[str] = []
    resolver = Resolver(plan, lambda: _listing(listed, pulled))
    got = [(t.service_id, t.update.domain, t.place) async for t in resolver]
    assert got == [
        ("s2", "explicit", "targets[1]"),
        ("s1", "first", "targets[0]"),
        ("s3", "second", "targets[2]"),
    ]
    assert resolver.matched == {"targets[0]": 1, "targets[2]": 1, "targets[3]": 0}
    assert resolver.warnings == ("targets[3] (select data_ops_name=nothing-*) matched no service",)


@pytest.mark.anyio
async def test_resolver_pages_only_as_far_as_it_is_read() -> None:
    """Resolution is lazy: taking the first selected service reads the list only up to it."""
    plan = parse_plan({"update": {"description": "x"}, "targets": [{"select": {"state": "RUNNING"}}]})
    listed = [_summary(f"s{i}", state="RUNNING") for i in range(100)]
    pulled: list[str] = []
    iterator = aiter(Resolver(plan, lambda: _listing(listed, pulled)))
    first = await anext(iterator)
    assert first.service_id == "s0"
    assert pulled == ["s0"]
    await iterator.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_plan_without_selectors_never_lists() -> None:
    """A plan of ids only resolves without calling the list operation."""
    plan = parse_plan({"update": {"description": "x"}, "targets": ["a", "b"]})

    def no_listing() -> AsyncIterator[ServiceSummary]:
        raise AssertionError("listed")

    assert [t.service_id async for t in Resolver(plan, no_listing)] == ["a", "b"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "update",
        "targets",
        "select",
        "data_ops_service_id",
        "service_workload",
        "worker",
        "cpu",
        "description",
        "host_alias",
        "enabled",
        "state",
        "data_ops_name",
        "x",
    ]
)
_planish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.sampled_from(["DOPS_SERVICE-1", "*", "2"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json, _planish, st.text(max_size=60)))
def test_any_input_gives_a_plan_or_a_plan_error(data: object) -> None:
    """Whatever the input, parse_plan returns a Plan or raises PlanError with at least one placed problem."""
    try:
        plan = parse_plan(data)
    except PlanError as error:
        problems, message = error.problems, str(error)
        assert problems
        assert message
    else:
        assert plan.targets
        for target in plan.targets:
            assert target.update != ServiceUpdate()
