"""``aiodataops fleet apply|resume`` as a subprocess against an in-process emulator: exit codes, output, crashes."""

from __future__ import annotations

import os
import re
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import orjson
import pytest
from aiohttp import web
from anyio.streams.text import TextReceiveStream

from aiodataops._models import ServiceUpdate, ServiceWorkload, Workload
from aiodataops.emulator import PASSWORD_MARK, Emulator, FaultRule
from aiodataops.fleet._journal import read_journal
from tests.fleet.conftest import client_for, fast_emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from anyio.abc import Process

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


PLAN = """
update:
  service_workload:
    worker: {cpu: "2", memory: "4", replica: "5"}
targets:
  - select: {data_ops_service_id: "*"}
"""

#: A progress line (on standard error) saying a service's update was accepted.
ACCEPTED_LINE = re.compile(r"^\s*[\d.]+s  accepted +DOPS_SERVICE-")


def _env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
    env["SCP_ACCESS_KEY"] = emu.credentials.access_key
    env["SCP_SECRET_KEY"] = emu.credentials.secret_key
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "aiodataops", "fleet", *args]


async def run_fleet(emu: Emulator, cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the command to its end; return its exit status, stdout and stderr."""
    with anyio.fail_after(60):
        done = await anyio.run_process(
            _command(*args, "--endpoint", emu.base_url) if "resume" not in args else _command(*args),
            env=env or _env(emu),
            cwd=cwd,
            check=False,
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _plan(tmp_path: Path, text: str = PLAN) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


async def _lines(process: Process) -> AsyncIterator[str]:
    assert process.stderr is not None
    pending = ""
    async for chunk in TextReceiveStream(process.stderr):
        pending += chunk
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            yield line


async def _start_then_signal(
    emu: Emulator, cwd: Path, args: Sequence[str], *, after_accepted: int, sig: signal.Signals
) -> tuple[Process, list[str]]:
    """Start ``fleet apply``, send ``sig`` once it printed ``after_accepted`` acceptances, and return the process."""
    process = await anyio.open_process(
        _command(*args, "--endpoint", emu.base_url),
        env=_env(emu),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen: list[str] = []
    with anyio.fail_after(30):
        async for line in _lines(process):
            seen.append(line)
            if sum(1 for s in seen if ACCEPTED_LINE.match(s)) >= after_accepted:
                process.send_signal(sig)
                break
    return process, seen


@pytest.fixture
async def slow_emu() -> AsyncIterator[Emulator]:
    """An emulator whose updates take 0.2-0.5 s, so that a run can be interrupted with updates in flight."""
    async with fast_emulator(services_per_data_ops=5, update_duration=(0.2, 0.5)) as running:
        yield running


@pytest.mark.anyio
async def test_apply_succeeds_with_exit_0_and_a_private_json_report(emu: Emulator, tmp_path: Path) -> None:
    """Every target succeeding exits 0; --output json prints the report alone; --report writes it mode 0600."""
    plan = _plan(tmp_path)
    code, out, err = await run_fleet(
        emu, tmp_path, "apply", str(plan), "--output", "json", "--report", "r.json", "--batches", "50%"
    )
    assert code == 0, err
    report = orjson.loads(out)
    assert report["summary"]["counts"]["succeeded"] == 20
    assert report["summary"]["ok"] is True
    assert "batch 1: up to 10 services" in err
    assert "batch 2 done: 10 succeeded" in err
    written = tmp_path / "r.json"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert orjson.loads(written.read_bytes()) == report


@pytest.mark.anyio
async def test_a_failed_target_exits_1_and_is_named(emu: Emulator, tmp_path: Path) -> None:
    """A service ending in ERROR makes the run exit 1; the summary names it and the rest are skipped."""
    bad = emu.service_ids()[0]
    emu.force_outcome(bad, "ERROR")
    code, out, _ = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), "--concurrency", "1")
    assert code == 1
    assert re.search(rf"^  failed      {bad} \(ERROR\) in [\d.]+s: wait_failed", out, re.MULTILINE)
    assert "19 skipped" in out
    assert "stopped: budget_exceeded" in out


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("plan_text", "flags", "message"),
    [
        ("update: {service_workload: {worker: {cpu: 2}}}\ntargets: [x]\n", (), "update.service_workload.worker.cpu"),
        ("update: {description: a}\ntargets: [a, a]\n", (), "targets[1]: duplicate target a"),
        ("update: {description: a\n", (), "not valid YAML"),
        (PLAN, ("--batches", "0"), "argument --batches: a batch size must be above zero"),
        (PLAN, ("--max-failures", "ten"), "argument --max-failures: expected a whole number"),
        (PLAN, ("--put-retries", "-1"), "argument --put-retries: expected 0 or more, got -1"),
        (PLAN, ("--concurrency", "1000000"), "argument --concurrency: expected at most 4096, got 1000000"),
        (PLAN, ("--dry-run", "--journal", "j.jsonl"), "a dry run changes nothing"),
        ("update: {description: a}\ntargets: [{select: {data_ops_name: nothing-*}}]\n", (), "no service matched"),
    ],
)
async def test_bad_input_exits_2_and_sends_no_update(
    emu: Emulator, tmp_path: Path, plan_text: str, flags: tuple[str, ...], message: str
) -> None:
    """A bad plan, bad flags or an empty fleet exit 2 with a message naming the problem, and no PUT is sent."""
    code, _, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path, plan_text)), *flags)
    assert code == 2
    assert message in err
    assert emu.counters.total("update_service") == 0


@pytest.mark.anyio
async def test_missing_credentials_and_a_used_journal_exit_2(emu: Emulator, tmp_path: Path) -> None:
    """Without credentials, or with a journal that already holds a run, the command exits 2 before any request."""
    plan = str(_plan(tmp_path))
    env = _env(emu)
    del env["SCP_SECRET_KEY"]
    code, _, err = await run_fleet(emu, tmp_path, "apply", plan, env=env)
    assert code == 2
    assert "SCP_SECRET_KEY" in err
    (tmp_path / "used.jsonl").write_text('{"type": "header", "version": 1}\n')
    code, _, err = await run_fleet(emu, tmp_path, "apply", plan, "--journal", "used.jsonl")
    assert code == 2
    assert "already holds a run" in err
    assert sum(emu.counters.requests.values()) == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--report", "missing/r.json"), "--report missing/r.json: no such directory: missing"),
        (("--report", "."), "--report .: is a directory, not a file"),
        (("--journal", "missing/j.jsonl"), "--journal missing/j.jsonl: no such directory: missing"),
        (("--journal", "."), "--journal .: is a directory, not a file"),
        (("--journal", "run.jsonl", "--report", "./run.jsonl"), "--journal and --report name the same file"),
        (("--report", "plan.yaml/r.json"), "--report plan.yaml/r.json: plan.yaml is not a directory"),
    ],
)
async def test_an_output_that_cannot_be_written_exits_2_before_any_request(
    emu: Emulator, tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    """A report or journal path in a missing directory, a directory, or both the same file: exit 2, nothing sent."""
    code, out, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), *flags)
    assert (code, out) == (2, "")
    assert f"aiodataops fleet: {message}" in err
    assert "Traceback" not in err
    assert sum(emu.counters.requests.values()) == 0


@pytest.mark.anyio
@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: no permission to take away")
async def test_an_output_directory_without_write_permission_exits_2(emu: Emulator, tmp_path: Path) -> None:
    """A report in a directory the user may not write to exits 2 saying so, before any request."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), "--report", "locked/r.json")
    assert code == 2
    assert "--report locked/r.json: cannot create a file in locked (permission denied)" in err
    assert sum(emu.counters.requests.values()) == 0


@pytest.mark.anyio
async def test_resume_checks_its_outputs_before_any_request(emu: Emulator, tmp_path: Path) -> None:
    """``fleet resume`` with an unwritable --report exits 2 before reading or sending anything."""
    ids = emu.service_ids()[:2]
    plan = _plan(tmp_path, f"update: {{description: resumed}}\ntargets: [{ids[0]}, {ids[1]}]\n")
    code, _, err = await run_fleet(emu, tmp_path, "apply", str(plan), "--journal", "run.jsonl")
    assert code == 0, err
    before = sum(emu.counters.requests.values())
    code, _, err = await run_fleet(emu, tmp_path, "resume", "run.jsonl", "--report", "missing/r.json")
    assert code == 2
    assert "aiodataops fleet: --report missing/r.json: no such directory: missing" in err
    code, _, err = await run_fleet(emu, tmp_path, "resume", "run.jsonl", "--report", "run.jsonl")
    assert code == 2
    assert "JOURNAL and --report name the same file" in err
    assert sum(emu.counters.requests.values()) == before


@pytest.mark.anyio
async def test_credentials_refused_mid_run_exit_2(tmp_path: Path) -> None:
    """A server that starts refusing the credentials mid-run (401 after two accepted updates) makes the run exit 2."""
    emu = fast_emulator(services_per_data_ops=3)
    puts = 0

    @web.middleware
    async def token_expires_after_two_puts(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal puts
        if request.method == "PUT":
            puts += 1
            if puts > 2:
                return web.json_response({"code": "AUTH_TOKEN_EXPIRED", "message": "the token expired"}, status=401)
        return await handler(request)

    emu.app.middlewares.insert(0, token_expires_after_two_puts)
    async with emu:
        code, out, err = await run_fleet(
            emu, tmp_path, "apply", str(_plan(tmp_path)), "--concurrency", "1", "--max-failures", "1"
        )
    assert code == 2, err
    assert "2 changed" in out
    assert "aiodataops fleet: the server refused the credentials for 2 of 6 services; the first: PUT " in err
    assert "the token expired" in err
    assert sum(emu.counters.accepted_puts_per_service.values()) == 2


@pytest.mark.anyio
async def test_put_retries_reaches_the_run_and_a_resume_may_change_it(emu: Emulator, tmp_path: Path) -> None:
    """--put-retries 0 fails a target at its first 503, the journal records it, and resume takes an override."""
    emu.faults = (FaultRule("update_service", "503", limit=1),)
    plan = str(_plan(tmp_path))
    code, out, err = await run_fleet(
        emu, tmp_path, "apply", plan, "--put-retries", "0", "--journal", "run.jsonl", "--output", "json"
    )
    assert code == 1, err
    failed = [item for item in orjson.loads(out)["items"] if item["outcome"] == "failed"]
    assert [(item["error"]["kind"], item["error"]["status"]) for item in failed] == [("server_error", 503)]
    assert emu.counters.puts_per_service[failed[0]["data_ops_service_id"]] == 1
    code, _, err = await run_fleet(emu, tmp_path, "resume", "run.jsonl", "--put-retries", "2", "--max-failures", "1")
    assert code == 1, err
    records = [orjson.loads(line) for line in (tmp_path / "run.jsonl").read_bytes().splitlines()]
    assert records[0]["options"]["put_retries"] == 0
    assert [r["options"]["put_retries"] for r in records if r["type"] == "resumed"] == [2]


@pytest.mark.anyio
async def test_dry_run_exits_0_and_sends_no_put(emu: Emulator, tmp_path: Path) -> None:
    """A dry run lists each change once, on standard output only, by service name and id, ends with "N to change,
    N unchanged", exits 0 and sends no PUT."""
    ids = emu.service_ids()
    same = ids[0]  # already as the plan wants it
    await _put_in_place(emu, same)
    code, out, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), "--dry-run")
    assert code == 0, err
    assert re.search(r"^dry run: 20 targets read in [\d.]+s$", out, re.MULTILINE)
    assert out.splitlines()[-1] == "19 to change, 1 unchanged"
    for sid in ids[1:]:
        name = emu.service_body(sid)["data_ops_service_name"]
        assert out.count(f"  ~ {name} ({sid})\n") == 1
        assert sid not in err
    assert same not in out
    assert '      service_workload.worker.replica: "' in out
    assert emu.counters.total("update_service") == 1  # the set-up's own


