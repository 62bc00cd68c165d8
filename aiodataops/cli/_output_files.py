"""Files the commands write besides the journal: the JSON report, created private (mode 0600), and the check,
made before the first request, that every file a run will write (report, journal) can be written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aiodataops.fleet import FleetReport

__all__ = ["unwritable", "write_report"]


def write_report(report: FleetReport, path: str) -> None:
    """Write the JSON report to ``path``, created mode 0600 (it lists the fleet's ids and states), whole or not at all.

    A regular file is written beside ``path`` and renamed over it, so that a disk filling up mid-write leaves the old
    file (or none), never a truncated report that reads as a short run. Anything else (``/dev/stdout``, a FIFO) is
    written in place: it cannot be renamed over, and it keeps nothing to truncate.
    """
    data = report.to_json(indent=True) + b"\n"
    target = Path(path)
    if target.exists() and not target.is_file():
        # Neither chmod nor fsync: the device or pipe is not ours to change, and fsync refuses most of them.
        with target.open("wb") as f:
            f.write(data)
        return
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode passes through the umask; the report is private whatever it is
            with os.fdopen(fd, "wb", closefd=False) as f:
                f.write(data)
                f.flush()
                os.fsync(fd)  # on disk before the rename, so that a crash cannot leave an empty report in its place
        finally:
            os.close(fd)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def unwritable(outputs: Iterable[tuple[str, str | None]]) -> str | None:
    """Why one of the ``(flag, path)`` outputs cannot be written, naming the flag and the path (``None``: all can).

    A path may be a file that can be written or a new file in a directory that exists and can be written to;
    two flags may not name the same file. Nothing is created or changed.
    """
    seen: dict[Path, str] = {}
    for flag, path in outputs:
        if path is None:
            continue
        problem = _problem(Path(path))
        if problem is not None:
            return f"{flag} {path}: {problem}"
        resolved = Path(path).resolve()
        if resolved in seen:
            return f"{seen[resolved]} and {flag} name the same file ({path}): each needs its own"
        seen[resolved] = flag
    return None


def _problem(path: Path) -> str | None:
    if path.is_dir():
        return "is a directory, not a file"
    if path.exists():
        return None if os.access(path, os.W_OK) else "cannot be written (permission denied)"
    parent = path.parent
    if not parent.exists():
        return f"no such directory: {parent}"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create a file in {parent} (permission denied)"
    return None
