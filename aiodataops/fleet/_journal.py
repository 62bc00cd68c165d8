"""The fleet journal: an append-only JSONL file that lets a crashed run resume without repeating an update.

One JSON object per line, each made durable (written, flushed and fsynced) before the engine moves on:

- ``header``: the format version, when, the API endpoint, the plan (path, digest and the plan itself, so a resume
  needs no other file) and the run's options;
- ``resumed``: a later run took over, with its options;
- ``intent``: a PUT is about to be sent for ``id``, with the update (before the request, so a crash between the
  server's 202 and the ``accepted`` record can be recognised on resume);
- ``accepted``: the server answered 202 for ``id``, with the wait token of ``_waiting`` (the 202's
  ``modified_dt`` and state, and the wait's deadline); written before polling;
- ``ended``: ``id`` ended succeeded, failed or timed out, with its item report.

Skipped and not-started targets are never written as ended: a resume starts them. Records that arrive together
share one fsync (group commit), so a big fleet is not throttled by the disk. The file is created mode 0600.
Reading tolerates a last line cut short by a crash (it is dropped, and a resume truncates it away before
appending); a damaged line anywhere else is an error, since the journal could no longer be trusted.

Nothing secret is written: ids, states, timestamps, the update (which has no secret field) and item reports.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
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

__all__ = ["JOURNAL_VERSION", "Journal", "JournalError", "JournalState", "read_journal"]

JOURNAL_VERSION = 1


class JournalError(DataOpsError):
    """The journal cannot be used: missing, already holding a run, damaged, or from a newer format."""


@attrs.frozen
class Intent:
    """A PUT was about to be sent at wall time ``at`` (seconds since the epoch) with ``update`` (wire JSON)."""

    update: Mapping[str, Any]
    at: float


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
        raw = pathlib.Path(name).read_bytes()
    except FileNotFoundError:
        raise JournalError(f"{name}: no such journal") from None
    except OSError as exc:
        raise JournalError(f"{name}: cannot read the journal: {exc.strerror or exc}") from None
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
    return JournalState(header=record)


def _apply(state: JournalState, record: dict[str, Any], name: str, number: int) -> None:
    kind = record["type"]
    sid = record.get("id")
    try:
        if kind == "intent":
            state.intents[str(sid)] = Intent(update=dict(record["update"]), at=float(record["t"]))
        elif kind == "accepted":
            state.accepted[str(sid)] = WaitToken.from_json(orjson.dumps(record["token"]))
        elif kind == "ended":
            item = ItemReport.from_dict(record["item"])
            state.ended[item.data_ops_service_id] = item
        # "resumed" and record types from later versions carry nothing needed to resume.
    except (KeyError, TypeError, ValueError):
        raise JournalError(f"{name}: line {number} ({kind} record) is damaged") from None


def _wall() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """An open journal, appending durable records; use ``create`` for a new run or ``reopen`` to resume one."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._queue: list[bytes] = []
        self._queued = 0
        self._durable = 0
        self._lock = anyio.Lock()

    @classmethod
    async def create(
        cls,
        path: str | os.PathLike[str],
        *,
        plan: Mapping[str, Any] | None,
        options: Mapping[str, Any],
        endpoint: str | None = None,
    ) -> Journal:
        """Create a new journal (mode 0600) and write its header; an existing non-empty file is an error."""
        name = os.fspath(path)
        fd = await anyio.to_thread.run_sync(_open_new, name)
        journal = cls(name, fd)
        await journal._append(
            {
                "type": "header",
                "version": JOURNAL_VERSION,
                "created": _wall(),
                "endpoint": endpoint,
                "plan": plan,
                "options": dict(options),
            }
        )
        return journal

    @classmethod
    async def reopen(cls, path: str | os.PathLike[str], *, options: Mapping[str, Any]) -> tuple[Journal, JournalState]:
        """Read a journal, cut a torn last line away, and append a ``resumed`` record."""
        name = os.fspath(path)
        state = await anyio.to_thread.run_sync(read_journal, name)
        fd = await anyio.to_thread.run_sync(_open, name)
        if state.truncated:
            await anyio.to_thread.run_sync(os.ftruncate, fd, state.valid_length)
        journal = cls(name, fd)
        await journal._append({"type": "resumed", "created": _wall(), "options": dict(options)})
        return journal, state

    async def intent(self, service_id: str, update: ServiceUpdate) -> None:
        """Record that a PUT is about to be sent."""
        await self._append({"type": "intent", "id": service_id, "update": unstructure(update), "t": time.time()})

    async def accepted(self, token: WaitToken) -> None:
        """Record the server's acceptance, as the token that resumes its wait (before any polling)."""
        await self._append(
            {"type": "accepted", "id": token.resource_id, "token": orjson.loads(token.to_json()), "t": time.time()}
        )

    async def ended(self, item: ItemReport) -> None:
        """Record a final outcome; skipped and not-started targets are not final and are ignored."""
        if item.outcome in FINAL_OUTCOMES:
            await self._append({"type": "ended", "id": item.data_ops_service_id, "item": item.to_dict()})

    async def aclose(self) -> None:
        """Make everything queued durable and close the file."""
        if self._fd < 0:
            return
        with anyio.CancelScope(shield=True):
            async with self._lock:
                await self._flush()
            fd, self._fd = self._fd, -1
            await anyio.to_thread.run_sync(os.close, fd)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _append(self, record: Mapping[str, Any]) -> None:
        """Queue one record and return once it is durable, sharing an fsync with records queued meanwhile."""
        if self._fd < 0:
            raise JournalError(f"{self.path}: the journal is closed")
        self._queue.append(orjson.dumps(record) + b"\n")
        self._queued += 1
        mine = self._queued
        async with self._lock:
            if self._durable >= mine:
                return
            await self._flush()

    async def _flush(self) -> None:
        if not self._queue:
            return
        data, upto, self._queue = b"".join(self._queue), self._queued, []
        # Shielded: a record that was handed to the disk is marked durable, even if the caller is cancelled.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_write_durably, self._fd, data)
            self._durable = upto


def _open_new(name: str) -> int:
    fd = _open(name, os.O_CREAT)
    try:
        _check_empty(fd, name)
        # The new directory entry must be durable too, or a crash could lose the whole file.
        _fsync_dir(os.path.dirname(os.path.abspath(name)))  # noqa: PTH100, PTH120 -- plain os, like the file itself
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open(name: str, extra_flags: int = 0) -> int:
    try:
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | extra_flags, 0o600)
    except FileNotFoundError:
        raise JournalError(f"{name}: no such journal") from None
    except OSError as exc:
        raise JournalError(f"{name}: cannot open the journal: {exc.strerror or exc}") from None
    os.fchmod(fd, 0o600)
    return fd


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
