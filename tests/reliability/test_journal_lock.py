"""One journal, one run at a time: a second run of a held journal is refused, a dead run's journal is taken over."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import anyio
import orjson
import pytest

from aiodataops.fleet import FleetEvent, JournalInUseError, TargetAccepted, parse_plan, read_journal
from aiodataops.fleet._journal import Journal
from tests.fleet.conftest import client_for, fast_emulator

if TYPE_CHECKING:
    from pathlib import Path

    from anyio.abc import Process

#: A second process that takes a journal over and holds it until its standard input closes.
HOLDER = textwrap.dedent(
    """
    import sys, anyio
    from aiodataops.fleet._journal import Journal

    async def main() -> None:
        journal, _ = await Journal.reopen(sys.argv[1], options={})
        print("locked", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)
        await journal.aclose()

    anyio.run(main)
    """
)


async def _holder(path: Path) -> Process:
    """Start a process holding ``path``, and return once it holds it."""
    process = await anyio.open_process(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    with anyio.fail_after(30):
        assert (await process.stdout.receive()).startswith(b"locked")
    return process


def _records(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.anyio
async def test_a_journal_held_in_this_process_is_refused_to_a_second_run(tmp_path: Path) -> None:
    """While a run holds its journal, creating or reopening it again fails naming this pid; once closed, it opens."""
    path = tmp_path / "run.jsonl"
    first = await Journal.create(path, plan=None, options={})
    with pytest.raises(JournalInUseError, match=rf"journal in use by pid {os.getpid()}") as caught:
        await Journal.reopen(path, options={})
    assert caught.value.pid == os.getpid()
    with pytest.raises(JournalInUseError):
        await Journal.create(path, plan=None, options={})
    await first.aclose()
    second, _ = await Journal.reopen(path, options={})
    await second.aclose()
    assert [r["type"] for r in _records(path)] == ["header", "resumed"]


@pytest.mark.anyio
async def test_apply_and_resume_of_one_journal_at_once_send_each_update_once(tmp_path: Path) -> None:
    """A resume started while ``apply`` runs on the same journal is refused: every service is updated exactly once."""
    path = tmp_path / "run.jsonl"
    async with fast_emulator(update_duration=(0.1, 0.2)) as emu:
        ids = emu.service_ids()
        plan = parse_plan({"update": {"description": "new"}, "targets": ids}, path="plan.yaml")
        accepted = anyio.Event()

        def on_event(event: FleetEvent) -> None:
            if isinstance(event, TargetAccepted):
                accepted.set()

        async with client_for(emu) as client, anyio.create_task_group() as group:
            reports = []

            async def apply() -> None:
                reports.append(await client.fleet.apply(plan, concurrency=4, journal=path, on_event=on_event))

            group.start_soon(apply)
            await accepted.wait()
            with pytest.raises(JournalInUseError, match=f"in use by pid {os.getpid()}"):
                await client.fleet.resume(path)
            with pytest.raises(JournalInUseError):
                await client.fleet.apply(plan, journal=path, resume=True)
    assert reports[0].counts["succeeded"] == len(ids)
    assert dict(emu.counters.accepted_puts_per_service) == dict.fromkeys(ids, 1)
    assert [r["type"] for r in _records(path)].count("resumed") == 0


@pytest.mark.anyio
async def test_another_process_holding_the_journal_is_named_and_its_lock_dies_with_it(tmp_path: Path) -> None:
    """Held by another process: refused with its pid (the CLI exits 2 saying so); once it is killed, taken over."""
    path = tmp_path / "run.jsonl"
    plan = parse_plan({"update": {"description": "new"}, "targets": ["DOPS_SERVICE-1"]}, path="plan.yaml")
    header_plan = {"path": plan.path, "sha256": plan.sha256, "data": plan.data}
    async with await Journal.create(path, plan=header_plan, options={}, endpoint="http://127.0.0.1:9"):
        pass
    process = await _holder(path)
    try:
        with pytest.raises(JournalInUseError, match=f"journal in use by pid {process.pid}") as caught:
            await Journal.reopen(path, options={})
        assert caught.value.pid == process.pid
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
        env |= {"SCP_ACCESS_KEY": "AK", "SCP_SECRET_KEY": "SK"}
        with anyio.fail_after(60):
            done = await anyio.run_process(
                [sys.executable, "-m", "aiodataops", "fleet", "resume", str(path)], env=env, check=False
            )
        stderr = done.stderr.decode()
        assert done.returncode == 2, stderr
        assert f"journal in use by pid {process.pid}" in stderr
        assert "Traceback" not in stderr
    finally:
        process.kill()  # like kill -9: no clean-up runs, the kernel drops the lock
        await process.wait()
    journal, state = await Journal.reopen(path, options={})
    await journal.aclose()
    pids = [r.get("pid") for r in _records(path) if r["type"] == "resumed"]
    assert pids == [process.pid, os.getpid()]
    assert state.records == 2
    assert read_journal(path).ended == {}
