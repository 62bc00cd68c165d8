"""The fleet journal: an append-only JSONL file that lets a crashed run resume without repeating an update.

One JSON object per line, each made durable (written, flushed and fsynced) before the engine moves on:

- ``header``: the format version, when, the API endpoint, the plan (path, digest and the plan itself, so a resume
  needs no other file) and the run's options;
- ``resumed``: a later run took over, with its options;
- ``intent``: a PUT is about to be sent for ``id``, with the update (before the request, so a crash between the
  server's 202 and the ``accepted`` record can be recognised on resume) and its ``before`` image: the prior wire
  values of exactly the fields the update sets, as dotted paths (a secret's as ``"changed"``), which
  ``fleet rollback`` puts back. The header says ``"before_images": true`` when its intents carry them;
- ``accepted``: the server answered 202 for ``id``, with the wait token of ``_waiting`` (the 202's
  ``modified_dt`` and state, and the wait's deadline); written before polling;
- ``ended``: ``id`` ended succeeded, failed or timed out, with its item report.

Skipped and not-started targets are never written as ended: a resume starts them. Records that arrive together
share one fsync (group commit), so a big fleet is not throttled by the disk; every caller returns only once ITS
record is durable, and if a write fails every caller whose record was not written gets ``JournalWriteError`` (so an
``intent`` that is not on disk stops its PUT), as does every later one: a journal that failed a write takes no more
records, and the run stops where a resume can pick it up. The file is created mode 0600 and must be a regular file.
Reading tolerates a last line cut short by a crash (it is dropped, and a resume truncates it away before
appending); a damaged line anywhere else is an error, since the journal could no longer be trusted, and so is a
header whose fields have the wrong shape (``JournalError`` naming the field).

One process at a time: an open journal holds an exclusive ``flock`` on the file for the whole run, so a second
``apply`` or ``resume`` of the same journal fails at once with ``JournalInUseError`` ("journal in use by pid N":
``header`` and ``resumed`` records carry the pid of the run that wrote them). The kernel drops the lock when its
process dies, so the journal of a crashed or killed run is simply taken over by the next resume.

Nothing secret is written: ids, states, timestamps, the update (which has no secret field), before-images (a
secret field is written as ``"changed"``) and item reports.

This module writes records and reads a file back; what the records mean once read is ``_journal_state``, the
file itself (opening, mode, lock, the holder's pid) ``_journal_file``, and the errors ``_journal_errors``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.to_thread
import orjson

from aiodataops._wire import unstructure
from aiodataops.fleet._journal_errors import JournalError, JournalInUseError, JournalWriteError
from aiodataops.fleet._journal_file import open_locked, open_new
from aiodataops.fleet._journal_state import JOURNAL_VERSION, Intent, JournalState, apply_record, file_stamp, start_state
from aiodataops.fleet._report import FINAL_OUTCOMES, ItemReport

if TYPE_CHECKING:
    from aiodataops._models import ServiceUpdate
    from aiodataops._waiting import WaitToken

__all__ = [
    "JOURNAL_VERSION",
    "Intent",
    "Journal",
    "JournalError",
    "JournalInUseError",
    "JournalState",
    "JournalWriteError",
    "read_journal",
]


def read_journal(path: str | os.PathLike[str]) -> JournalState:
    """Read a journal up to its last whole record; raises ``JournalError`` if it cannot be trusted."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:  # noqa: PTH123 -- the stamp must come from the very file object read
            stamp = file_stamp(os.fstat(file.fileno()))
            raw = file.read()
    except FileNotFoundError:
        raise JournalError(f"{name}: no such journal") from None
    except IsADirectoryError:
        raise JournalError(f"{name}: is a directory, not a journal") from None
    except OSError as exc:
        raise JournalError(f"{name}: cannot read the journal: {exc.strerror or exc}") from None
    state = _parse(raw, name)
    state.stamp = stamp
    return state


