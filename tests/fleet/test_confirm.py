"""The question before the first PUT: when it is asked, how it is answered, and a real run on a pseudo-terminal."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import pytest

from aiodataops.cli._confirm import ask, should_confirm
from tests.fleet.test_cli import PLAN, _env

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops.emulator import Emulator


@pytest.mark.parametrize(
    ("yes", "dry_run", "stdin_tty", "stdout_tty", "asked"),
    [
        (False, False, True, True, True),
        (True, False, True, True, False),
        (False, True, True, True, False),
        (False, False, False, True, False),
        (False, False, True, False, False),
        (False, False, False, False, False),
    ],
)
def test_the_question_is_asked_only_on_two_terminals_without_yes(
    *, yes: bool, dry_run: bool, stdin_tty: bool, stdout_tty: bool, asked: bool
) -> None:
    """Asked only when stdin and stdout are terminals, without --yes and not in a dry run (never in CI or pipes)."""
    assert should_confirm(yes=yes, dry_run=dry_run, stdin_tty=stdin_tty, stdout_tty=stdout_tty) is asked


@pytest.mark.parametrize(
    ("answer", "yes"), [("y\n", True), ("YES\n", True), ("\n", False), ("n\n", False), ("", False)]
)
def test_only_y_or_yes_is_yes(answer: str, *, yes: bool) -> None:
    """y or yes (any case) says yes; an empty line, anything else or end of input says no."""
    out = io.StringIO()
    assert ask("Apply to 3 services?", io.StringIO(answer), out) is yes
    assert out.getvalue().startswith("Apply to 3 services? [y/N] ")


async def _on_a_terminal(emu: Emulator, cwd: Path, answer: bytes, *args: str) -> tuple[int, str]:
    """Run `fleet apply` with stdin and stdout on a pseudo-terminal, answer the question, return status and output."""
    main, other = pty.openpty()
    process = subprocess.Popen(  # noqa: ASYNC220 -- a pty needs Popen's file descriptors; waited for in a thread
        [sys.executable, "-m", "aiodataops", "fleet", "apply", *args, "--endpoint", emu.base_url],
        stdin=other,
        stdout=other,
        stderr=subprocess.DEVNULL,
        env=_env(emu),
        cwd=cwd,
    )
    os.close(other)
    seen = b""
    with anyio.fail_after(30):
        while b"[y/N] " not in seen:
            seen += await anyio.to_thread.run_sync(os.read, main, 4096)
        os.write(main, answer)
        status = await anyio.to_thread.run_sync(process.wait)
        while True:
            try:
                chunk = await anyio.to_thread.run_sync(os.read, main, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            seen += chunk
    os.close(main)
    return status, seen.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.anyio
async def test_on_a_terminal_apply_shows_the_dry_run_and_asks_before_the_first_put(
    emu: Emulator, tmp_path: Path
) -> None:
    """On a terminal: the dry run's summary, then "Apply to 20 services? [y/N]"; n sends nothing (exit 1), y applies."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    status, shown = await _on_a_terminal(emu, tmp_path, b"n\n", str(plan))
    assert status == 1
    assert "20 to change, 0 unchanged\nApply to 20 services? [y/N] " in shown
    assert emu.counters.total("update_service") == 0
    status, shown = await _on_a_terminal(emu, tmp_path, b"y\n", str(plan))
    assert status == 0, shown
    assert shown.rstrip().endswith("20 changed, 0 unchanged, 0 failed, 0 timed out, 0 skipped, 0 not started")
    assert emu.counters.total("update_service") == 20
