"""Crash and resume: ``aiodataops fleet`` killed with SIGKILL at seeded points, then resumed until it is done.

The emulator lives in the test's process, so it keeps its state (and its counters) across the command's deaths.
A kill point is "after the N-th progress line, plus a short pause" with N and the pause drawn from a seeded
generator: the kills land while PUTs are in flight, while services are polled, and between journal writes. After
some kills the journal's last record is also cut in half, as if the crash had hit that write.
(tests/fleet/test_cli.py kills a run twice after a fixed number of acceptances; this suite varies the points.)
"""

from __future__ import annotations

import random
import signal
import subprocess
from typing import TYPE_CHECKING

import anyio
import orjson
import pytest

from aiodataops.emulator import Emulator
from aiodataops.fleet import read_journal
from tests.reliability._support import EVERY_SERVICE, Witness, command_env, fleet_command, stderr_lines

if TYPE_CHECKING:
    from pathlib import Path

KILLS = 4


async def _run_and_kill(emu: Emulator, cwd: Path, args: list[str], *, after_lines: int, pause: float) -> int | None:
    """Run the command; SIGKILL it once it printed ``after_lines`` lines and ``pause`` more seconds passed.

    Returns the exit status when the command ended on its own first, ``None`` when it was killed.
    """
    process = await anyio.open_process(
        fleet_command(*args), env=command_env(emu), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    printed = 0
    with anyio.fail_after(30):
        async for _ in stderr_lines(process):
            printed += 1
            if printed >= after_lines:
                # The pause is the randomness of the kill point itself, not a wait for something to happen.
                await anyio.sleep(pause)
                process.send_signal(signal.SIGKILL)
                break
        status = await process.wait()
    await process.aclose()
    return None if status == -signal.SIGKILL else status


def _last_record_kind(journal: Path) -> str | None:
    """The ``type`` of the journal's last whole record."""
    whole = journal.read_bytes()
    whole = whole[: whole.rfind(b"\n") + 1]  # a kill may have cut the last write: only whole lines count
    lines = whole.rstrip(b"\n").split(b"\n")
    record = orjson.loads(lines[-1]) if lines[-1] else {}
    return record.get("type") if isinstance(record, dict) else None


def _tear_last_record(journal: Path, rng: random.Random) -> int:
    """Cut the journal inside its last line, as a crash in the middle of that write would; return bytes cut."""
    data = journal.read_bytes()
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    cut = rng.randint(start + 1, len(data) - 2)
    journal.write_bytes(data[:cut])
    return len(data) - cut


@pytest.mark.slow
@pytest.mark.anyio
async def test_killed_at_seeded_points_and_resumed_the_run_ends_complete_with_no_update_twice(tmp_path: Path) -> None:
    """After SIGKILLs at seeded points (and torn journal tails), resuming finishes every service, each updated once."""
    rng = random.Random(20251130)
    witness = Witness()
    # Real time on both sides (the command is another process). Enough services, and updates slow enough, that four
    # kills always land before the work runs out, however fast the machine: a kill comes at most 24 progress lines
    # and 0.15 s into a run, while 60 updates of 0.3-0.6 s at concurrency 6 take seconds.
    emulator = Emulator(data_ops=2, services_per_data_ops=30, seed=5, update_duration=(0.3, 0.6))
    witness.attach(emulator)
    plan = tmp_path / "plan.json"
    plan.write_bytes(orjson.dumps(EVERY_SERVICE))
    journal = tmp_path / "run.jsonl"
    async with emulator as emu:
        args = ["apply", str(plan), "--journal", journal.name, "--concurrency", "6", "--endpoint", emu.base_url]
        kills = torn = in_flight = 0
        ended_by_itself: int | None = None
        while kills < KILLS:
            ended_by_itself = await _run_and_kill(
                emu, tmp_path, args, after_lines=rng.randint(2, 24), pause=rng.uniform(0.0, 0.15)
            )
            if ended_by_itself is not None:
                break
            kills += 1
            state = read_journal(journal)
            in_flight += len(state.reattach) + len(state.unconfirmed)
            # A torn ``intent`` would claim a PUT that went out was never sent: an intent is durable before its
            # PUT, so a crash can tear one only while nothing was sent yet. Tear only records that follow a send.
            if rng.random() < 0.5 and _last_record_kind(journal) != "intent":
                _tear_last_record(journal, rng)
                state = read_journal(journal)
                assert state.truncated
                assert state.valid_length == journal.read_bytes().rfind(b"\n") + 1
                torn += 1
            args = ["resume", journal.name]
        assert kills == KILLS, f"the run ended by itself (status {ended_by_itself}) after {kills} kills"
        assert torn
        assert in_flight, "no kill hit an update in flight"

        with anyio.fail_after(30):
            done = await anyio.run_process(
                fleet_command("resume", journal.name, "--output", "json"),
                env=command_env(emu),
                cwd=tmp_path,
                check=False,
            )
        ids = emu.service_ids()

    assert done.returncode == 0, done.stderr.decode()
    report = orjson.loads(done.stdout)
    assert sorted(item["data_ops_service_id"] for item in report["items"]) == sorted(ids)
    assert report["summary"]["counts"]["succeeded"] == len(ids)
    assert any(item["resumed"] for item in report["items"])
    # No service was updated twice, and none was even sent a PUT after one of its PUTs was accepted.
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}
    assert len(emu.counters.accepted_puts_per_service) == len(ids)
    assert witness.puts_after_acceptance() == {}
    # Every torn tail was cut away before appending: the journal is whole records only.
    lines = journal.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert all(isinstance(orjson.loads(line), dict) for line in lines[:-1])
    final = read_journal(journal)
    assert not final.truncated
    assert len(final.ended) == len(ids)
