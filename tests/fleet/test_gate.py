"""Health gates between canary batches: a passing gate lets the rollout finish, a failing or hanging one stops it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from aiodataops._errors import ConfigurationError
from aiodataops._models import ServiceUpdate, ServiceWorkload, Workload
from aiodataops.fleet import FleetReport, Outcome, StopReason
from tests.fleet.test_cli import _plan, run_fleet

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops._client import DataOpsClient
    from aiodataops.emulator import Emulator

# No seeded worker has 5 replicas: every service changes.
UPDATE = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(replica="5")))


@pytest.mark.anyio
async def test_a_gate_that_passes_sees_each_batch_and_lets_the_rollout_finish(
    emu: Emulator, client: DataOpsClient
) -> None:
    """gate= is called after each batch (the last too) with its report; saying yes every time, all 20 succeed."""
    seen: list[list[int | None]] = []

    async def gate(report: FleetReport) -> bool:
        seen.append([item.batch for item in report.items])
        assert all(item.outcome is Outcome.SUCCEEDED for item in report.items)
        return True

    ids = emu.service_ids()
    report = await client.fleet.apply([(sid, UPDATE) for sid in ids], batches=[1, 4, 5], gate=gate)
    assert report.counts["succeeded"] == 20
    assert report.stopped is StopReason.COMPLETED
    assert seen == [[0], [1] * 4, [2] * 5, [3] * 5, [4] * 5]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["no", "raises", "hangs"])
async def test_a_gate_that_fails_after_the_first_batch_stops_the_rollout(
    emu: Emulator, client: DataOpsClient, kind: str
) -> None:
    """A gate saying no, raising, or hanging past gate_timeout after batch 1 stops the rollout: the rest skipped with
    the kind "gate", stopped is GATE, and no PUT reaches a service beyond the first batch."""

    async def gate(report: FleetReport) -> bool:
        if kind == "raises":
            raise RuntimeError("the canary's error rate is 12%")
        if kind == "hangs":
            await anyio.sleep_forever()
        return False

    ids = emu.service_ids()
    report = await client.fleet.apply([(sid, UPDATE) for sid in ids], batches=[2, 10], gate=gate, gate_timeout=0.1)
    assert report.stopped is StopReason.GATE
    assert report.counts["succeeded"] == 2
    assert report.counts["skipped"] == 18
    skipped = [item for item in report.items if item.outcome is Outcome.SKIPPED]
    assert {item.error.kind for item in skipped if item.error} == {"gate"}
    assert "the health gate after batch 1" in skipped[0].error.message  # type: ignore[union-attr]
    assert sum(emu.counters.accepted_puts_per_service.values()) == 2


@pytest.mark.anyio
async def test_a_gate_without_batches_is_refused_before_any_request(emu: Emulator, client: DataOpsClient) -> None:
    """gate= without batches is a ConfigurationError, raised before anything is sent."""

    async def gate(report: FleetReport) -> bool:
        return True

    with pytest.raises(ConfigurationError, match="set batches too"):
        await client.fleet.apply([(emu.service_ids()[0], UPDATE)], gate=gate)
    assert sum(emu.counters.requests.values()) == 0


@pytest.mark.anyio
async def test_gate_command_gets_the_batch_report_and_its_exit_status_decides(emu: Emulator, tmp_path: Path) -> None:
    """--gate CMD reads the batch report on stdin and finds AIODATAOPS_BATCH and AIODATAOPS_REPORT; exit 0 goes on,
    a non-zero exit after batch 1 stops the rollout with the rest skipped (exit 1)."""
    plan = str(_plan(tmp_path))
    check = (
        'test -n "$AIODATAOPS_BATCH" && grep -q \'"outcome": "succeeded"\' "$AIODATAOPS_REPORT" '
        '&& grep -q data_ops_service_id && echo "gate ok after batch $AIODATAOPS_BATCH"'
    )
    code, out, err = await run_fleet(emu, tmp_path, "apply", plan, "--batches", "5", "--gate", check)
    assert code == 0, err
    assert "gate ok after batch 1" in err
    assert "gate ok after batch 3" in err
    assert out.splitlines()[-1] == "20 changed, 0 unchanged, 0 failed, 0 timed out, 0 skipped, 0 not started"
    code, out, err = await run_fleet(
        emu, tmp_path, "apply", plan, "--batches", "2", "--force", "--gate", "exit 3", "--journal", "again.jsonl"
    )
    assert code == 1, err
    assert "stopped: gate (the health gate after batch 1 said stop)" in out
    assert out.splitlines()[-1] == "2 changed, 0 unchanged, 0 failed, 0 timed out, 18 skipped, 0 not started"
    assert err.splitlines()[-1] == "aiodataops fleet resume again.jsonl"
