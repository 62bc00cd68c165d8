"""``client.fleet.rollback(journal)`` against the emulator: what is put back, what is left alone, what is refused."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio
import orjson
import pytest

from aiodataops._models import ServiceUpdate, ServiceWorkload, Workload
from aiodataops.emulator import FaultRule
from aiodataops.fleet import FleetEvent, JournalError, Outcome, TargetAccepted, read_journal
from tests.fleet.conftest import client_for, fast_emulator

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops.emulator import Emulator

# No seeded worker has 5 replicas or 16 GB: every service changes.
UPDATE = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(memory="16", replica="5")))
FIELDS = ("cpu", "memory", "replica", "version")


def workers(emu: Emulator, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each service's worker workload as the emulator holds it now."""
    return {sid: dict(emu.service_body(sid)["service_workload"]["worker"]) for sid in ids}


def puts(emu: Emulator) -> dict[str, int]:
    return dict(emu.counters.accepted_puts_per_service)


@pytest.mark.anyio
async def test_rollback_restores_every_accepted_service_once_and_leaves_refused_ones_alone(tmp_path: Path) -> None:
    """100 services, 5 ending in ERROR after acceptance and 3 refused (500): the rollback puts the 97 accepted back
    to their prior values with exactly one PUT each and sends nothing to the 3 the server never took."""
    async with fast_emulator(data_ops=10, services_per_data_ops=10) as emu, client_for(emu) as client:
        ids = emu.service_ids()
        assert len(ids) == 100
        errored, refused = ids[10:15], ids[50:53]
        for sid in errored:
            emu.force_outcome(sid, "ERROR")
        emu.faults = [FaultRule("update_service", "500", target=sid) for sid in refused]
        prior = workers(emu, ids)
        journal = tmp_path / "run.jsonl"
        report = await client.fleet.apply(
            [(sid, UPDATE) for sid in ids], journal=journal, concurrency=8, max_failures=None, put_retries=0
        )
        counts = report.counts
        assert (counts["succeeded"], counts["failed"]) == (92, 8)
        rolled_out = puts(emu)
        assert set(rolled_out) == set(ids) - set(refused)
        rollback = await client.fleet.rollback(journal)
        after = workers(emu, ids)
        after_puts = puts(emu)
    assert rollback.counts["succeeded"] == 97, rollback.counts
    assert rollback.ok
    assert {item.data_ops_service_id for item in rollback.items} == set(ids) - set(refused)
    assert after == prior
    for sid in ids:
        assert after_puts.get(sid, 0) == rolled_out.get(sid, 0) + (0 if sid in refused else 1)
    rollback_journal = tmp_path / "run.rollback.jsonl"
    state = read_journal(rollback_journal)
    assert state.header["rollback"]["of"] == str(journal)
    assert len(state.ended) == 97
    # Only the fields the update set are sent back: memory and replica, never cpu or version.
    for intent in state.intents.values():
        assert set(intent.update["service_workload"]["worker"]) == {"memory", "replica"}


@pytest.mark.anyio
async def test_rolling_back_a_rollback_restores_the_rollout_and_converges(emu: Emulator, tmp_path: Path) -> None:
    """A rollback's own journal rolls back to the rollout; a rollback of services already back sends nothing."""
    ids = emu.service_ids()[:6]
    async with client_for(emu) as client:
        prior = workers(emu, ids)
        journal = tmp_path / "run.jsonl"
        await client.fleet.apply([(sid, UPDATE) for sid in ids], journal=journal)
        rolled_out = workers(emu, ids)
        await client.fleet.rollback(journal)
        assert workers(emu, ids) == prior
        again = await client.fleet.rollback(journal, rollback_journal=tmp_path / "again.jsonl")
        assert again.counts["unchanged"] == 6
        assert again.ok
        sent = sum(puts(emu).values())
        redo = await client.fleet.rollback(tmp_path / "run.rollback.jsonl")
        assert redo.counts["succeeded"] == 6
        assert workers(emu, ids) == rolled_out
        assert sum(puts(emu).values()) == sent + 6
        assert (tmp_path / "run.rollback.rollback.jsonl").exists()


@pytest.mark.anyio
async def test_a_rollback_dry_run_shows_the_inverse_diff_and_sends_nothing(emu: Emulator, tmp_path: Path) -> None:
    """rollback(dry_run=True) reports, per service, the fields going back to their prior values; no PUT, no file."""
    ids = emu.service_ids()[:3]
    async with client_for(emu) as client:
        prior = workers(emu, ids)
        journal = tmp_path / "run.jsonl"
        await client.fleet.apply([(sid, UPDATE) for sid in ids], journal=journal)
        sent = sum(puts(emu).values())
        report = await client.fleet.rollback(journal, dry_run=True)
    assert sum(puts(emu).values()) == sent
    assert not (tmp_path / "run.rollback.jsonl").exists()
    for item in report.items:
        assert item.diff is not None
        changes = {c.field: (c.current, c.desired) for c in item.diff}
        worker = prior[item.data_ops_service_id]
        assert changes == {
            "service_workload.worker.memory": ("16", worker["memory"]),
            "service_workload.worker.replica": ("5", worker["replica"]),
        }


