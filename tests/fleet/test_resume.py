"""Resuming from a journal against the emulator: what ended is left alone, what was accepted is never PUT again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from aiodataops._errors import ConfigurationError
from aiodataops._models import ServiceUpdate
from aiodataops._waiting import WaitToken
from aiodataops.fleet import FleetEvent, JournalError, Outcome, StopReason, TargetAccepted, parse_plan, read_journal
from aiodataops.fleet._journal import Journal
from aiodataops.fleet._report import ErrorInfo, ItemReport
from tests.fleet.conftest import client_for

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops.emulator import Emulator
    from aiodataops.fleet import Plan

NEW = ServiceUpdate(description="new")


def _plan(ids: list[str]) -> Plan:
    return parse_plan({"update": {"description": "new"}, "targets": ids}, path="plan.yaml")


async def _journal_for(path: Path, plan: Plan) -> Journal:
    header_plan = {"path": plan.path, "sha256": plan.sha256, "data": plan.data}
    return await Journal.create(path, plan=header_plan, options={"concurrency": 4, "max_failures": "0"})


@pytest.mark.anyio
async def test_resume_handles_ended_accepted_landed_and_unsent_services(emu: Emulator, tmp_path: Path) -> None:
    """Ended: untouched; accepted: followed, no PUT; intent whose PUT landed: no PUT; intent never sent: PUT once."""
    ids = emu.service_ids()[:6]
    ended, accepted, landed, unsent = ids[:4]
    plan = _plan(ids)
    path = tmp_path / "run.jsonl"
    async with client_for(emu) as client:
        journal = await _journal_for(path, plan)
        async with journal:
            await journal.ended(ItemReport(ended, Outcome.SUCCEEDED, final_state="RUNNING", attempts=1))
            await journal.intent(accepted, NEW)
            answer = await client.services.update(accepted, NEW)
            await journal.accepted(WaitToken.for_accepted(answer))
            # The crash hit between the server's 202 and the journal's "accepted" record.
            await journal.intent(landed, NEW)
            await client.services.update(landed, NEW)
            # The crash hit between the "intent" record and the PUT.
            await journal.intent(unsent, NEW)
        emu.counters.reset()

        report = await client.fleet.resume(path)

    by_id = {item.data_ops_service_id: item for item in report.items}
    assert [item.data_ops_service_id for item in report.items if item.data_ops_service_id in ids[4:]] == ids[4:]
    assert sorted(by_id) == sorted(ids)
    assert {item.outcome for item in report.items} == {Outcome.SUCCEEDED}
    assert emu.counters.puts_per_service == {unsent: 1, ids[4]: 1, ids[5]: 1}
    assert not [entry for entry in emu.counters.log if ended in entry.path]
    assert by_id[ended].resumed
    assert by_id[ended].attempts == 1  # its line is the journal's
    assert (by_id[accepted].resumed, by_id[accepted].attempts) == (True, 0)
    assert (by_id[landed].resumed, by_id[landed].attempts) == (True, 0)
    assert (by_id[unsent].resumed, by_id[unsent].attempts) == (True, 1)
    assert not by_id[ids[4]].resumed
    state = read_journal(path)
    assert set(state.ended) == set(ids)
    assert not state.reattach
    assert not state.unconfirmed
    for sid in ids[1:]:
        assert emu.service_body(sid)["description"] == "new"


@pytest.mark.anyio
async def test_abort_stops_following_and_a_resume_picks_the_accepted_up(emu: Emulator, tmp_path: Path) -> None:
    """After `abort`, accepted services are reported skipped (aborted); resuming follows them without a new PUT."""
    ids = emu.service_ids()
    path = tmp_path / "run.jsonl"
    abort = anyio.Event()

    def on_event(event: FleetEvent) -> None:
        if isinstance(event, TargetAccepted):
            abort.set()

    async with client_for(emu) as client:
        report = await client.fleet.apply(_plan(ids), concurrency=4, journal=path, abort=abort, on_event=on_event)
        assert report.stopped is StopReason.ABORTED
        aborted = [item for item in report.items if item.error is not None and item.error.kind == "aborted"]
        assert aborted
        followed = {item.data_ops_service_id for item in aborted if item.outcome is Outcome.SKIPPED}
        assert followed
        assert followed <= set(read_journal(path).reattach)
        puts_before = dict(emu.counters.accepted_puts_per_service)

        resumed = await client.fleet.resume(path)

    assert resumed.counts["succeeded"] == 20
    assert resumed.total == 20
    for sid in followed:
        assert emu.counters.accepted_puts_per_service[sid] == puts_before[sid] == 1
    assert set(emu.counters.accepted_puts_per_service.values()) == {1}


@pytest.mark.anyio
async def test_resume_carries_failures_into_the_budget(emu: Emulator, tmp_path: Path) -> None:
    """Failures recorded in the journal count against the budget: past it, a resume starts nothing new."""
    ids = emu.service_ids()[:5]
    path = tmp_path / "run.jsonl"
    async with client_for(emu) as client:
        async with await _journal_for(path, _plan(ids)) as journal:
            await journal.ended(ItemReport(ids[0], Outcome.FAILED, error=ErrorInfo("wait_failed", "ERROR")))
        report = await client.fleet.resume(path)
        assert report.stopped is StopReason.BUDGET_EXCEEDED
        assert [item.outcome for item in report.items] == [Outcome.FAILED] + [Outcome.SKIPPED] * 4
        assert emu.counters.total("update_service") == 0
        more = await client.fleet.resume(path, max_failures=1)
    assert [item.outcome for item in more.items] == [Outcome.FAILED] + [Outcome.SUCCEEDED] * 4
    assert more.items[0].resumed


@pytest.mark.anyio
async def test_resume_refuses_a_changed_plan_and_needs_targets_without_one(emu: Emulator, tmp_path: Path) -> None:
    """A plan that changed since the journal is refused; a journal of plain pairs must be given its targets."""
    ids = emu.service_ids()[:3]
    plan_path = tmp_path / "plan.jsonl"
    pairs_path = tmp_path / "pairs.jsonl"
    async with client_for(emu) as client:
        async with await _journal_for(plan_path, _plan(ids)):
            pass
        with pytest.raises(JournalError, match="the plan changed"):
            await client.fleet.apply(_plan(ids[:2]), journal=plan_path, resume=True)
        async with await Journal.create(pairs_path, plan=None, options={}):
            pass
        with pytest.raises(ConfigurationError, match="recorded no plan"):
            await client.fleet.resume(pairs_path)
        with pytest.raises(ConfigurationError, match="unknown option"):
            await client.fleet.resume(plan_path, concurency=3)
        report = await client.fleet.resume(pairs_path, targets=[(sid, NEW) for sid in ids])
    assert report.counts["succeeded"] == 3
    assert emu.counters.total("update_service") == 3


@pytest.mark.anyio
async def test_resume_reads_the_journal_once_and_not_again_when_given_its_state(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``resume`` reads the journal once (off the event loop); given a state read before, it reads it no more."""
    from aiodataops.fleet import _journal  # noqa: PLC0415 -- the module whose reader is counted

    ids = emu.service_ids()[:3]
    path = tmp_path / "run.jsonl"
    async with await _journal_for(path, _plan(ids)):
        pass
    reads: list[str] = []
    parse = _journal._parse

    def counted(raw: bytes, name: str) -> _journal.JournalState:
        reads.append(name)
        return parse(raw, name)

    monkeypatch.setattr(_journal, "_parse", counted)
    async with client_for(emu) as client:
        first = await client.fleet.resume(path, max_failures=None)
        assert len(reads) == 1
        state = read_journal(path)
        second = await client.fleet.resume(path, state=state)
    assert len(reads) == 2  # the caller's own read, and no other
    assert first.counts["succeeded"] == second.counts["succeeded"] == 3