async def _put_in_place(emu: Emulator, sid: str) -> None:
    """Give ``sid`` the plan's worker workload at once, as a finished earlier run would have."""
    async with client_for(emu) as client:
        update = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(cpu="2", memory="4", replica="5")))
        await client.services.update_and_wait(sid, update)


@pytest.mark.anyio
async def test_sigkill_then_resume_never_puts_an_accepted_service_twice(slow_emu: Emulator, tmp_path: Path) -> None:
    """A run killed with SIGKILL mid-flight (twice) and resumed ends complete, each service accepted exactly once."""
    emu = slow_emu
    args = ("apply", str(_plan(tmp_path)), "--journal", "run.jsonl", "--concurrency", "4")
    process, _ = await _start_then_signal(emu, tmp_path, args, after_accepted=3, sig=signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    state = read_journal(tmp_path / "run.jsonl")
    assert state.reattach or state.unconfirmed, "the kill should hit updates in flight"
    in_flight_at_kill = set(state.reattach) | set(state.unconfirmed)

    # The resume is killed too, once it has accepted a few more.
    resumed = await anyio.open_process(
        _command("resume", "run.jsonl"), env=_env(emu), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    with anyio.fail_after(30):
        accepted = 0
        async for line in _lines(resumed):
            accepted += ACCEPTED_LINE.match(line) is not None
            if accepted >= 2:
                resumed.send_signal(signal.SIGKILL)
                break
    await resumed.wait()

    code, out, err = await run_fleet(emu, tmp_path, "resume", "run.jsonl", "-o", "json")
    assert code == 0, err
    report = orjson.loads(out)
    ids = sorted(item["data_ops_service_id"] for item in report["items"])
    assert ids == sorted(emu.service_ids())
    assert report["summary"]["counts"]["succeeded"] == 10
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}
    assert set(emu.counters.puts_per_service.values()) == {1}
    resumed_ids = {item["data_ops_service_id"] for item in report["items"] if item["resumed"]}
    assert in_flight_at_kill <= resumed_ids


@pytest.mark.anyio
async def test_first_ctrl_c_lets_in_flight_settle_then_resume_finishes(slow_emu: Emulator, tmp_path: Path) -> None:
    """SIGINT: no new service starts, those in flight settle, exit 130 with the journal whole; resume completes."""
    emu = slow_emu
    args = ("apply", str(_plan(tmp_path)), "--journal", "run.jsonl", "--concurrency", "3", "--report", "r.json")
    process, seen = await _start_then_signal(emu, tmp_path, args, after_accepted=2, sig=signal.SIGINT)
    with anyio.fail_after(30):
        async for line in _lines(process):
            seen.append(line)
    assert await process.wait() == 130
    assert any("s  stopping: no new service starts" in line for line in seen)
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    counts = report["summary"]["counts"]
    assert report["summary"]["stopped"] == "interrupted"
    assert counts["succeeded"] >= 2
    assert counts["succeeded"] + counts["not_started"] == 10
    assert sum(emu.counters.accepted_puts_per_service.values()) == counts["succeeded"]
    state = read_journal(tmp_path / "run.jsonl")
    assert not state.reattach
    assert not state.unconfirmed
    assert len(state.ended) == counts["succeeded"]

    code, out, err = await run_fleet(emu, tmp_path, "resume", "run.jsonl")
    assert code == 0, err
    assert out.splitlines()[-1] == "10 changed, 0 unchanged, 0 failed, 0 timed out, 0 skipped, 0 not started"
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}


