"""The check, before a run's first request, that every file it will write can be written."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from aiodataops.cli._output_files import unwritable

if TYPE_CHECKING:
    from pathlib import Path


def test_new_and_existing_files_in_writable_directories_pass(tmp_path: Path) -> None:
    """A new file in an existing directory, an existing file and a flag not given are all fine."""
    (tmp_path / "old.json").write_text("{}")
    outputs = [("--journal", str(tmp_path / "new.jsonl")), ("--report", str(tmp_path / "old.json")), ("--x", None)]
    assert unwritable(outputs) is None
    assert not (tmp_path / "new.jsonl").exists()  # nothing is created by the check


def test_each_problem_names_the_flag_and_the_path(tmp_path: Path) -> None:
    """A missing directory, a directory, a file as directory and one file named twice each say which flag and path."""
    (tmp_path / "file").write_text("")
    assert unwritable([("--report", str(tmp_path / "no" / "r.json"))]) == (
        f"--report {tmp_path / 'no' / 'r.json'}: no such directory: {tmp_path / 'no'}"
    )
    assert unwritable([("--report", str(tmp_path))]) == f"--report {tmp_path}: is a directory, not a file"
    assert unwritable([("--journal", str(tmp_path / "file" / "j"))]) == (
        f"--journal {tmp_path / 'file' / 'j'}: {tmp_path / 'file'} is not a directory"
    )
    same = [("--journal", str(tmp_path / "j")), ("--report", str(tmp_path / "." / "j"))]
    assert unwritable(same) == f"--journal and --report name the same file ({tmp_path / '.' / 'j'}): each needs its own"


@pytest.mark.parametrize("exists", [True, False])
def test_no_permission_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exists: bool) -> None:
    """A file or directory the user may not write to is refused (os.access is faked: the tests may run as root)."""
    target = tmp_path / "r.json"
    if exists:
        target.write_text("{}")
    monkeypatch.setattr(os, "access", lambda *_args, **_kwargs: False)
    problem = unwritable([("--report", str(target))])
    expected = "cannot be written" if exists else f"cannot create a file in {tmp_path}"
    assert problem == f"--report {target}: {expected} (permission denied)"
