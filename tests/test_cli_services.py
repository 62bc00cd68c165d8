"""``aiodataops services list|get|update`` against the emulator: output, masking, waiting and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import orjson
import pytest
import yaml

from aiodataops._clock import VirtualClock
from aiodataops._models import HostAlias, HostAliasEntry, ServiceUpdate, ServiceWorkload, Workload
from aiodataops._polling import PollPolicy
from aiodataops.cli import build_parser, main
from aiodataops.cli._services import UsageError, build_update, parse_workload, run
from aiodataops.emulator import PASSWORD_MARK, Emulator, FaultRule

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

POLL = PollPolicy(first_delay=0.5, max_delay=2.0, min_delay=0.1, deadline=120.0)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SCP_* variable of the machine running the tests leaks into them."""
    for name in (
        "SCP_ACCESS_KEY",
        "SCP_SECRET_KEY",
        "SCP_AUTH_TOKEN",
        "SCP_DATAOPS_ENDPOINT",
        "SCP_REGION",
        "SCP_ENV",
        "SCP_ACCEPT_LANGUAGE",
    ):
        monkeypatch.delenv(name, raising=False)


class Cli:
    """Runs ``services`` actions in the test's event loop against one emulator sharing a virtual clock."""

    def __init__(self, emu: Emulator, clock: VirtualClock, secret_file: Path) -> None:
        self.emu = emu
        self.clock = clock
        self.secret_file = secret_file

    def args(self, *argv: str) -> argparse.Namespace:
        action, *rest = argv
        connection = [
            "--endpoint",
            self.emu.base_url,
            "--access-key",
            self.emu.credentials.access_key,
            "--secret-key-file",
            str(self.secret_file),
        ]
        return build_parser().parse_args(["services", action, *connection, *rest])

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await run(self.args(*argv), clock=self.clock, poll=POLL, out=out, err=err)
        return status, out.getvalue(), err.getvalue()


@pytest.fixture
async def cli(tmp_path: Path) -> AsyncIterator[Cli]:
    clock = VirtualClock()
    async with Emulator(data_ops=2, services_per_data_ops=3, seed=11, clock=clock, stale_read_seconds=1.0) as emu:
        secret = tmp_path / "secret"
        secret.write_text(emu.credentials.secret_key + "\n")
        yield Cli(emu, clock, secret)


# -- parsing ------------------------------------------------------------------------------------------------


def test_parse_workload() -> None:
    """Workload flags read KEY=VALUE pairs and name what is wrong otherwise."""
    assert parse_workload("cpu=2, memory=4,replica=3") == Workload(cpu="2", memory="4", replica="3")
    with pytest.raises(argparse.ArgumentTypeError, match="KEY one of"):
        parse_workload("gpu=1")
    with pytest.raises(argparse.ArgumentTypeError, match="at least one"):
        parse_workload(" , ")


def _update_args(*rest: str) -> argparse.Namespace:
    return build_parser().parse_args(["services", "update", "DOPS_SERVICE-x", *rest])


def test_build_update_sends_only_what_is_given(tmp_path: Path) -> None:
    """Flags become a ServiceUpdate with only those fields; --body is merged under the flags."""
    body = tmp_path / "update.json"
    body.write_text('{"description": "from body", "service_workload": {"scheduler": {"cpu": "1"}}}')
    args = _update_args("--body", str(body), "--worker", "cpu=4,replica=2", "--host-alias", "db=10.0.0.1")
    update = build_update(args)
    assert update == ServiceUpdate(
        description="from body",
        service_workload=ServiceWorkload(scheduler=Workload(cpu="1"), worker=Workload(cpu="4", replica="2")),
        host_alias=HostAlias(enabled=True, host_alias_list=(HostAliasEntry("db", "10.0.0.1"),)),
    )


