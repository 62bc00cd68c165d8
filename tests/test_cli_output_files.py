"""The files a run writes besides its journal: the check that each can be written, and the report written whole."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from typing import TYPE_CHECKING, cast

import pytest

from aiodataops.cli._output_files import unwritable, write_report

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops.fleet import FleetReport


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


class _Report:
    """Stands in for a FleetReport: ``write_report`` only asks it for its JSON."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def to_json(self, *, indent: bool) -> bytes:
        assert indent
        return self.data


def test_a_report_replaces_the_old_one_whole_and_private(tmp_path: Path) -> None:
    """A report is written mode 0600 over the old one, with no partial file left beside it."""
    target = tmp_path / "report.json"
    target.write_text('{"old": true}')
    target.chmod(0o644)
    write_report(cast("FleetReport", _Report(b'{"new": true}')), str(target))
    assert target.read_bytes() == b'{"new": true}\n'
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_report_to_a_device_is_written_in_place(tmp_path: Path) -> None:
    """A path that is not a regular file (a FIFO, as /dev/stdout may be) is written to, neither renamed nor chmod-ed."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o644)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so that opening for writing does not block
    try:
        write_report(cast("FleetReport", _Report(b"{}")), str(fifo))
        assert os.read(reader, 100) == b"{}\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert fifo.stat().st_mode & 0o777 == 0o644


_FULL_DISK = """
import resource, signal, sys
from aiodataops.cli._output_files import write_report

class Report:
    def to_json(self, *, indent):
        return b"x" * 65536

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_report(Report(), sys.argv[1])
except OSError as exc:
    print(exc.errno)
"""


def test_a_report_the_disk_refuses_leaves_the_old_one_intact(tmp_path: Path) -> None:
    """When the disk fills mid-write, the previous report stays whole and no partial file is left."""
    target = tmp_path / "report.json"
    target.write_text('{"old": true}')
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(target)], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == str(errno.EFBIG)
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
