"""Converging fleet updates against the emulator: read before the PUT, ``unchanged`` without one, before-images."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from aiodataops._models import Account, Service, ServiceUpdate, ServiceWorkload, Workload
from aiodataops.emulator import PASSWORD_MARK
from aiodataops.fleet import Outcome, read_journal
from aiodataops.fleet._diff import before_image
from tests.fleet.conftest import client_for, fast_emulator

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops._client import DataOpsClient
    from aiodataops.emulator import Emulator

UPDATE = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(cpu="2", memory="4", replica="7")))


def pairs(ids: list[str], update: ServiceUpdate = UPDATE) -> list[tuple[str, ServiceUpdate]]:
    return [(sid, update) for sid in ids]


@pytest.mark.anyio
async def test_a_second_apply_sends_no_put_and_reports_every_target_unchanged(
    emu: Emulator, client: DataOpsClient
) -> None:
    """Applying the same update twice: the second run sends 0 PUTs, every target is unchanged, and the run is ok."""
    ids = emu.service_ids()
    first = await client.fleet.apply(pairs(ids), concurrency=4)
    assert first.counts["succeeded"] == len(ids)
    assert sum(emu.counters.accepted_puts_per_service.values()) == len(ids)
    second = await client.fleet.apply(pairs(ids), concurrency=4)
    assert second.counts["unchanged"] == len(ids)
    assert second.ok
    assert all(item.attempts == 0 for item in second.items)
    assert sum(emu.counters.accepted_puts_per_service.values()) == len(ids)
    assert emu.counters.total("update_service") == len(ids)


@pytest.mark.anyio
async def test_force_sends_an_update_already_in_place(emu: Emulator, client: DataOpsClient) -> None:
    """With force=True an update already in place is sent again and reported succeeded, not unchanged."""
    ids = emu.service_ids()[:3]
    await client.fleet.apply(pairs(ids))
    report = await client.fleet.apply(pairs(ids), force=True)
    assert report.counts["succeeded"] == 3
    assert all(emu.counters.accepted_puts_per_service[sid] == 2 for sid in ids)


@pytest.mark.anyio
async def test_a_read_in_progress_is_waited_out_before_it_may_say_unchanged(
    emu: Emulator, client: DataOpsClient
) -> None:
    """A service UPDATING towards the update's values is unchanged once settled; if that change ends in ERROR, the
    update is sent (a read in progress or failed is never taken as the update being in place)."""
    good, bad = emu.service_ids()[:2]
    emu.force_outcome(bad, "ERROR")
    for sid in (good, bad):
        await client.services.put(sid, UPDATE)  # somebody else's change, the same values, still in progress
    assert emu.service_state(good).upper() == "UPDATING"
    report = await client.fleet.apply(pairs([good, bad]), max_failures=None)
    outcomes = {item.data_ops_service_id: item.outcome for item in report.items}
    assert outcomes == {good: Outcome.UNCHANGED, bad: Outcome.SUCCEEDED}
    assert emu.counters.accepted_puts_per_service[good] == 1
    assert emu.counters.accepted_puts_per_service[bad] == 2


@pytest.mark.anyio
async def test_the_journal_records_before_images_of_exactly_the_fields_set(tmp_path: Path) -> None:
    """Each intent carries the prior values of exactly the update's fields, read before the PUT; no password."""
    async with fast_emulator() as emu, client_for(emu) as client:
        ids = emu.service_ids()[:4]
        prior = {sid: emu.service_body(sid)["service_workload"]["worker"] for sid in ids}
        journal = tmp_path / "run.jsonl"
        report = await client.fleet.apply(pairs(ids), journal=journal)
    assert report.counts["succeeded"] == 4
    state = read_journal(journal)
    assert state.header["before_images"] is True
    assert state.header["options"]["force"] is False
    for sid in ids:
        before = state.intents[sid].before
        assert before == {f"service_workload.worker.{k}": prior[sid].get(k) for k in ("cpu", "memory", "replica")}
    assert PASSWORD_MARK.encode() not in journal.read_bytes()


def test_a_secret_in_an_update_is_recorded_as_changed_never_its_value() -> None:
    """A before-image holds "changed" for an account_password the update sets, never the service's password."""
    current = Service(
        data_ops_service_id="DOPS_SERVICE-1",
        description="old",
        account=Account(account_id="admin", account_password="hunter2"),
    )
    image = before_image(current, {"description": "new", "account": {"account_password": "s3cret"}})
    assert image == {"description": "old", "account.account_password": "changed"}
    assert b"hunter2" not in orjson.dumps(image)
    assert b"s3cret" not in orjson.dumps(image)


@pytest.mark.anyio
async def test_targets_with_different_updates_are_each_compared_with_their_own(
    emu: Emulator, client: DataOpsClient
) -> None:
    """Targets alternating between two update objects are each diffed and checked against their own update (the
    run keeps the last update's wire form, never another target's): the one already holding its update is
    unchanged without a PUT, the others show their own values."""
    first, second = ServiceUpdate(description="shared-a"), ServiceUpdate(description="shared-b")
    a1, b1, a2, b2 = emu.service_ids()[:4]
    await client.fleet.apply([(a2, first)])
    puts_before = sum(emu.counters.accepted_puts_per_service.values())
    report = await client.fleet.apply([(b1, second), (a2, first), (a1, first), (b2, second)], concurrency=1)
    outcomes = {item.data_ops_service_id: item.outcome for item in report.items}
    assert outcomes == {b1: Outcome.SUCCEEDED, a2: Outcome.UNCHANGED, a1: Outcome.SUCCEEDED, b2: Outcome.SUCCEEDED}
    assert sum(emu.counters.accepted_puts_per_service.values()) - puts_before == 3
    shown = {sid: emu.service_body(sid)["description"] for sid in (a1, b1, a2, b2)}
    assert shown == {a1: "shared-a", b1: "shared-b", a2: "shared-a", b2: "shared-b"}