def test_build_update_refuses_nothing_and_contradictions(tmp_path: Path) -> None:
    """No change at all, contradictory host alias flags and a body with unknown fields are usage errors."""
    with pytest.raises(UsageError, match="nothing to change"):
        build_update(_update_args())
    with pytest.raises(UsageError, match="contradict"):
        build_update(_update_args("--host-alias", "a=10.0.0.1", "--disable-host-alias"))
    body = tmp_path / "bad.json"
    body.write_text('{"descripton": "typo"}')
    with pytest.raises(UsageError, match="descripton"):
        build_update(_update_args("--body", str(body)))


# -- actions against the emulator ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_as_a_table(cli: Cli) -> None:
    """list prints a header and one row per service, paging lazily."""
    status, out, _ = await cli("list", "--page-size", "2")
    lines = out.splitlines()
    assert status == 0
    assert lines[0].startswith("ID")
    assert len(lines) == 1 + 6
    assert {line.split()[0] for line in lines[1:]} == set(cli.emu.service_ids())
    assert cli.emu.counters.requests["list_services", 200] == 3


@pytest.mark.anyio
async def test_list_as_json_with_limit(cli: Cli) -> None:
    """--output json prints a JSON array; --limit stops early."""
    status, out, _ = await cli("list", "--output", "json", "--limit", "4")
    items = orjson.loads(out)
    assert status == 0
    assert len(items) == 4
    assert all(item["data_ops_service_id"].startswith("DOPS_SERVICE-") for item in items)


@pytest.mark.anyio
async def test_get_masks_the_password_in_both_formats(cli: Cli) -> None:
    """get shows the service and never its account password, as text or JSON."""
    service_id = cli.emu.service_ids()[0]
    status, text, _ = await cli("get", service_id)
    assert status == 0
    assert f"data_ops_service_id: {service_id}" in text
    assert "state: RUNNING" in text
    status, out, _ = await cli("get", service_id, "-o", "json")
    data = orjson.loads(out)
    assert data["account"]["account_password"] == "***"
    assert PASSWORD_MARK not in text + out


@pytest.mark.anyio
@pytest.mark.parametrize("output", ["text", "json"])
async def test_a_listing_that_fails_at_once_leaves_stdout_empty(cli: Cli, output: str) -> None:
    """When the first page cannot be read, nothing (no header, no half a JSON array) reaches standard output."""
    cli.emu.faults = (FaultRule("list_services", "500", rate=1.0),)
    status, out, err = await cli("list", "--output", output)
    assert status == 1
    assert out == ""
    assert "500" in err


@pytest.mark.anyio
async def test_text_is_the_old_name_of_table(cli: Cli) -> None:
    """-o table (the default) and -o text print the same table and the same key/value lines."""
    service_id = cli.emu.service_ids()[0]
    default, table, text = [await cli("list", *flags) for flags in ([], ["-o", "table"], ["-o", "text"])]
    assert default == table == text
    assert table[1].startswith("ID ")
    assert (await cli("get", service_id, "-o", "table")) == (await cli("get", service_id, "-o", "text"))


@pytest.mark.anyio
async def test_yaml_holds_what_json_holds(cli: Cli) -> None:
    """-o yaml prints the same document as -o json, for a listing (streamed item by item) and for one service."""
    service_id = cli.emu.service_ids()[0]
    _, as_yaml, _ = await cli("list", "-o", "yaml", "--page-size", "2")
    _, as_json, _ = await cli("list", "-o", "json", "--page-size", "2")
    assert yaml.safe_load(as_yaml) == orjson.loads(as_json)
    assert len(orjson.loads(as_json)) == 6
    _, one_yaml, _ = await cli("get", service_id, "-o", "yaml")
    _, one_json, _ = await cli("get", service_id, "-o", "json")
    assert yaml.safe_load(one_yaml) == orjson.loads(one_json)
    assert yaml.safe_load(one_yaml)["account"]["account_password"] == "***"
    status, empty, _ = await cli("list", "-o", "yaml", "--name", "no-such-service")
    assert (status, yaml.safe_load(empty)) == (0, [])


