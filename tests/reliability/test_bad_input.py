"""Bad input, table-driven, through the command line against the emulator: a clear message, never a traceback.

A bad plan exits 2 before a single PUT; a target the server refuses becomes a failed item naming why; wrong
credentials, a clock 20 minutes off and broken answers (not JSON, cut short, far too large) give a message that
says what to do. The command runs in this process (``main(argv)``, the emulator on its own thread), so an
exception escaping it fails the test at once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from aiodataops._signing import now_ms
from aiodataops._transport import DEFAULT_MAX_RESPONSE_SIZE
from tests.reliability._support import (
    BREAKAGES,
    EVERY_SERVICE,
    WORKER_UPDATE,
    Corruptor,
    cli_signs_with,
    emulator_in_thread,
    run_cli,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from aiodataops.emulator import Emulator

TWENTY_MINUTES_MS = 20 * 60 * 1000


class Served:
    """One emulator (on its own thread) for the whole module, with a switch to break its answers."""

    def __init__(self, emu: Emulator, corruptor: Corruptor, files: Path) -> None:
        self.emu = emu
        self.corruptor = corruptor
        self.files = files
        self.secret = files / "secret"
        self.secret.write_text(emu.credentials.secret_key + "\n")
        self.wrong_secret = files / "wrong-secret"
        self.wrong_secret.write_text("not-the-secret\n")

    def connection(self, *, secret: Path | None = None) -> list[str]:
        return [
            "--endpoint", self.emu.base_url,
            "--access-key", self.emu.credentials.access_key,
            "--secret-key-file", str(secret or self.secret),
        ]  # fmt: skip

    def plan(self, name: str, content: bytes | dict[str, Any]) -> str:
        path = self.files / name
        path.write_bytes(content if isinstance(content, bytes) else orjson.dumps(content))
        return str(path)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The module's emulator: 6 services, fast updates, answers intact unless a test breaks them."""
    corruptor = Corruptor(huge_size=DEFAULT_MAX_RESPONSE_SIZE + 1024)
    with emulator_in_thread(corruptor, data_ops=1, services_per_data_ops=6, update_duration=(0.02, 0.05)) as emu:
        yield Served(emu, corruptor, tmp_path_factory.mktemp("bad-input"))