@pytest.mark.anyio
async def test_an_aborted_rollback_resumes_and_each_service_gets_one_rollback_put(tmp_path: Path) -> None:
    """A rollback stopped mid-way (abort) is continued by resume on its own journal: every service is back, each
    with one rollback PUT."""
    async with fast_emulator(update_duration=(0.2, 0.4)) as emu, client_for(emu) as client:
        ids = emu.service_ids()
        prior = workers(emu, ids)
        journal = tmp_path / "run.jsonl"
        await client.fleet.apply([(sid, UPDATE) for sid in ids], journal=journal, concurrency=10)
        abort = anyio.Event()
        accepted = 0

        def on_event(event: FleetEvent) -> None:
            nonlocal accepted
            accepted += isinstance(event, TargetAccepted)
            if accepted >= 4:
                abort.set()

        first = await client.fleet.rollback(journal, concurrency=2, on_event=on_event, abort=abort)
        assert first.counts["succeeded"] < len(ids)
        resumed = await client.fleet.resume(tmp_path / "run.rollback.jsonl", concurrency=10)
        after = workers(emu, ids)
    assert resumed.ok, resumed.counts
    assert after == prior
    assert set(puts(emu).values()) == {2}


def _write(path: Path, *records: dict[str, Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


INTENT = {
    "type": "intent",
    "id": "DOPS_SERVICE-1",
    "update": {"description": "new"},
    "before": {"description": "old"},
    "t": 1.0,
}
ACCEPTED_END = {
    "type": "ended",
    "id": "DOPS_SERVICE-1",
    "item": {"data_ops_service_id": "DOPS_SERVICE-1", "outcome": "failed"},
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("records", "message"),
    [
        (({"type": "header", "version": 1, "options": {}}, INTENT), "holds no before-images"),
        (
            ({"type": "header", "version": 1, "before_images": True, "options": {"dry_run": True}},),
            "the journal of a dry run",
        ),
        (
            (
                {"type": "header", "version": 1, "before_images": True},
                {**INTENT, "before": {"description": "old", "domain": "evil.example"}},
            ),
            "names domain, a field its update did not set",
        ),
        (({"type": "header", "version": 1, "before_images": True}, {**INTENT, "before": ["x"]}), "line 2"),
    ],
)
async def test_a_journal_that_cannot_be_rolled_back_is_refused_before_any_request(
    emu: Emulator, tmp_path: Path, records: tuple[dict[str, Any], ...], message: str
) -> None:
    """No before-images (older), a dry run's, a before-image naming a field the update did not set, or a damaged
    line: JournalError naming why, and not a single request."""
    journal = _write(tmp_path / "old.jsonl", *records)
    async with client_for(emu) as client:
        with pytest.raises(JournalError, match=message):
            await client.fleet.rollback(journal)
    assert sum(emu.counters.requests.values()) == 0


@pytest.mark.anyio
async def test_nothing_to_roll_back_is_an_empty_report_saying_so(emu: Emulator, tmp_path: Path) -> None:
    """A journal whose only update was refused before acceptance rolls back nothing, and the report says why."""
    header = {"type": "header", "version": 1, "before_images": True}
    journal = _write(tmp_path / "run.jsonl", header, INTENT, ACCEPTED_END)
    async with client_for(emu) as client:
        report = await client.fleet.rollback(journal)
    assert report.total == 0
    assert report.warnings[0].endswith("nothing to roll back")
    assert sum(emu.counters.requests.values()) == 0
    assert report.items == ()
    assert Outcome.SUCCEEDED not in {i.outcome for i in report.items}


@pytest.mark.anyio
async def test_a_stale_read_from_before_the_rollout_never_makes_a_rollback_look_done(tmp_path: Path) -> None:
    """Right after a rollout PUT (in flight at a crash), reads still show the old values for a while; the rollback
    waits for a read newer than the rollout, sees the update landed, and sends its PUT (not "unchanged")."""
    async with fast_emulator(stale_read_seconds=0.3) as emu, client_for(emu) as client:
        sid = emu.service_ids()[0]
        prior = workers(emu, [sid])[sid]
        sent_at = time.time()
        await client.services.put(sid, UPDATE)  # the rollout's PUT; then the run crashed
        header = {"type": "header", "version": 1, "before_images": True, "options": {}}
        before = {f"service_workload.worker.{k}": prior[k] for k in ("memory", "replica")}
        update = {"service_workload": {"worker": {"memory": "16", "replica": "5"}}}
        intent = {"type": "intent", "id": sid, "update": update, "before": before, "t": sent_at}
        journal = _write(tmp_path / "run.jsonl", header, intent)
        stale = await client.services.get(sid)  # what a read trusted as is would go by
        assert stale.service_workload.worker.replica == prior["replica"]  # type: ignore[union-attr]
        report = await client.fleet.rollback(journal)
        after = workers(emu, [sid])[sid]
    assert report.counts["succeeded"] == 1, report.items
    assert after == prior
    assert emu.counters.accepted_puts_per_service[sid] == 2
