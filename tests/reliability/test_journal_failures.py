"""A journal that cannot be written, or was edited by hand: a clear error (exit 2), and a run that resumes."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import anyio
import orjson
import pytest

from tests.fleet.conftest import fast_emulator

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops.emulator import Emulator

PLAN = 'update: {description: "new"}\ntargets:\n  - select: {data_ops_service_id: "*"}\n'


def _env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
    return env | {"SCP_ACCESS_KEY": emu.credentials.access_key, "SCP_SECRET_KEY": emu.credentials.secret_key}


async def _fleet(emu: Emulator, cwd: Path, *args: str, file_size_kib: int | None = None) -> tuple[int, str]:
    """Run ``aiodataops fleet ARGS`` (with files limited to ``file_size_kib``); return its status and stderr."""
    command = [sys.executable, "-m", "aiodataops", "fleet", *args]
    if file_size_kib is not None:
        # A file that cannot grow past the limit: its writes fail with EFBIG, as they would with ENOSPC on a full disk.
        command = ["bash", "-c", f'ulimit -f {file_size_kib} && exec "$@"', "bash", *command]
    with anyio.fail_after(60):
        done = await anyio.run_process(command, env=_env(emu), cwd=cwd, check=False)
    return done.returncode, done.stderr.decode()


@pytest.mark.anyio
async def test_a_journal_that_cannot_grow_stops_the_run_clearly_and_a_resume_finishes_it(tmp_path: Path) -> None:
    """Journal writes failing mid-run: exit 2 with a message saying to resume, no group traceback; resume: each once."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    async with fast_emulator() as emu:
        code, err = await _fleet(
            emu, tmp_path, "apply", "plan.yaml", "--journal", "run.jsonl", "--endpoint", emu.base_url,
            file_size_kib=4,
        )  # fmt: skip
        assert code == 2, err
        last = err.strip().splitlines()[-1]
        assert "run.jsonl: cannot write the journal (File too large)" in last
        assert "aiodataops fleet resume run.jsonl" in last
        assert "ExceptionGroup" not in err
        assert emu.counters.accepted_puts_per_service  # the run got some way before the journal filled up

        code, err = await _fleet(emu, tmp_path, "resume", "run.jsonl")
        assert code == 0, err
    assert dict(emu.counters.accepted_puts_per_service) == dict.fromkeys(emu.service_ids(), 1)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("plan", "plan.yaml", "plan must be an object or null, not a string"),
        ("options", [1, 2], "options must be an object, not a list"),
    ],
)
async def test_a_hand_edited_journal_header_exits_2_naming_the_field(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    """``plan`` a string or ``options`` a list in the header: exit 2 with the field's name, not a TypeError."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    async with fast_emulator() as emu:
        code, err = await _fleet(
            emu, tmp_path, "apply", "plan.yaml", "--journal", "run.jsonl", "--endpoint", emu.base_url
        )
        assert code == 0, err
        journal = tmp_path / "run.jsonl"
        lines = journal.read_bytes().splitlines(keepends=True)
        header = orjson.loads(lines[0])
        header[field] = value
        journal.write_bytes(orjson.dumps(header) + b"\n" + b"".join(lines[1:]))
        code, err = await _fleet(emu, tmp_path, "resume", "run.jsonl")
    assert code == 2
    assert message in err
    assert "Traceback" not in err