@pytest.mark.anyio
async def test_query_picks_from_the_json_output(cli: Cli) -> None:
    """--query applies a JMESPath expression to the JSON document: plain values one per line (a row of values
    tab-separated) with -o table, the result itself with -o json or yaml; --limit applies first."""
    ids = cli.emu.service_ids()
    status, out, _ = await cli("list", "--query", "[].data_ops_service_id")
    assert status == 0
    assert sorted(out.splitlines()) == sorted(ids)
    _, rows, _ = await cli("list", "--query", "[].[data_ops_service_id, state]", "--limit", "2")
    assert [row.split("\t")[1] for row in rows.splitlines()] == ["RUNNING", "RUNNING"]
    _, count, _ = await cli("list", "--query", "length([?state=='RUNNING'])", "-o", "json")
    assert orjson.loads(count) == 6
    _, picked, _ = await cli("get", ids[0], "--query", "{id: data_ops_service_id, worker: service_workload.worker}")
    assert orjson.loads(picked)["id"] == ids[0]
    _, as_yaml, _ = await cli("get", ids[0], "--query", "account", "-o", "yaml")
    assert yaml.safe_load(as_yaml)["account_password"] == "***"


@pytest.mark.anyio
async def test_a_query_that_does_not_fit_the_data_exits_2(cli: Cli) -> None:
    """An expression that parses but cannot apply to the data (a function given the wrong type) exits 2 naming
    --query, with a short message rather than the whole document."""
    status, out, err = await cli("list", "--query", "abs(@)")
    assert status == 2
    assert out == ""
    assert err == "aiodataops services: --query: abs() expects number, got array\n"


@pytest.mark.anyio
async def test_get_unknown_service_exits_1(cli: Cli) -> None:
    """A service that does not exist exits 1 and says so on standard error."""
    status, out, err = await cli("get", "DOPS_SERVICE-00000000-0000-0000-0000-000000000000")
    assert status == 1
    assert out == ""
    assert "NotFoundError" in err


@pytest.mark.anyio
async def test_update_and_wait(cli: Cli) -> None:
    """update --wait sends the change, reports progress on stderr and prints the settled service."""
    service_id = cli.emu.service_ids()[1]
    status, out, err = await cli("update", service_id, "--worker", "cpu=3,replica=2", "--wait", "-o", "json")
    assert status == 0, err
    final = orjson.loads(out)
    assert final["state"] == "RUNNING"
    assert final["service_workload"]["worker"]["cpu"] == "3"
    assert "accepted" in err
    assert "settled" in err
    assert cli.emu.counters.accepted_puts_per_service[service_id] == 1


@pytest.mark.anyio
async def test_update_and_wait_after_a_bodyless_202_follows_the_change_to_its_error(cli: Cli) -> None:
    """A 202 without a body, then stale RUNNING reads: --wait still follows the change and fails with ERROR."""
    service_id = cli.emu.service_ids()[1]
    cli.emu.force_outcome(service_id, "ERROR")
    cli.emu.reconfigure(faults=(FaultRule("update_service", "accept_no_body"),))
    status, _, err = await cli("update", service_id, "--worker", "cpu=3", "--wait")
    assert status == 1, err
    assert "accepted (the answer had no body)" in err
    assert "ERROR" in err
    assert cli.emu.counters.accepted_puts_per_service[service_id] == 1


@pytest.mark.anyio
async def test_update_without_wait_prints_the_accepted_body(cli: Cli) -> None:
    """update without --wait prints the 202 body (UPDATING) and returns at once."""
    status, out, _ = await cli("update", cli.emu.service_ids()[2], "--description", "hello")
    assert status == 0
    assert "state: UPDATING" in out
    assert "description: hello" in out


@pytest.mark.anyio
async def test_update_with_nothing_to_change_sends_nothing(cli: Cli) -> None:
    """An update without changes exits 2 before any request is made."""
    status, _, err = await cli("update", cli.emu.service_ids()[0])
    assert status == 2
    assert "nothing to change" in err
    assert not any(op == "update_service" for op, _ in cli.emu.counters.requests)