def _parse(raw: bytes, name: str) -> JournalState:
    end = raw.rfind(b"\n") + 1
    state: JournalState | None = None
    for number, line in enumerate(raw[:end].splitlines(), start=1):
        try:
            record = orjson.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                raise TypeError("not a record")  # noqa: TRY301 -- one message for every shape of damage
        except (orjson.JSONDecodeError, TypeError):
            raise JournalError(f"{name}: line {number} is damaged; the journal cannot be trusted") from None
        if state is None:
            state = start_state(record, name)
        else:
            apply_record(state, record, name, number)
        state.records += 1
    if state is None:
        raise JournalError(f"{name}: the journal is empty (no header record)")
    state.valid_length = end
    state.truncated = end < len(raw)
    return state


def _wall() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """An open journal, appending durable records; ``create`` starts a new run, ``take_over`` or ``reopen`` resumes one.

    The journal holds an exclusive lock on its file from opening to ``aclose``.
    """

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._queue: list[bytes] = []
        self._queued_ids: list[tuple[str, str]] = []
        # What the durable records say the run may have changed (a resume's earlier records too), known without
        # reading the file back (``changed``): whether any update was accepted, and the services with an intent
        # but no end yet (at most the services in flight, so memory does not grow with the fleet).
        self._any_accepted = False
        self._unended: set[str] = set()
        self._queued = 0
        self._durable = 0
        self._failure: OSError | None = None
        self._lock = anyio.Lock()

    @classmethod
    async def create(
        cls,
        path: str | os.PathLike[str],
        *,
        plan: Mapping[str, Any] | None,
        options: Mapping[str, Any],
        endpoint: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Journal:
        """Create a new journal (mode 0600), lock it and write its header (with ``extra`` fields, e.g. what a
        rollback undoes); an existing non-empty file is an error."""
        name = os.fspath(path)
        fd = await anyio.to_thread.run_sync(open_new, name)
        journal = cls(name, fd)
        try:
            await journal._append(
                {
                    "type": "header",
                    "version": JOURNAL_VERSION,
                    "created": _wall(),
                    "pid": os.getpid(),
                    "endpoint": endpoint,
                    "plan": plan,
                    "options": dict(options),
                    "before_images": True,
                    **(extra or {}),
                }
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                # No header on disk means no run: leave the file empty, so that the next ``create`` can use it.
                with contextlib.suppress(OSError):
                    await anyio.to_thread.run_sync(os.ftruncate, fd, 0)
                await journal.aclose()
            raise
        return journal

    @classmethod
    async def take_over(
        cls, path: str | os.PathLike[str], *, state: JournalState | None = None
    ) -> tuple[Journal, JournalState]:
        """Open an existing journal for a resume: lock it, read it, and cut a torn last line away.

        ``state``, read earlier (e.g. to find the endpoint before a client exists), is used as is when the file has
        not changed since; otherwise the journal is read again, under the lock. Nothing is appended yet: call
        ``resumed`` once the run's options are known. Raises ``JournalInUseError`` if another run holds it.
        """
        name = os.fspath(path)
        fd = await anyio.to_thread.run_sync(open_locked, name, 0)
        try:
            if state is None or state.stamp != file_stamp(os.fstat(fd)):
                state = await anyio.to_thread.run_sync(read_journal, name)
            if state.truncated:
                await anyio.to_thread.run_sync(os.ftruncate, fd, state.valid_length)
        except BaseException:
            os.close(fd)
            raise
        journal = cls(name, fd)
        journal._any_accepted = bool(state.accepted)
        journal._unended = state.intents.keys() - state.ended.keys()
        return journal, state

    @classmethod
    async def reopen(
        cls, path: str | os.PathLike[str], *, options: Mapping[str, Any], state: JournalState | None = None
    ) -> tuple[Journal, JournalState]:
        """``take_over`` a journal and append a ``resumed`` record with the new run's options."""
        journal, state = await cls.take_over(path, state=state)
        try:
            await journal.resumed(options)
        except BaseException:
            await journal.aclose()
            raise
        return journal, state

    async def resumed(self, options: Mapping[str, Any]) -> None:
        """Record that this process took the run over, with its options."""
        await self._append({"type": "resumed", "created": _wall(), "pid": os.getpid(), "options": dict(options)})

    async def intent(
        self, service_id: str, update: ServiceUpdate | Mapping[str, Any], *, before: Mapping[str, Any] | None = None
    ) -> None:
        """Record that a PUT is about to be sent with ``update`` (a model or its wire form: the fleet passes the one
        its run keeps, ``RunState.wire``), and the service's ``before`` image; if this raises, the record is not on
        disk: do not send it."""
        wire = update if isinstance(update, Mapping) else unstructure(update)
        record: dict[str, Any] = {"type": "intent", "id": service_id, "update": wire, "t": time.time()}
        if before is not None:
            record["before"] = dict(before)
        await self._append(record)

    async def accepted(self, token: WaitToken) -> None:
        """Record the server's acceptance, as the token that resumes its wait (before any polling)."""
        await self._append({"type": "accepted", "id": token.resource_id, "token": token.to_dict(), "t": time.time()})

    async def ended(self, item: ItemReport) -> None:
        """Record a final outcome; skipped and not-started targets are not final and are ignored."""
        if item.outcome in FINAL_OUTCOMES:
            await self._append({"type": "ended", "id": item.data_ops_service_id, "item": item.to_dict()})

    @property
    def changed(self) -> bool | None:
        """Whether the durable records (this run's and, on a resume, earlier runs') say an update may have reached a
        service: one accepted, or an intent that never ended. ``None`` after a failed write, whose lines may or may
        not be in the file: read the file then."""
        if self._failure is not None:
            return None
        return self._any_accepted or bool(self._unended)

    async def aclose(self) -> None:
        """Make everything queued durable, close the file and release the lock.

        Raises ``JournalWriteError`` if what was still queued cannot be written; after an earlier write failure
        (already raised to the callers concerned) it only closes the file.
        """
        if self._fd < 0:
            return
        with anyio.CancelScope(shield=True):
            try:
                async with self._lock:
                    if self._failure is None:
                        await self._flush()
            finally:
                fd, self._fd = self._fd, -1
                await anyio.to_thread.run_sync(os.close, fd)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _append(self, record: Mapping[str, Any]) -> None:
        """Queue one record and return once it is durable, sharing an fsync with records queued meanwhile.

        Raises ``JournalWriteError`` unless this very record reached the disk.
        """
        if self._fd < 0:
            raise JournalError(f"{self.path}: the journal is closed")
        if self._failure is not None:
            raise self._write_error()
        self._queue.append(orjson.dumps(record) + b"\n")
        self._queued_ids.append((record["type"], record.get("id", "")))
        self._queued += 1
        mine = self._queued
        async with self._lock:
            if self._durable >= mine:
                return
            if self._failure is not None:
                # The group write holding this record failed (its caller got the error first), or an earlier one
                # did and this record was never written: either way it is not on disk.
                raise self._write_error()
            await self._flush()
        assert self._durable >= mine

    async def _flush(self) -> None:
        """Write every queued record at once (the caller holds the lock); on failure, fail the journal for good."""
        if not self._queue:
            return
        data, upto, self._queue = b"".join(self._queue), self._queued, []
        ids, self._queued_ids = self._queued_ids, []
        # Shielded: a record that was handed to the disk is marked durable, even if the caller is cancelled.
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(_write_durably, self._fd, data)
            except OSError as exc:
                # Part of the group may be on disk (a torn last line, cut away on resume); none of it counts.
                self._failure = exc
                raise self._write_error() from exc
            self._durable = upto
            for kind, sid in ids:
                if kind == "intent":
                    self._unended.add(sid)
                elif kind == "accepted":
                    self._any_accepted = True
                elif kind == "ended":
                    self._unended.discard(sid)

    def _write_error(self) -> JournalWriteError:
        assert self._failure is not None
        reason = self._failure.strerror or str(self._failure) or type(self._failure).__name__
        problem = f"{self.path}: cannot write the journal ({reason})"
        return JournalWriteError(
            f"{problem}; the run stops here, and what the journal holds stays valid: once the cause is fixed, "
            f"continue with `aiodataops fleet resume {self.path}`",
            problem=problem,
        )


def _write_durably(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)
