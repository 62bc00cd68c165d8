"""The fleet journal's file: opened for appending, mode 0600, a regular file, locked for one run at a time.

The lock is an exclusive ``flock`` held from opening to closing; the kernel drops it when the process dies, so a
crashed run's journal is taken over by the next resume. A run that finds it held names the holder's pid, read from
the last ``header`` or ``resumed`` record.
"""

from __future__ import annotations

import fcntl
import os
import stat

import orjson

from aiodataops.fleet._journal_errors import JournalError, JournalInUseError

__all__ = ["open_locked", "open_new"]


def open_new(name: str) -> int:
    fd = open_locked(name, os.O_CREAT)
    try:
        _check_empty(fd, name)
        # The new directory entry must be durable too, or a crash could lose the whole file.
        _fsync_dir(os.path.dirname(os.path.abspath(name)))  # noqa: PTH100, PTH120 -- plain os, like the file itself
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_locked(name: str, extra_flags: int) -> int:
    """Open a journal for appending and take its lock; raises ``JournalError`` (``JournalInUseError``)."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | extra_flags, 0o600)
    except FileNotFoundError:
        raise JournalError(f"{name}: no such journal") from None
    except IsADirectoryError:
        raise JournalError(f"{name}: is a directory, not a journal") from None
    except OSError as exc:
        raise JournalError(f"{name}: cannot open the journal: {exc.strerror or exc}") from None
    try:
        _lock(fd, name)
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lock(fd: int, name: str) -> None:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        # A device (/dev/null would swallow every record, /dev/full refuse them) or a pipe cannot be trusted.
        raise JournalError(f"{name}: a journal must be a regular file")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(name)
        by = f"pid {pid}" if pid is not None else "another process"
        raise JournalInUseError(
            f"{name}: journal in use by {by}; one run at a time may use a journal (wait for it to end, or stop "
            "it: its journal is then resumed)",
            pid=pid,
        ) from None
    except OSError as exc:
        raise JournalError(f"{name}: cannot lock the journal: {exc.strerror or exc}") from None


def _holder(name: str) -> int | None:
    """The pid of the run holding a journal: the last one recorded, if that process still exists."""
    try:
        with open(name, "rb") as file:  # noqa: PTH123 -- plain os, like the rest of this module
            raw = file.read()
    except OSError:
        return None
    for line in reversed(raw.splitlines()):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("type") in ("header", "resumed"):
            pid = record.get("pid")
            if type(pid) is not int or pid <= 0:
                return None
            return pid if _alive(pid) else None
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _check_empty(fd: int, name: str) -> None:
    if os.fstat(fd).st_size > 0:
        raise JournalError(f"{name}: the journal already holds a run; resume it or choose another file")


def _fsync_dir(directory: str) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the file's own fsync still holds
    finally:
        os.close(dfd)
