"""First checks of the emulator through HTTP: it serves, signs, and moves a service through an update."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aiodataops._clock import VirtualClock
    from aiodataops.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_lists_seeded_services(emu: Emulator, call) -> None:
    """The service list answers the seeded fleet as {contents, total_count}."""
    status, body, _ = await call("GET", "/v1/data-ops-services?page=0&size=4")
    assert status == 200
    assert body["total_count"] == 10
    assert [item["data_ops_service_id"] for item in body["contents"]] == emu.service_ids()[:4]


async def test_update_goes_updating_then_running(emu: Emulator, clock: VirtualClock, call) -> None:
    """An accepted update answers 202 in UPDATING and reads RUNNING once its duration has passed."""
    service_id = emu.service_ids()[0]
    status, body, _ = await call(
        "PUT", f"/v1/data-ops-services/{service_id}", {"service_workload": {"worker": {"replica": "3"}}}
    )
    assert (status, body["state"]) == (202, "UPDATING")
    clock.advance(2.5)
    status, body, _ = await call("GET", f"/v1/data-ops-services/{service_id}")
    assert (status, body["state"], body["service_workload"]["worker"]["replica"]) == (200, "RUNNING", "3")
