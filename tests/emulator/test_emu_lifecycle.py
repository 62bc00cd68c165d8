"""Changes take time: 202, an in-progress state, then RUNNING or ERROR; reads lag behind for the stale window."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from _emulator_helpers import Caller, service_create

from aiodataops._clock import VirtualClock
from aiodataops._models import Service
from aiodataops._signing import Credentials
from aiodataops._wire import parse_datetime, structure
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    import aiohttp

pytestmark = pytest.mark.anyio

SCALE = {"replica": "4"}


async def test_update_202_carries_new_modified_dt(emu: Emulator, call) -> None:
    """The 202 body is UPDATING with a modified_dt later than the one before the update."""
    service_id = emu.service_ids()[0]
    before = emu.service_body(service_id)
    status, body, _ = await call("PUT", f"/v1/data-ops-services/{service_id}", {"service_workload": {"worker": SCALE}})
    assert (status, body["state"]) == (202, "UPDATING")
    assert parse_datetime(body["modified_dt"]) > parse_datetime(before["modified_dt"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["modified_dt"])


async def test_update_settles_within_configured_duration(emu: Emulator, clock: VirtualClock, call) -> None:
    """A service stays UPDATING before the minimum duration and is RUNNING after the maximum."""
    service_id = emu.service_ids()[0]
    await call("PUT", f"/v1/data-ops-services/{service_id}", {"service_workload": {"worker": SCALE}})
    clock.advance(0.99)
    _, early, _ = await call("GET", f"/v1/data-ops-services/{service_id}")
    clock.advance(1.02)
    _, late, _ = await call("GET", f"/v1/data-ops-services/{service_id}")
    assert (early["state"], late["state"]) == ("UPDATING", "RUNNING")
    assert late["modified_dt"] == early["modified_dt"]


async def test_update_while_updating_is_409(emu: Emulator, clock: VirtualClock, call) -> None:
    """A second update while the first is in progress is a 409; after it settles a new update is accepted."""
    path = f"/v1/data-ops-services/{emu.service_ids()[0]}"
    first, _, _ = await call("PUT", path, {"description": "one"})
    second, body, _ = await call("PUT", path, {"description": "two"})
    clock.advance(2.0)
    third, _, _ = await call("PUT", path, {"description": "three"})
    assert (first, second, third) == (202, 409, 202)
    assert "UPDATING" in body["errors"][0]["detail"][0]


async def test_stale_reads_show_previous_snapshot(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """Inside the stale window a GET answers the old state, fields and modified_dt; after it, the new ones."""
    async with Emulator(seed=1, clock=clock, stale_read_seconds=0.5, update_duration=(2.0, 2.0)) as emu:
        call = Caller(session, emu)
        service_id = emu.service_ids()[0]
        before = emu.service_body(service_id)
        _, accepted, _ = await call("PUT", f"/v1/data-ops-services/{service_id}", {"description": "changed"})
        clock.advance(0.4)
        _, stale, _ = await call("GET", f"/v1/data-ops-services/{service_id}")
        name = before["data_ops_service_name"]
        _, listed, _ = await call("GET", f"/v1/data-ops-services?data_ops_service_name={name}")
        true_state = emu.service_state(service_id)
        clock.advance(0.2)
        _, fresh, _ = await call("GET", f"/v1/data-ops-services/{service_id}")
    assert (stale["state"], stale["description"], stale["modified_dt"]) == (
        "RUNNING",
        before["description"],
        before["modified_dt"],
    )
    assert listed["contents"][0]["modified_dt"] == before["modified_dt"]
    assert true_state == "UPDATING"
    assert (fresh["state"], fresh["description"], fresh["modified_dt"]) == (
        "UPDATING",
        "changed",
        accepted["modified_dt"],
    )


async def test_created_service_is_invisible_during_stale_window(
    clock: VirtualClock, session: aiohttp.ClientSession
) -> None:
    """A just-created service answers 404 inside the stale window, then CREATING, then RUNNING."""
    async with Emulator(seed=2, clock=clock, stale_read_seconds=0.5, create_duration=(1.0, 1.0)) as emu:
        call = Caller(session, emu)
        _, created, _ = await call("POST", "/v1/data-ops-services", service_create(emu))
        path = f"/v1/data-ops-services/{created['data_ops_service_id']}"
        states = []
        for step in (0.0, 0.6, 0.5):
            clock.advance(step)
            status, body, _ = await call("GET", path)
            states.append(body["state"] if status == 200 else status)
    assert states == [404, "CREATING", "RUNNING"]


async def test_error_rate_one_ends_in_error(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """With error_rate=1 every update ends in ERROR, and a service in ERROR accepts a new update."""
    async with Emulator(seed=3, clock=clock, error_rate=1.0, update_duration=(1.0, 1.0)) as emu:
        call = Caller(session, emu)
        path = f"/v1/data-ops-services/{emu.service_ids()[0]}"
        await call("PUT", path, {"description": "x"})
        clock.advance(1.0)
        _, failed, _ = await call("GET", path)
        retry, _, _ = await call("PUT", path, {"description": "y"})
    assert failed["state"] == "ERROR"
    assert retry == 202


async def outcomes(seed: int, order: list[int], clock: VirtualClock, session: aiohttp.ClientSession) -> dict[str, str]:
    async with Emulator(
        seed=seed, clock=clock, data_ops=2, services_per_data_ops=20, error_rate=0.5, update_duration=(1.0, 5.0)
    ) as emu:
        call = Caller(session, emu)
        ids = emu.service_ids()
        for index in order:
            await call("PUT", f"/v1/data-ops-services/{ids[index]}", {"description": "x"})
        clock.advance(3.0)
        return {service_id: emu.service_state(service_id) for service_id in ids}


async def test_outcomes_and_durations_are_seeded_not_ordered(session: aiohttp.ClientSession) -> None:
    """The same seed gives each service the same outcome and duration whatever order the updates arrive in."""
    forward = await outcomes(5, list(range(40)), VirtualClock(), session)
    backward = await outcomes(5, list(reversed(range(40))), VirtualClock(), session)
    other_seed = await outcomes(6, list(range(40)), VirtualClock(), session)
    assert forward == backward
    assert set(forward.values()) == {"UPDATING", "RUNNING", "ERROR"}
    assert list(forward.values()) != list(other_seed.values())


async def test_title_case_states(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """With state_case="title" states read Running and Updating."""
    async with Emulator(clock=clock, state_case="title") as emu:
        call = Caller(session, emu)
        path = f"/v1/data-ops-services/{emu.service_ids()[0]}"
        _, before, _ = await call("GET", path)
        _, accepted, _ = await call("PUT", path, {"description": "x"})
    assert (before["state"], accepted["state"]) == ("Running", "Updating")


async def test_force_outcome_and_set_state(emu: Emulator, clock: VirtualClock, call) -> None:
    """force_outcome makes the next change end in the given state; set_state puts a state at once."""
    first, second = emu.service_ids()[:2]
    emu.force_outcome(first, "ERROR")
    await call("PUT", f"/v1/data-ops-services/{first}", {"description": "x"})
    clock.advance(2.0)
    emu.set_state(second, "ERROR")
    assert (emu.service_state(first), emu.service_state(second)) == ("ERROR", "ERROR")


async def test_update_merges_workload_fields(emu: Emulator, clock: VirtualClock, call) -> None:
    """An update changes only the workload fields it sends; the other roles and fields keep their values."""
    service_id = emu.service_ids()[0]
    before = emu.service_body(service_id)["service_workload"]
    _, body, _ = await call(
        "PUT", f"/v1/data-ops-services/{service_id}", {"service_workload": {"worker": {"replica": "9"}}}
    )
    assert body["service_workload"] == ""  # the documented 202 does not say which workload it will end with
    after = emu.service_body(service_id)["service_workload"]
    assert after["worker"] == {**before["worker"], "replica": "9"}
    assert (after["scheduler"], after["web_server"]) == (before["scheduler"], before["web_server"])


async def test_modified_dt_follows_the_injected_clock(emu: Emulator, clock: VirtualClock, call) -> None:
    """modified_dt of successive updates is as far apart as the injected clock moved between them."""
    path = f"/v1/data-ops-services/{emu.service_ids()[0]}"
    _, first, _ = await call("PUT", path, {"description": "a"})
    clock.advance(3600.0)
    _, second, _ = await call("PUT", path, {"description": "b"})
    gap = parse_datetime(second["modified_dt"]) - parse_datetime(first["modified_dt"])
    assert 3600.0 <= gap.total_seconds() < 3601.0


async def test_reconfigure_changes_the_next_changes(emu: Emulator, clock: VirtualClock, call) -> None:
    """reconfigure() changes durations and error rate for later updates and refuses settings fixed at start."""
    first, second = emu.service_ids()[:2]
    await call("PUT", f"/v1/data-ops-services/{first}", {"description": "a"})
    emu.reconfigure(update_duration=(10.0, 10.0), error_rate=1.0)
    await call("PUT", f"/v1/data-ops-services/{second}", {"description": "b"})
    assert emu.settles_at(second) == clock.now() + 10.0
    clock.advance(9.0)
    assert (emu.service_state(first), emu.service_state(second)) == ("RUNNING", "UPDATING")
    clock.advance(1.0)
    assert emu.service_state(second) == "ERROR"
    with pytest.raises(ValueError, match="seed"):
        emu.reconfigure(seed=3)


async def test_settles_at_matches_the_transition(emu: Emulator, clock: VirtualClock, call) -> None:
    """settles_at() tells the clock time a change ends: UPDATING just before it, RUNNING at it."""
    service_id = emu.service_ids()[3]
    assert emu.settles_at(service_id) is None
    await call("PUT", f"/v1/data-ops-services/{service_id}", {"description": "a"})
    end = emu.settles_at(service_id)
    assert end is not None
    assert 1.0 <= end - clock.now() <= 2.0
    clock.advance(end - clock.now() - 1e-6)
    before = emu.service_state(service_id)
    clock.advance(1e-6)
    assert (before, emu.service_state(service_id)) == ("UPDATING", "RUNNING")


async def test_wire_quirks(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """Quirks answer workloads as JSON strings, ports as integers and enabled as a boolean; a 202 has "" anyway."""
    quirks = {"workload_as_json_string", "ports_as_integers", "enabled_as_bool"}
    async with Emulator(clock=clock, quirks=quirks) as emu:
        call = Caller(session, emu)
        path = f"/v1/data-ops-services/{emu.service_ids()[0]}"
        _, detail, _ = await call("GET", path)
        _, accepted, _ = await call("PUT", path, {"description": "x"})
    assert isinstance(detail["service_workload"], str)
    assert detail["service_workload"].startswith("{")
    assert accepted["service_workload"] == ""
    assert (detail["http_port"], detail["host_alias"]["enabled"]) == (80, False)
    assert (
        structure(detail, Service).service_workload
        == structure(emu.service_body(emu.service_ids()[0]), Service).service_workload
    )


async def test_auth_quirks(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """signature_412 answers a wrong signature with 412; unauthenticated_404 answers a bare request with 404."""
    async with Emulator(clock=clock, quirks={"signature_412", "unauthenticated_404"}) as emu:
        call = Caller(session, emu)
        wrong, _, _ = await call("GET", "/v1/data-ops", credentials=Credentials(emu.credentials.access_key, "x"))
        async with session.get(emu.url("/v1/data-ops")) as response:
            bare = response.status
            body = await response.json()
    assert (wrong, bare, body["error"]) == (412, 404, "Not Found")