@pytest.mark.anyio
async def test_no_secret_reaches_output_report_or_journal(emu: Emulator, tmp_path: Path) -> None:
    """With a failure, a dry run and a journal, no secret key or account password appears anywhere written."""
    emu.force_outcome(emu.service_ids()[3], "ERROR")
    plan = str(_plan(tmp_path))
    texts: list[str] = []
    for args in (
        ("apply", plan, "--journal", "run.jsonl", "--report", "r.json", "--max-failures", "1"),
        ("apply", plan, "--dry-run", "--output", "json"),
    ):
        code, out, err = await run_fleet(emu, tmp_path, *args)
        assert code == 1 if "--journal" in args else code == 0, err
        texts += [out, err]
    texts += [(tmp_path / "run.jsonl").read_text(), (tmp_path / "r.json").read_text()]
    written = "\n".join(texts)
    assert "wait_failed" in written
    assert emu.credentials.secret_key not in written
    assert PASSWORD_MARK not in written
    assert "account_password" not in written


async def _run_printed(emu: Emulator, cwd: Path, line: str) -> tuple[int, str, str]:
    """Run a command line the CLI printed (``aiodataops fleet ...``) as printed, through this Python."""
    words = shlex.split(line)
    assert words[:2] == ["aiodataops", "fleet"], line
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "aiodataops", *words[1:]], env=_env(emu), cwd=cwd, check=False
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.anyio
async def test_applying_a_plan_twice_changes_nothing_the_second_time(emu: Emulator, tmp_path: Path) -> None:
    """The second apply of a plan sends no PUT and ends "0 changed, 20 unchanged, ..." with exit 0."""
    plan = str(_plan(tmp_path))
    code, out, err = await run_fleet(emu, tmp_path, "apply", plan)
    assert code == 0, err
    assert out.splitlines()[-1] == "20 changed, 0 unchanged, 0 failed, 0 timed out, 0 skipped, 0 not started"
    assert err.splitlines()[-1].startswith("aiodataops fleet: to undo this run: aiodataops fleet rollback ")
    code, out, err = await run_fleet(emu, tmp_path, "apply", plan)
    assert code == 0, err
    assert out.splitlines()[-1] == "0 changed, 20 unchanged, 0 failed, 0 timed out, 0 skipped, 0 not started"
    assert "rollback" not in err
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}
    assert emu.counters.total("update_service") == 20


