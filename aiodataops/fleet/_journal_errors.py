"""The fleet journal's errors: one that cannot be used, one held by another run, one that could not be written."""

from __future__ import annotations

from aiodataops._errors import DataOpsError

__all__ = ["JournalError", "JournalInUseError", "JournalWriteError"]


class JournalError(DataOpsError):
    """The journal cannot be used: missing, already holding a run, damaged, or from a newer format."""


class JournalInUseError(JournalError):
    """Another run holds the journal (its ``pid``, when known): one journal, one process at a time."""

    def __init__(self, message: str, *, pid: int | None) -> None:
        self.pid = pid
        super().__init__(message)


class JournalWriteError(JournalError):
    """A record could not be made durable (disk full, I/O error): the run must stop, and can be resumed later.

    The record that failed, and any after it, are not on disk: an ``intent`` that raised this was not recorded, so
    its PUT must not be sent. What was written before stays valid (a torn last line is cut away on resume).
    ``problem`` is the first part of the message alone (``run.jsonl: cannot write the journal (No space left on
    device)``), for a report line.
    """

    def __init__(self, message: str, *, problem: str) -> None:
        self.problem = problem
        super().__init__(message)
