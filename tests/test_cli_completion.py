"""``aiodataops completion bash|zsh|fish``: a script per shell, drawn from the real parser, completing file paths."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from aiodataops.cli import main

if TYPE_CHECKING:
    from pathlib import Path

SUB_COMMANDS = ("demo", "fleet", "apply", "resume", "services", "list", "get", "update", "emulator", "completion")


def _script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script_naming_every_sub_command(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each shell gets a non-empty script that knows every sub-command and the shared flags."""
    script = _script(shell, capsys)
    assert script.strip()
    for word in (*SUB_COMMANDS, "debug", "output", "query"):  # fish writes flags as `-l debug`
        assert word in script, f"{shell}: {word} missing"


def test_an_unknown_shell_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A shell it cannot complete for is a usage error naming the choices."""
    with pytest.raises(SystemExit) as caught:
        main(["completion", "tcsh"])
    assert caught.value.code == 2
    assert "choose from bash, zsh, fish" in capsys.readouterr().err.replace("'", "")


@pytest.fixture
def bash_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    path = tmp_path / "aiodataops.bash"
    path.write_text(_script("bash", capsys))
    return path


def test_bash_accepts_the_script(bash_script: Path) -> None:
    """`bash -n` parses the bash script without a complaint."""
    done = subprocess.run(["bash", "-n", str(bash_script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def _complete(script: Path, cwd: Path, *words: str) -> list[str]:
    """What bash offers for the last of ``words`` (``""``: a new word) after ``aiodataops``, run in ``cwd``."""
    line = " ".join(("aiodataops", *words))
    program = (
        f"source {script}\n"
        f"COMP_WORDS=(aiodataops {' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words)}\n"
        f"COMP_LINE={line!r}\n"
        "COMP_POINT=${#COMP_LINE}\n"
        "_shtab_aiodataops\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", program], cwd=cwd, capture_output=True, text=True, check=True)
    return sorted(filter(None, done.stdout.splitlines()))


def test_bash_completes_commands_plans_and_journals(bash_script: Path, tmp_path: Path) -> None:
    """In bash, `aiodataops s<TAB>` offers services; a plan completes to YAML/JSON files and directories, a journal
    (and --report) to any file."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("plan.yaml", "other.json", "notes.txt", "run.jsonl"):
        (work / name).write_text("")
    (work / "plans").mkdir()
    assert _complete(bash_script, work, "s") == ["services"]
    assert _complete(bash_script, work, "fleet", "") == ["apply", "resume", "rollback"]
    assert _complete(bash_script, work, "fleet", "apply", "") == ["other.json", "plan.yaml", "plans"]
    assert _complete(bash_script, work, "fleet", "resume", "r") == ["run.jsonl"]
    assert _complete(bash_script, work, "fleet", "apply", "plan.yaml", "--report", "n") == ["notes.txt"]


def test_the_installed_command_prints_it_too() -> None:
    """`python -m aiodataops completion bash` writes the script to stdout and exits 0 (no stray output)."""
    done = subprocess.run(
        [sys.executable, "-m", "aiodataops", "completion", "bash"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.rstrip().endswith("complete -o bashdefault -F _shtab_aiodataops aiodataops")
