"""``aiodataops emulator`` prints ready-to-paste ``export SCP_...`` lines, writes them with ``--env-file`` (0600),
and ``-o json`` prints the same as one object; pasted into a shell, the lines are all ``services list`` needs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
from typing import TYPE_CHECKING

import orjson
import pytest

from aiodataops.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: A secret key a shell would mangle unless it is quoted.
AWKWARD_SECRET = "it's a $ecret & `more`"


@contextlib.contextmanager
def emulator(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Run ``aiodataops emulator --port 0 ARGS``; yield it and its stdout lines up to "Serving until interrupted"."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "aiodataops", "emulator", "--port", "0", "--services", "3", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith(("Serving", "{")):
            line = process.stdout.readline()
            assert line, f"the emulator ended early: {process.stderr.read() if process.stderr else ''}"
            lines.append(line.rstrip("\n"))
        yield process, lines
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_export_lines_paste_into_a_shell_and_the_env_file_is_private(tmp_path: Path) -> None:
    """The printed lines (an unset, then export SCP_DATAOPS_ENDPOINT, SCP_ACCESS_KEY, SCP_SECRET_KEY) equal the
    --env-file's, which is mode 0600; sourced in a shell that has a region, env and token set, they are enough for
    `services list` (with --debug after the sub-command) to list every service."""
    env_file = tmp_path / "emulator.env"
    env_file.write_text("old\n")
    env_file.chmod(0o644)  # an existing file is made private too
    with emulator("--env-file", str(env_file), "--secret-key", AWKWARD_SECRET) as (_, lines):
        pasted = [line for line in lines if line.startswith(("export ", "unset "))]
        assert [line.split("=")[0] for line in pasted] == [
            "unset SCP_REGION SCP_ENV SCP_AUTH_TOKEN",
            "export SCP_DATAOPS_ENDPOINT",
            "export SCP_ACCESS_KEY",
            "export SCP_SECRET_KEY",
        ]
        assert env_file.read_text().splitlines() == pasted
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        shell_env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
        shell_env |= {"SCP_REGION": "kr-west1", "SCP_ENV": "e", "SCP_AUTH_TOKEN": "stale-token"}
        program = (
            "\n".join(pasted)
            + f'\nprintf "%s" "$SCP_SECRET_KEY" > {tmp_path}/secret'
            + f"\nexec {sys.executable} -m aiodataops services list -o json --debug"
        )
        done = subprocess.run(
            ["bash", "-c", program], env=shell_env, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "secret").read_text() == AWKWARD_SECRET
    assert len(orjson.loads(done.stdout)) == 3
    assert "DEBUG aiodataops.transport" in done.stderr
    assert AWKWARD_SECRET not in done.stderr


def test_output_json_prints_one_object() -> None:
    """-o json prints one JSON object with the endpoint, the throwaway credentials and the fleet's size."""
    with emulator("-o", "json") as (_, lines):
        document = orjson.loads(lines[-1])
    assert document["endpoint"].startswith("http://127.0.0.1:")
    assert document["access_key"]
    assert document["secret_key"]
    assert (document["services"], document["data_ops"]) == (3, 2)


def test_an_env_file_that_cannot_be_written_exits_2_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--env-file in a missing directory is a usage error (exit 2) naming the flag; nothing is served."""
    assert main(["emulator", "--env-file", str(tmp_path / "missing" / "x.env")]) == 2
    captured = capsys.readouterr()
    assert "aiodataops emulator: --env-file" in captured.err
    assert "no such directory" in captured.err
    assert captured.out == ""
