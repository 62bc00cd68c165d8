"""A journal that cannot be written, or was edited by hand: a clear error (exit 2), and a run that resumes."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import anyio
import orjson
import pytest

from aiodataops.emulator import PASSWORD_MARK
from tests.fleet.conftest import fast_emulator

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops.emulator import Emulator

PLAN = 'update: {description: "new"}\ntargets:\n  - select: {data_ops_service_id: "*"}\n'


def _env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
    return env | {"SCP_ACCESS_KEY": emu.credentials.access_key, "SCP_SECRET_KEY": emu.credentials.secret_key}


async def _fleet(emu: Emulator, cwd: Path, *args: str, file_size_kib: int | None = None) -> tuple[int, str, str]:
    """Run ``aiodataops fleet ARGS`` (with files limited to ``file_size_kib``); return its status, stdout, stderr."""
    command = [sys.executable, "-m", "aiodataops", "fleet", *args]
    if file_size_kib is not None:
        # A file that cannot grow past the limit: its writes fail with EFBIG, as they would with ENOSPC on a full disk.
        command = ["bash", "-c", f'ulimit -f {file_size_kib} && exec "$@"', "bash", *command]
    with anyio.fail_after(60):
        done = await anyio.run_process(command, env=_env(emu), cwd=cwd, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.anyio
async def test_a_journal_that_cannot_grow_halts_the_run_cleanly_and_a_resume_finishes_it(tmp_path: Path) -> None:
    """Journal writes failing mid-run: the run halts (stopped ``error``, kind ``journal``), the targets whose intent
    failed are not started and got no PUT, those in flight settle, exit 2 with one line naming the journal and the
    cause and no traceback; nothing secret is written; a resume then updates every service exactly once."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    async with fast_emulator() as emu:
        code, out, err = await _fleet(
            emu, tmp_path, "apply", "plan.yaml", "--journal", "run.jsonl", "--endpoint", emu.base_url, "-o", "json",
            "--concurrency", "2", file_size_kib=4,
        )  # fmt: skip
        # Two at a time, each service's records (about 0.9 KiB) follow its intent closely, so the 4 KiB fill up
        # after a few services: the later intents fail, whatever the machine's pace.
        assert code == 2, err
        said = [line for line in err.splitlines() if "cannot write the journal" in line and "not started" not in line]
        assert said == [
            (
                "aiodataops fleet: run.jsonl: cannot write the journal (File too large); the run stops here, and what "
                "the journal holds stays valid: once the cause is fixed, continue with `aiodataops fleet resume "
                "run.jsonl`"
            )
        ]
        assert err.splitlines()[-1] == "aiodataops fleet resume run.jsonl"
        for noise in ("Traceback", "ExceptionGroup", "ERROR", "aborted"):
            assert noise not in err
        report = orjson.loads(out)
        assert report["summary"]["stopped"] == "error"
        assert report["summary"]["error_kind"] == "journal"
        outcomes = {item["data_ops_service_id"]: item["outcome"] for item in report["items"]}
        assert set(outcomes.values()) <= {"succeeded", "not_started"}
        not_started = [sid for sid, outcome in outcomes.items() if outcome == "not_started"]
        assert not_started, "the journal should fill up before the run ends"
        assert not any(emu.counters.puts_per_service[sid] for sid in not_started)
        # Accepted before the journal filled up: followed to the end, not abandoned.
        accepted = set(emu.counters.accepted_puts_per_service)
        assert accepted, "the run should get some way before the journal fills up"
        assert accepted == {sid for sid, outcome in outcomes.items() if outcome == "succeeded"}
        written = (tmp_path / "run.jsonl").read_text() + out + err
        for secret in (emu.credentials.secret_key, PASSWORD_MARK):
            assert secret not in written

        code, _, err = await _fleet(emu, tmp_path, "resume", "run.jsonl", "--concurrency", "8")
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
        code, _, err = await _fleet(
            emu, tmp_path, "apply", "plan.yaml", "--journal", "run.jsonl", "--endpoint", emu.base_url
        )
        assert code == 0, err
        journal = tmp_path / "run.jsonl"
        lines = journal.read_bytes().splitlines(keepends=True)
        header = orjson.loads(lines[0])
        header[field] = value
        journal.write_bytes(orjson.dumps(header) + b"\n" + b"".join(lines[1:]))
        code, _, err = await _fleet(emu, tmp_path, "resume", "run.jsonl")
    assert code == 2
    assert message in err
    assert "Traceback" not in err