@pytest.mark.anyio
async def test_without_journal_a_private_default_one_is_kept_and_a_failure_prints_the_way_back(
    emu: Emulator, tmp_path: Path
) -> None:
    """Without --journal the run journals under $AIODATAOPS_STATE_DIR (0600); after a failure the last stderr lines
    are the rollback and resume commands, and the printed rollback puts every changed service back."""
    ids = emu.service_ids()
    prior = {sid: emu.service_body(sid)["service_workload"]["worker"] for sid in ids}
    emu.force_outcome(ids[3], "ERROR")
    code, out, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), "--concurrency", "1")
    assert code == 1
    assert "3 changed, 0 unchanged, 1 failed, 0 timed out, 16 skipped, 0 not started" in out
    *_, rollback, resume = err.splitlines()
    journal = shlex.split(resume)[-1]
    assert resume == f"aiodataops fleet resume {shlex.quote(journal)}"
    assert rollback == f"aiodataops fleet rollback {shlex.quote(journal)}"
    assert journal.startswith(str(Path(os.environ["AIODATAOPS_STATE_DIR"]) / "journals" / "apply-"))
    assert stat.S_IMODE((await anyio.Path(journal).stat()).st_mode) == 0o600
    code, out, err = await _run_printed(emu, tmp_path, rollback)
    assert code == 0, err
    assert out.splitlines()[-1] == "4 changed, 0 unchanged, 0 failed, 0 timed out, 0 skipped, 0 not started"
    assert {sid: emu.service_body(sid)["service_workload"]["worker"] for sid in ids} == prior


