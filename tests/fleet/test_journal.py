"""The fleet journal: durable append-only records, tolerant reading of a torn tail, and resume bookkeeping."""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import stat
from typing import TYPE_CHECKING

import anyio
import orjson
import pytest

from aiodataops._models import Service, ServiceUpdate
from aiodataops._waiting import WaitToken
from aiodataops.fleet._journal import Journal, JournalError, JournalWriteError, read_journal
from aiodataops.fleet._report import ErrorInfo, ItemReport, Outcome

if TYPE_CHECKING:
    from pathlib import Path

UPDATE = ServiceUpdate(description="new")


def _token(sid: str) -> WaitToken:
    accepted = Service(sid, state="UPDATING", modified_dt=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    return WaitToken.for_accepted(accepted, wall=lambda: 1_750_000_000.0)


async def _write_run(path: Path) -> None:
    async with await Journal.create(path, plan={"path": "p.yaml", "sha256": "x", "data": {}}, options={"a": 1}) as j:
        for sid in ("s1", "s2", "s3", "s4"):
            await j.intent(sid, UPDATE)
        for sid in ("s1", "s2", "s3"):
            await j.accepted(_token(sid))
        await j.ended(ItemReport("s1", Outcome.SUCCEEDED, final_state="RUNNING"))
        await j.ended(ItemReport("s2", Outcome.FAILED, error=ErrorInfo("wait_failed", "ERROR")))
        await j.ended(ItemReport("s9", Outcome.SKIPPED))  # not final: never written


@pytest.mark.anyio
async def test_journal_records_what_a_resume_needs(tmp_path: Path) -> None:
    """Read back, a journal tells ended (with their lines), accepted-not-ended (tokens) and intent-only services."""
    path = tmp_path / "run.jsonl"
    await _write_run(path)
    state = read_journal(path)
    assert state.header["plan"]["path"] == "p.yaml"
    assert state.header["options"] == {"a": 1}
    assert set(state.ended) == {"s1", "s2"}
    assert state.ended["s2"].error == ErrorInfo("wait_failed", "ERROR")
    assert set(state.reattach) == {"s3"}
    assert state.reattach["s3"] == _token("s3")
    assert set(state.unconfirmed) == {"s4"}
    assert state.unconfirmed["s4"].update == {"description": "new"}
    assert not state.truncated


@pytest.mark.anyio
async def test_journal_file_is_private_and_every_line_whole(tmp_path: Path) -> None:
    """The journal is created mode 0600 and holds one JSON object per newline-terminated line."""
    path = tmp_path / "run.jsonl"
    os.umask(0o022)
    await _write_run(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    assert [orjson.loads(line)["type"] for line in raw.splitlines()][:2] == ["header", "intent"]


@pytest.mark.anyio
async def test_a_torn_last_line_is_dropped_and_cut_away_on_resume(tmp_path: Path) -> None:
    """A journal cut mid-line reads up to its last whole record; reopening truncates the torn tail first."""
    path = tmp_path / "run.jsonl"
    await _write_run(path)
    whole = path.read_bytes()
    lines = whole.splitlines(keepends=True)
    # Cut inside the last record (the ended line of s2): only s1 has ended.
    torn = b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2]
    path.write_bytes(torn)
    state = read_journal(path)
    assert state.truncated
    assert set(state.ended) == {"s1"}
    assert "s2" in state.reattach
    journal, reopened = await Journal.reopen(path, options={"b": 2})
    async with journal:
        await journal.ended(ItemReport("s2", Outcome.SUCCEEDED))
    assert reopened.valid_length == len(b"".join(lines[:-1]))
    again = read_journal(path)
    assert not again.truncated
    assert set(again.ended) == {"s1", "s2"}
    assert b"".join(lines[:-1]) in path.read_bytes()


@pytest.mark.anyio
async def test_damage_before_the_last_line_is_an_error(tmp_path: Path) -> None:
    """A damaged line anywhere but the end means the journal cannot be trusted; the error names the line."""
    path = tmp_path / "run.jsonl"
    await _write_run(path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b"{not json\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError, match="line 3 is damaged"):
        read_journal(path)
    lines[2] = b'{"type": "accepted", "id": "s1", "token": {"v": 99}}\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError, match=r"line 3 \(accepted record\) is damaged"):
        read_journal(path)


@pytest.mark.anyio
async def test_journal_refuses_to_overwrite_and_to_read_what_is_not_a_journal(tmp_path: Path) -> None:
    """Creating over a journal that holds a run, reading a non-journal, an empty or a missing file: clear errors."""
    path = tmp_path / "run.jsonl"
    await _write_run(path)
    with pytest.raises(JournalError, match="already holds a run"):
        await Journal.create(path, plan=None, options={})
    other = tmp_path / "other.jsonl"
    other.write_text('{"type": "intent", "id": "x"}\n')
    with pytest.raises(JournalError, match="not a header"):
        read_journal(other)
    other.write_text('{"type": "header", "version": 7}\n')
    with pytest.raises(JournalError, match="format 7 is not supported"):
        read_journal(other)
    other.write_text("")
    with pytest.raises(JournalError, match="empty"):
        read_journal(other)
    with pytest.raises(JournalError, match="no such journal"):
        await Journal.reopen(tmp_path / "missing.jsonl", options={})


@pytest.mark.anyio
async def test_concurrent_records_are_all_durable_and_whole(tmp_path: Path) -> None:
    """Many tasks appending at once (sharing fsyncs) lose no record and interleave no bytes."""
    path = tmp_path / "run.jsonl"
    async with await Journal.create(path, plan=None, options={}) as journal, anyio.create_task_group() as group:
        for i in range(200):
            group.start_soon(journal.intent, f"s{i}", UPDATE)
    state = read_journal(path)
    assert set(state.unconfirmed) == {f"s{i}" for i in range(200)}
    assert state.records == 201


def _broken_pipe_journal() -> Journal:
    """A journal whose every write fails for real: its file is a pipe nobody reads any more."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return Journal("broken.jsonl", write_end)


@pytest.mark.anyio
async def test_when_a_group_write_fails_every_caller_whose_record_was_not_written_learns_it() -> None:
    """A failed group write raises in every caller of that group and in every later one: none returns as if saved."""
    journal = _broken_pipe_journal()
    outcomes: list[str] = []

    async def record(i: int) -> None:
        try:
            await journal.intent(f"s{i}", UPDATE)
        except JournalWriteError:
            outcomes.append("failed")
        else:
            outcomes.append("saved")

    async with anyio.create_task_group() as group:
        for i in range(50):
            group.start_soon(record, i)
    assert outcomes == ["failed"] * 50
    with pytest.raises(JournalWriteError, match=r"cannot write the journal \(Broken pipe\).*fleet resume"):
        await journal.intent("later", UPDATE)
    await journal.aclose()  # the error already reached every caller concerned: closing does not raise it again


@pytest.mark.anyio
async def test_a_full_disk_stops_the_journal_and_keeps_what_was_written(tmp_path: Path) -> None:
    """ENOSPC in the middle: the records written before stay readable, later ones raise ``JournalWriteError``."""
    path = tmp_path / "run.jsonl"
    journal = await Journal.create(path, plan=None, options={})
    await journal.intent("s1", UPDATE)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, journal._fd)  # the journal's file now sits on a full disk
    os.close(full)
    with pytest.raises(JournalWriteError, match="No space left on device"):
        await journal.intent("s2", UPDATE)
    with pytest.raises(JournalWriteError):
        await journal.ended(ItemReport("s1", Outcome.SUCCEEDED))
    await journal.aclose()
    state = read_journal(path)
    assert set(state.unconfirmed) == {"s1"}
    assert not state.ended


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"plan": "p.yaml"}, "plan must be an object or null, not a string"),
        ({"plan": {"data": [1]}}, "plan.data must be an object, not a list"),
        ({"plan": {"data": {}, "path": 3}}, "plan.path must be a string, not a number"),
        ({"options": ["concurrency", 3]}, "options must be an object, not a list"),
        ({"endpoint": {"url": "x"}}, "endpoint must be a string or null, not an object"),
    ],
)
async def test_a_hand_edited_header_is_refused_naming_the_field(
    tmp_path: Path, header: dict[str, object], message: str
) -> None:
    """A header field of the wrong shape is a ``JournalError`` naming it, when read and when resumed."""
    path = tmp_path / "run.jsonl"
    path.write_bytes(orjson.dumps({"type": "header", "version": 1, **header}) + b"\n")
    with pytest.raises(JournalError, match=rf"line 1 \(header record\) is damaged: {re.escape(message)}"):
        read_journal(path)
    with pytest.raises(JournalError, match=re.escape(message)):
        await Journal.reopen(path, options={})


@pytest.mark.anyio
async def test_a_journal_must_be_a_regular_file(tmp_path: Path) -> None:
    """A device or a directory is refused before anything is written (``/dev/full`` is never chmod-ed)."""
    with pytest.raises(JournalError, match="must be a regular file"):
        await Journal.create("/dev/full", plan=None, options={})
    with pytest.raises(JournalError, match="is a directory"):
        await Journal.create(tmp_path, plan=None, options={})


@pytest.mark.anyio
async def test_take_over_reuses_a_state_read_before_unless_the_file_changed(tmp_path: Path) -> None:
    """A state read earlier is used as is when the file is unchanged, and read again (under the lock) when not."""
    path = tmp_path / "run.jsonl"
    await _write_run(path)
    before = read_journal(path)
    journal, state = await Journal.take_over(path, state=before)
    async with journal:
        assert state is before
    path.write_bytes(path.read_bytes() + orjson.dumps({"type": "ended", "id": "s3", "item": _ended("s3")}) + b"\n")
    journal, state = await Journal.take_over(path, state=before)
    async with journal:
        assert state is not before
        assert set(state.ended) == {"s1", "s2", "s3"}


def _ended(sid: str) -> dict[str, object]:
    return ItemReport(sid, Outcome.SUCCEEDED).to_dict()


@pytest.mark.anyio
async def test_a_header_that_cannot_be_written_leaves_an_empty_file_for_the_next_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC on the header: ``JournalWriteError``, the file is left empty (no half run), and a new run can use it."""
    from aiodataops.fleet import _journal  # noqa: PLC0415 -- the module whose disk writes fail

    path = tmp_path / "run.jsonl"

    def full(fd: int, data: bytes) -> None:
        os.write(fd, data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(_journal, "_write_durably", full)
        with pytest.raises(JournalWriteError, match="No space left on device"):
            await Journal.create(path, plan=None, options={})
    assert path.read_bytes() == b""
    async with await Journal.create(path, plan=None, options={}):
        pass
    assert read_journal(path).records == 1


@pytest.mark.anyio
async def test_each_intent_records_its_own_update_when_targets_share_or_differ(tmp_path: Path) -> None:
    """An intent writes the update it was given, whether targets share one update object or not."""
    path = tmp_path / "run.jsonl"
    other = ServiceUpdate(description="pinned")
    async with await Journal.create(path, plan=None, options={}) as journal:
        await journal.intent("s1", UPDATE)
        await journal.intent("s2", other)
        await journal.intent("s3", UPDATE)
        await journal.intent("s4", ServiceUpdate(description="new"))
    intents = read_journal(path).intents
    assert {sid: intent.update for sid, intent in intents.items()} == {
        "s1": {"description": "new"},
        "s2": {"description": "pinned"},
        "s3": {"description": "new"},
        "s4": {"description": "new"},
    }


@pytest.mark.anyio
async def test_changed_counts_durable_records_and_a_resumes_earlier_ones(tmp_path: Path) -> None:
    """``changed`` says an update may have reached a service (accepted, or intent not ended), earlier runs included."""
    path = tmp_path / "run.jsonl"
    async with await Journal.create(path, plan=None, options={}) as journal:
        assert journal.changed is False
        await journal.intent("s1", UPDATE)
        assert journal.changed is True  # sent or not: an intent without an end
        await journal.ended(ItemReport("s1", Outcome.FAILED, error=ErrorInfo("http", "refused")))
        assert journal.changed is False  # refused before it changed anything
    resumed, state = await Journal.take_over(path)
    async with resumed:
        assert resumed.changed is False
        await resumed.intent("s2", UPDATE)
        await resumed.accepted(_token("s2"))
        await resumed.ended(ItemReport("s2", Outcome.SUCCEEDED, final_state="RUNNING"))
        assert resumed.changed is True
    again, state = await Journal.take_over(path)
    async with again:
        assert again.changed is True  # the earlier run's acceptance, read back
    assert bool(state.accepted) or bool(state.unconfirmed)
