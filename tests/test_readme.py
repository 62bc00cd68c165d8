"""The README tells the truth: its SDK example runs and its plan example is a valid plan."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import anyio
import pytest

from aiodataops.emulator import Emulator
from aiodataops.fleet import parse_plan

README = (Path(__file__).parent.parent / "README.md").read_text()


def block(after_heading: str, language: str) -> str:
    """The first fenced block of ``language`` after a heading."""
    match = re.search(rf"## {re.escape(after_heading)}\n.*?```{language}\n(.*?)```", README, re.DOTALL)
    assert match, f"no {language} block under {after_heading!r}"
    return match.group(1)


@pytest.mark.anyio
async def test_the_ten_line_example_runs_against_the_emulator(tmp_path: Path) -> None:
    """The README's SDK example, run as written with SCP_* pointing at an emulator, updates a service and exits 0."""
    script = tmp_path / "example.py"
    script.write_text(block("The SDK in ten lines", "python"))
    async with Emulator(update_duration=(0.05, 0.1)) as emu:
        env = {
            **os.environ,
            "SCP_ACCESS_KEY": emu.credentials.access_key,
            "SCP_SECRET_KEY": emu.credentials.secret_key,
            "SCP_DATAOPS_ENDPOINT": emu.base_url,
        }
        with anyio.fail_after(60):
            done = await anyio.run_process([sys.executable, str(script)], env=env, check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert max(emu.counters.accepted_puts_per_service.values()) == 1
    lines = done.stdout.decode().splitlines()
    assert lines[-1].startswith("RUNNING ")
    assert "cpu='4', memory='8', replica='3'" in lines[-1]


def test_the_plan_example_is_a_valid_plan() -> None:
    """The README's fleet plan parses into a plan with its three targets."""
    plan = parse_plan(block("Fleet updates", "yaml"))
    assert len(plan.targets) == 3