@pytest.mark.anyio
async def test_interrupting_apply_without_journal_prints_a_resume_command_that_works(
    slow_emu: Emulator, tmp_path: Path
) -> None:
    """Ctrl-C on `fleet apply` without --journal exits 130 with the resume command last on stderr; it completes."""
    emu = slow_emu
    args = ("apply", str(_plan(tmp_path)), "--concurrency", "2")
    process, _ = await _start_then_signal(emu, tmp_path, args, after_accepted=2, sig=signal.SIGINT)
    assert process.stderr is not None
    rest = "".join([chunk.decode() async for chunk in process.stderr])
    assert await process.wait() == 130
    last = rest.splitlines()[-1]
    assert last.startswith("aiodataops fleet resume ")
    code, _, err = await _run_printed(emu, tmp_path, last)
    assert code == 0, err
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}
    assert len(emu.counters.accepted_puts_per_service) == 10


@pytest.mark.anyio
async def test_fleet_rollback_dry_run_then_rollback_then_a_refused_journal(emu: Emulator, tmp_path: Path) -> None:
    """`fleet rollback --dry-run` lists what goes back and sends nothing; `fleet rollback` puts it back (exit 0); a
    journal without before-images is refused with exit 2 before any request."""
    ids = emu.service_ids()[:3]
    plan = _plan(tmp_path, "update: {service_workload: {worker: {replica: '5'}}}\ntargets: [" + ", ".join(ids) + "]\n")
    prior = {sid: emu.service_body(sid)["service_workload"]["worker"]["replica"] for sid in ids}
    code, _, err = await run_fleet(emu, tmp_path, "apply", str(plan), "--journal", "run.jsonl")
    assert code == 0, err
    puts = emu.counters.total("update_service")
    code, out, err = await run_fleet(emu, tmp_path, "rollback", "run.jsonl", "--dry-run")
    assert code == 0, err
    assert out.splitlines()[-1] == "3 to change, 0 unchanged"
    for sid in ids:
        assert f'      service_workload.worker.replica: "5" -> "{prior[sid]}"' in out
    assert emu.counters.total("update_service") == puts
    code, out, err = await run_fleet(emu, tmp_path, "rollback", "run.jsonl")
    assert code == 0, err
    assert out.splitlines()[-1] == "3 changed, 0 unchanged, 0 failed, 0 timed out, 0 skipped, 0 not started"
    assert {sid: emu.service_body(sid)["service_workload"]["worker"]["replica"] for sid in ids} == prior
    assert (tmp_path / "run.rollback.jsonl").exists()
    old = tmp_path / "old.jsonl"
    old.write_bytes(b'{"type": "header", "version": 1, "options": {}}\n')
    requests = sum(emu.counters.requests.values())
    code, out, err = await run_fleet(emu, tmp_path, "rollback", "old.jsonl")
    assert (code, out) == (2, "")
    assert "holds no before-images" in err
    assert sum(emu.counters.requests.values()) == requests