@pytest.fixture
def fresh(served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    """The module's emulator with its counters cleared, its answers intact and no SCP_* variable around."""
    for name in ("SCP_ACCESS_KEY", "SCP_SECRET_KEY", "SCP_AUTH_TOKEN", "SCP_DATAOPS_ENDPOINT", "SCP_REGION", "SCP_ENV"):
        monkeypatch.delenv(name, raising=False)
    served.emu.counters.reset()
    served.corruptor.breakage.clear()
    return served


def assert_clean(out: str, err: str) -> None:
    """No traceback and no Python exception repr reached the user."""
    for text in (out, err):
        assert "Traceback" not in text
        assert not re.search(r"\b(KeyError|TypeError|AttributeError|ValueError|AssertionError)\b", text), text


# -- plans: exit 2, nothing sent ------------------------------------------------------------------------------

GOOD_UPDATE = b"update: {service_workload: {worker: {cpu: '2', memory: '4', replica: '5'}}}\n"

BAD_PLANS: list[tuple[str, bytes, str]] = [
    ("plan.json", b'{"update": {"description": "a"}, "targets": ["x",]}', "not valid JSON"),
    ("plan.json", b'{"update": {"description": "a"}, "targets": ["x"]', "not valid JSON"),
    ("plan.yaml", b"update:\n\tdescription: a\ntargets: [x]\n", "not valid YAML"),
    ("plan.yaml", b"update: {description: a}\ntargets: [x]\n\x80\x81\n", "not valid"),
    ("plan.yaml", b"", "the plan is empty"),
    ("plan.yaml", b"# only a comment\n", "the plan is empty"),
    ("plan.yaml", b"- DOPS_SERVICE-1\n- DOPS_SERVICE-2\n", "expected a mapping with 'update' and 'targets'"),
    ("plan.yaml", GOOD_UPDATE + b"target: [DOPS_SERVICE-1]\n", "target: unknown key (did you mean 'targets'?)"),
    (
        "plan.yaml",
        b"update: {service_workload: {wroker: {cpu: '2'}}}\ntargets: [DOPS_SERVICE-1]\n",
        "update.service_workload.wroker: unknown key (did you mean 'worker'?)",
    ),
    (
        "plan.yaml",
        GOOD_UPDATE + b"targets: [{data_ops_service_id: DOPS_SERVICE-1, updates: {description: b}}]\n",
        "targets[0].updates: unknown key (did you mean 'update'?)",
    ),
    (
        "plan.yaml",
        b"update: {service_workload: {worker: {replica: 5}}}\ntargets: [DOPS_SERVICE-1]\n",
        "update.service_workload.worker.replica: expected a string, got int 5",
    ),
    ("plan.yaml", b"update: {host_alias: {enabled: maybe}}\ntargets: [x]\n", "update.host_alias.enabled"),
    ("plan.yaml", GOOD_UPDATE + b"targets: DOPS_SERVICE-1\n", "targets: expected a list"),
    ("plan.yaml", GOOD_UPDATE + b"targets: [42]\n", "targets[0]: expected a service id or a mapping"),
    ("plan.json", b'{"update": "replica=5", "targets": ["x"]}', "update: expected a mapping of fields to change"),
    ("plan.yaml", b"update: {}\ntargets: [DOPS_SERVICE-1]\n", "update: sets no field"),
    (
        "plan.yaml",
        GOOD_UPDATE + b"targets: [{select: {state: RUNNING}}, {select: {state: RUNNING}}]\n",
        "targets[1]: duplicate selector (same as targets[0])",
    ),
    (
        "plan.yaml",
        GOOD_UPDATE + b"targets: [DOPS_SERVICE-1, {data_ops_service_id: DOPS_SERVICE-1}]\n",
        "targets[1]: duplicate target DOPS_SERVICE-1 (also targets[0])",
    ),
    ("plan.yaml", GOOD_UPDATE + b"targets: [x]\ntargets: [y]\n", "appears twice"),
    ("plan.yaml", GOOD_UPDATE + b"targets: []\n", "targets: empty"),
    ("plan.yaml", GOOD_UPDATE + b"targets: [{select: {}}]\n", "would match every service"),
    ("plan.yaml", GOOD_UPDATE + b"targets: [DOPS_SERVICE-1, '..']\n", "targets[1]: not a usable service id"),
    ("plan.yaml", GOOD_UPDATE + b"targets: ['.']\n", "targets[0]: not a usable service id"),
    ("plan.json", b'{"update": {"description": "a"}, "targets": ["a/b"]}', "targets[0]: not a usable service id"),
    (
        "plan.json",
        b'{"update": {"description": "a"}, "targets": [{"data_ops_service_id": "x\\u0007"}]}',
        "targets[0].data_ops_service_id: not a usable service id",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_PLANS)
def test_a_bad_plan_exits_2_naming_the_problem_before_any_request(
    fresh: Served, capsys: pytest.CaptureFixture[str], name: str, content: bytes, message: str
) -> None:
    """Malformed, mistyped, misspelt, duplicated or empty plans exit 2 with the place and problem; nothing is sent."""
    path = fresh.plan(name, content)
    status, out, err = run_cli(capsys, "fleet", "apply", path, *fresh.connection())
    assert status == 2, (out, err)
    assert message in err
    assert err.startswith(f"aiodataops fleet: {path}: ")
    assert_clean(out, err)
    assert sum(fresh.emu.counters.requests.values()) == 0


def test_a_deeply_nested_plan_exits_2(fresh: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """A plan nested thousands of levels deep exits 2 like any other malformed plan, sending nothing."""
    path = fresh.plan("deep.yaml", b"[" * 5000)
    status, out, err = run_cli(capsys, "fleet", "apply", path, *fresh.connection())
    assert status == 2
    assert err.startswith(f"aiodataops fleet: {path}: ")
    assert "nested too deeply" in err
    assert_clean(out, err)
    assert sum(fresh.emu.counters.requests.values()) == 0


def test_a_missing_plan_file_exits_2(fresh: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """A plan path that does not exist exits 2 saying it cannot be read."""
    missing = str(fresh.files / "nowhere.yaml")
    status, out, err = run_cli(capsys, "fleet", "apply", missing, *fresh.connection())
    assert status == 2
    assert f"{missing}: cannot read the plan: No such file or directory" in err
    assert_clean(out, err)
    assert sum(fresh.emu.counters.requests.values()) == 0


def test_selectors_matching_nothing_exit_2_after_reading_only(
    fresh: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty fleet (no service matches) exits 2 and sends no PUT."""
    plan = fresh.plan("none.json", {"update": WORKER_UPDATE, "targets": [{"select": {"data_ops_name": "nothing-*"}}]})
    status, out, err = run_cli(capsys, "fleet", "apply", plan, *fresh.connection())
    assert status == 2
    assert "no service matched the plan" in err
    assert "targets[0] (select data_ops_name=nothing-*) matched no service" in out
    assert_clean(out, err)
    assert fresh.emu.counters.total("update_service") == 0


# -- targets the server refuses: failed items -------------------------------------------------------------------


def test_unknown_ids_are_failed_items_saying_not_found(fresh: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """Ids the server does not know end as failed items with the 404 and its message; nothing is applied."""
    plan = fresh.plan("unknown.json", {"update": WORKER_UPDATE, "targets": ["DOPS_SERVICE-nope", "DOPS_SERVICE-gone"]})
    status, out, err = run_cli(capsys, "fleet", "apply", plan, *fresh.connection(), "--output", "json")
    assert status == 1
    report = orjson.loads(out)
    for item in report["items"]:
        assert item["outcome"] in ("failed", "skipped")
    failed = [item for item in report["items"] if item["outcome"] == "failed"]
    assert failed
    for item in failed:
        assert item["error"]["kind"] == "not_found"
        assert item["error"]["status"] == 404
        assert f"{item['data_ops_service_id']} not found" in item["error"]["message"]
    assert_clean(out, err)
    assert sum(fresh.emu.counters.accepted_puts_per_service.values()) == 0


# -- credentials and clock ----------------------------------------------------------------------------------


def test_wrong_credentials_say_check_the_key_not_the_clock(fresh: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong secret key exits 2, for services and for fleet (failed items), saying to check the key, not the clock."""
    status, out, err = run_cli(
        capsys, "services", "get", fresh.emu.service_ids()[0], *fresh.connection(secret=fresh.wrong_secret)
    )
    assert status == 2
    assert "HTTP 401" in err
    assert "check the access key, the secret key" in err
    assert "clock" not in err
    assert_clean(out, err)

    ids = fresh.emu.service_ids()[:2]
    plan = fresh.plan("two.json", {"update": WORKER_UPDATE, "targets": ids})
    status, out, err = run_cli(
        capsys, "fleet", "apply", plan, *fresh.connection(secret=fresh.wrong_secret), "--output", "json"
    )
    assert status == 2
    report = orjson.loads(out)
    failed = [item for item in report["items"] if item["outcome"] == "failed"]
    assert failed
    for item in failed:
        assert item["error"]["kind"] == "authentication"
        assert "check the access key, the secret key" in item["error"]["message"]
    assert_clean(out, err)
    assert sum(fresh.emu.counters.accepted_puts_per_service.values()) == 0


@pytest.fixture
def clock_20_minutes_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign every request of the CLI's clients with a wall clock 20 minutes slow."""
    cli_signs_with(monkeypatch, lambda: now_ms() - TWENTY_MINUTES_MS)


@pytest.mark.usefixtures("clock_20_minutes_behind")
def test_a_clock_20_minutes_off_says_check_your_clock(fresh: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """A timestamp 20 minutes off is refused (401) with a message telling the user to check their clock."""
    status, out, err = run_cli(capsys, "services", "get", fresh.emu.service_ids()[0], *fresh.connection())
    assert status == 2
    assert "20.0 minutes behind the server's clock" in err
    assert "check your clock" in err
    assert_clean(out, err)

    plan = fresh.plan("one.json", {"update": WORKER_UPDATE, "targets": fresh.emu.service_ids()[:1]})
    status, out, err = run_cli(capsys, "fleet", "apply", plan, *fresh.connection(), "--output", "json")
    assert status == 2
    [item] = orjson.loads(out)["items"]
    assert item["outcome"] == "failed"
    assert item["error"]["kind"] == "authentication"
    assert "check your clock" in item["error"]["message"]
    assert_clean(out, err)
    assert fresh.emu.counters.total("update_service", 202) == 0


# -- broken answers -----------------------------------------------------------------------------------------

BROKEN_ANSWERS: list[tuple[str, str]] = [
    ("html", "not valid JSON"),
    ("cut_json", "not valid JSON"),
    ("short_body", "the connection dropped"),
    ("huge", f"too large: {DEFAULT_MAX_RESPONSE_SIZE + 1026} bytes, over the limit of {DEFAULT_MAX_RESPONSE_SIZE}"),
]


@pytest.mark.parametrize(("breakage", "message"), BROKEN_ANSWERS)
def test_a_broken_answer_to_a_read_is_a_clear_failure(
    fresh: Served, capsys: pytest.CaptureFixture[str], breakage: str, message: str
) -> None:
    """A 200 whose body is HTML, cut JSON, shorter than announced or far too large exits 1 with what was wrong."""
    fresh.corruptor.breakage["get"] = breakage
    status, out, err = run_cli(capsys, "services", "get", fresh.emu.service_ids()[0], *fresh.connection())
    assert status == 1
    assert message in err
    assert err.startswith("aiodataops services: ")
    assert_clean(out, err)


@pytest.mark.parametrize(("breakage", "message"), BROKEN_ANSWERS)
def test_a_broken_answer_to_a_put_fails_that_item_only(
    fresh: Served, capsys: pytest.CaptureFixture[str], breakage: str, message: str
) -> None:
    """A PUT whose answer is broken fails that target with the reason; the PUT is never sent twice."""
    fresh.corruptor.breakage["update"] = breakage
    # A service of its own per case: the module's emulator keeps what earlier cases changed.
    sid = fresh.emu.service_ids()[BREAKAGES.index(breakage)]
    plan = fresh.plan("one.json", {"update": WORKER_UPDATE, "targets": [sid]})
    status, out, err = run_cli(capsys, "fleet", "apply", plan, *fresh.connection(), "--output", "json")
    report = orjson.loads(out)
    [item] = report["items"]
    assert_clean(out, err)
    assert fresh.emu.counters.accepted_puts_per_service[sid] == 1
    if item["outcome"] == "failed":
        assert status == 1
        assert message in item["error"]["message"]
    else:
        # An answer lost on the wire leaves doubt: the engine looked, found the update in place and followed it;
        # a 2xx whose body cannot be parsed is an accepted change without a body, followed by reads (issue 16).
        assert breakage in ("short_body", "html", "cut_json")
        assert status == 0
        assert item["outcome"] == "succeeded"


@pytest.mark.parametrize("problem", ["wrong_secret", "html_list"])
def test_a_failure_to_read_the_targets_is_named_as_such(
    fresh: Served, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    """When the service list cannot be read, the command names that failure (exit 2 for refused credentials)."""
    secret = fresh.wrong_secret if problem == "wrong_secret" else None
    if problem == "html_list":
        fresh.corruptor.breakage["list"] = "html"
    plan = fresh.plan("all.json", EVERY_SERVICE)
    status, out, err = run_cli(capsys, "fleet", "apply", plan, *fresh.connection(secret=secret))
    assert status == (2 if problem == "wrong_secret" else 1)
    assert_clean(out, err)
    assert fresh.emu.counters.total("update_service") == 0
    assert "reading the targets failed" in out + err
    assert "no service matched" not in err
