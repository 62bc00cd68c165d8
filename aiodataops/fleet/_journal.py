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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import stat
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.to_thread
import attrs
import orjson

from aiodataops._errors import DataOpsError
from aiodataops._waiting import WaitToken
from aiodataops._wire import unstructure
from aiodataops.fleet._report import FINAL_OUTCOMES, ItemReport

if TYPE_CHECKING:
    from aiodataops._models import ServiceUpdate

__all__ = [
    "JOURNAL_VERSION",
    "Journal",
    "JournalError",
    "JournalInUseError",
    "JournalState",
    "JournalWriteError",
    "read_journal",
]

JOURNAL_VERSION = 1


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


@attrs.frozen
class Intent:
    """A PUT was about to be sent at wall time ``at`` (seconds since the epoch) with ``update`` (wire JSON);
    ``before``: the service's prior values of the fields it sets (dotted paths), when the journal recorded them."""

    update: Mapping[str, Any]
    at: float
    before: Mapping[str, Any] | None = None


@attrs.define
class JournalState:
    """What a journal says about a run: its header and, per service, the last thing recorded."""

    header: dict[str, Any]
    intents: dict[str, Intent] = attrs.Factory(dict)
    accepted: dict[str, WaitToken] = attrs.Factory(dict)
    ended: dict[str, ItemReport] = attrs.Factory(dict)
    records: int = 0
    valid_length: int = 0
    truncated: bool = False
    stamp: tuple[int, ...] = attrs.field(default=(), eq=False, repr=False)
    """The file as it was read (device, inode, size, mtime): a run that takes the journal over re-reads it only
    when this no longer matches, so a state read before taking the lock is used as is when nothing changed."""

    @property
    def reattach(self) -> dict[str, WaitToken]:
        """Services accepted but not ended: follow them, never PUT them again."""
        return {sid: acc for sid, acc in self.accepted.items() if sid not in self.ended}

    @property
    def unconfirmed(self) -> dict[str, Intent]:
        """Services whose PUT may or may not have reached the server (intent without acceptance or end)."""
        return {
            sid: intent for sid, intent in self.intents.items() if sid not in self.accepted and sid not in self.ended
        }


def read_journal(path: str | os.PathLike[str]) -> JournalState:
    """Read a journal up to its last whole record; raises ``JournalError`` if it cannot be trusted."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:  # noqa: PTH123 -- the stamp must come from the very file object read
            stamp = _stamp(os.fstat(file.fileno()))
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


def _stamp(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


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
            state = _start(record, name)
        else:
            _apply(state, record, name, number)
        state.records += 1
    if state is None:
        raise JournalError(f"{name}: the journal is empty (no header record)")
    state.valid_length = end
    state.truncated = end < len(raw)
    return state


def _start(record: dict[str, Any], name: str) -> JournalState:
    if record["type"] != "header":
        raise JournalError(f"{name}: the first record is not a header; is this a fleet journal?")
    version = record.get("version")
    if version != JOURNAL_VERSION:
        raise JournalError(f"{name}: journal format {version!r} is not supported (this is format {JOURNAL_VERSION})")
    problem = _header_problem(record)
    if problem:
        raise JournalError(f"{name}: line 1 (header record) is damaged: {problem}")
    return JournalState(header=record)


def _header_problem(header: dict[str, Any]) -> str | None:
    """What is wrong with a header's fields (as a hand edit could leave them), or ``None``."""
    plan = header.get("plan")
    if plan is not None:
        if not isinstance(plan, dict):
            return f"plan must be an object or null, not {_kind(plan)}"
        for key, expected in (("data", dict), ("path", str), ("sha256", str)):
            value = plan.get(key)
            if (value is not None or key == "data") and not isinstance(value, expected):
                wanted = "an object" if expected is dict else "a string"
                return f"plan.{key} must be {wanted}, not {_kind(value)}"
    options = header.get("options")
    if options is not None and not isinstance(options, dict):
        return f"options must be an object, not {_kind(options)}"
    endpoint = header.get("endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        return f"endpoint must be a string or null, not {_kind(endpoint)}"
    return None


def _kind(value: object) -> str:
    """A JSON value's kind, for a message (never the value: a hand-edited file could hold anything)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _apply(state: JournalState, record: dict[str, Any], name: str, number: int) -> None:
    kind = record["type"]
    sid = record.get("id")
    try:
        if kind == "intent":
            before = record.get("before")
            if before is not None and not (isinstance(before, dict) and all(isinstance(k, str) for k in before)):
                raise TypeError("before")  # noqa: TRY301 -- reported as a damaged line, like every other shape
            first = state.intents.get(str(sid))
            if first is not None and first.before is not None:
                before = first.before  # the image read before the first PUT is the one to put back
            state.intents[str(sid)] = Intent(update=dict(record["update"]), at=float(record["t"]), before=before)
        elif kind == "accepted":
            state.accepted[str(sid)] = WaitToken.from_dict(record["token"])
        elif kind == "ended":
            item = ItemReport.from_dict(record["item"])
            state.ended[item.data_ops_service_id] = item
        # "resumed" and record types from later versions carry nothing needed to resume.
    except (KeyError, TypeError, ValueError):
        raise JournalError(f"{name}: line {number} ({kind} record) is damaged") from None


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
        fd = await anyio.to_thread.run_sync(_open_new, name)
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
        fd = await anyio.to_thread.run_sync(_open_locked, name, 0)
        try:
            if state is None or state.stamp != _stamp(os.fstat(fd)):
                state = await anyio.to_thread.run_sync(read_journal, name)
            if state.truncated:
                await anyio.to_thread.run_sync(os.ftruncate, fd, state.valid_length)
        except BaseException:
            os.close(fd)
            raise
        return cls(name, fd), state

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

    async def intent(self, service_id: str, update: ServiceUpdate, *, before: Mapping[str, Any] | None = None) -> None:
        """Record that a PUT is about to be sent, with the service's ``before`` image; if this raises, the record
        is not on disk: do not send it."""
        record: dict[str, Any] = {"type": "intent", "id": service_id, "update": unstructure(update), "t": time.time()}
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
        # Shielded: a record that was handed to the disk is marked durable, even if the caller is cancelled.
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(_write_durably, self._fd, data)
            except OSError as exc:
                # Part of the group may be on disk (a torn last line, cut away on resume); none of it counts.
                self._failure = exc
                raise self._write_error() from exc
            self._durable = upto

    def _write_error(self) -> JournalWriteError:
        assert self._failure is not None
        reason = self._failure.strerror or str(self._failure) or type(self._failure).__name__
        problem = f"{self.path}: cannot write the journal ({reason})"
        return JournalWriteError(
            f"{problem}; the run stops here, and what the journal holds stays valid: once the cause is fixed, "
            f"continue with `aiodataops fleet resume {self.path}`",
            problem=problem,
        )


def _open_new(name: str) -> int:
    fd = _open_locked(name, os.O_CREAT)
    try:
        _check_empty(fd, name)
        # The new directory entry must be durable too, or a crash could lose the whole file.
        _fsync_dir(os.path.dirname(os.path.abspath(name)))  # noqa: PTH100, PTH120 -- plain os, like the file itself
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_locked(name: str, extra_flags: int) -> int:
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


def _write_durably(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)