@pytest.mark.anyio
async def test_a_plan_with_selectors_is_counted_first_so_progress_has_a_total(emu: Emulator, tmp_path: Path) -> None:
    """Off a terminal, `fleet apply` of a select: plan counts its targets first (one listing pass): the first
    progress line names the total instead of "targets resolve as the run goes", and the summary line shows N/20."""
    code, _, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), "--concurrency", "4")
    assert code == 0, err
    first = err.splitlines()[0]
    assert re.match(r"^\s*[\d.]+s  20 targets, concurrency 4$", first), first
    assert re.search(r"done in \S+: 20/20 ended", err)


@pytest.mark.anyio
async def test_a_rollback_killed_mid_way_is_finished_by_fleet_resume(slow_emu: Emulator, tmp_path: Path) -> None:
    """`fleet rollback` killed with SIGKILL mid-flight is continued by `fleet resume` on its journal: every service
    back to its prior values, each with exactly one rollback PUT."""
    emu = slow_emu
    ids = emu.service_ids()
    prior = {sid: emu.service_body(sid)["service_workload"]["worker"] for sid in ids}
    code, _, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), "--journal", "run.jsonl")
    assert code == 0, err
    args = ("rollback", "run.jsonl", "--concurrency", "3")
    process, _ = await _start_then_signal(emu, tmp_path, args, after_accepted=2, sig=signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    state = read_journal(tmp_path / "run.rollback.jsonl")
    assert len(state.ended) < len(ids)
    code, _, err = await run_fleet(emu, tmp_path, "resume", "run.rollback.jsonl")
    assert code == 0, err
    assert {sid: emu.service_body(sid)["service_workload"]["worker"] for sid in ids} == prior
    assert set(emu.counters.accepted_puts_per_service.values()) == {2}