@pytest.mark.anyio
async def test_update_refused_by_the_server_exits_2(cli: Cli) -> None:
    """A workload the server rejects (400) is bad input: exit 2 with the server's reason."""
    status, _, err = await cli("update", cli.emu.service_ids()[0], "--worker", "cpu=-1")
    assert status == 2
    assert "cpu" in err


# -- the whole command line ---------------------------------------------------------------------------------


def test_missing_configuration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Without credentials or endpoint, the command exits 2 naming every missing setting."""
    assert main(["services", "list"]) == 2
    err = capsys.readouterr().err
    assert "SCP_ACCESS_KEY" in err
    assert "SCP_DATAOPS_ENDPOINT" in err


def test_bad_flag_value_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed flag value is a usage error (exit 2) naming the problem."""
    with pytest.raises(SystemExit) as caught:
        main(["services", "list", "--page-size", "0"])
    assert caught.value.code == 2
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["get", "update"])
@pytest.mark.parametrize("bad_id", ["", ".", "..", "a/b", "../DOPS_SERVICE-x"])
def test_an_id_that_addresses_something_else_exits_2(
    capsys: pytest.CaptureFixture[str], action: str, bad_id: str
) -> None:
    """An empty, ``.``, ``..`` or slashed id is a usage error (exit 2) naming the argument, never a traceback."""
    with pytest.raises(SystemExit) as caught:
        main(["services", action, bad_id, "--description", "x"][: 3 if action == "get" else 5])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"argument SERVICE_ID: expected a service id such as DOPS_SERVICE-..., got {bad_id!r}" in err
    assert "Traceback" not in err


@contextlib.contextmanager
def emulator_in_thread(**config: Any) -> Iterator[Emulator]:
    """An emulator on its own event loop in a thread, for driving the synchronous ``main()``."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with Emulator(**config) as emu:
            box["emu"], box["loop"], box["stop"] = emu, asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the emulator did not start"
    try:
        yield box["emu"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def test_main_lists_services_with_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console entry point reads SCP_* variables, lists every service and exits 0."""
    with emulator_in_thread(data_ops=1, services_per_data_ops=3, seed=2) as emu:
        monkeypatch.setenv("SCP_ACCESS_KEY", emu.credentials.access_key)
        monkeypatch.setenv("SCP_SECRET_KEY", emu.credentials.secret_key)
        monkeypatch.setenv("SCP_DATAOPS_ENDPOINT", emu.base_url)
        status = main(["services", "list", "-o", "json"])
        ids = emu.service_ids()
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert sorted(item["data_ops_service_id"] for item in orjson.loads(captured.out)) == sorted(ids)
    assert emu.credentials.secret_key not in captured.out + captured.err


@pytest.mark.anyio
async def test_a_reader_that_goes_away_ends_the_listing_quietly() -> None:
    """`aiodataops services list | head -1`: once stdout is closed the command exits 141 without a traceback."""

    def list_then_hang_up(env: dict[str, str]) -> tuple[bytes, int, bytes]:
        # A real OS pipe, closed by the reader after one line, as `head -1` does.
        with subprocess.Popen(
            [sys.executable, "-m", "aiodataops", "services", "list"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stdout is not None
            assert process.stderr is not None
            first = process.stdout.readline()
            process.stdout.close()
            errors = process.stderr.read()
            return first, process.wait(timeout=60), errors

    async with Emulator(data_ops=20, services_per_data_ops=500) as emu:  # far more rows than a pipe buffers
        env = {
            **os.environ,
            "SCP_ACCESS_KEY": emu.credentials.access_key,
            "SCP_SECRET_KEY": emu.credentials.secret_key,
            "SCP_DATAOPS_ENDPOINT": emu.base_url,
        }
        with anyio.fail_after(60):
            first, status, errors = await anyio.to_thread.run_sync(list_then_hang_up, env)
    assert first.startswith(b"ID")
    assert status == 141
    assert b"Traceback" not in errors
