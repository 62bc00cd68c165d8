"""Each quirk of the reference, switched on by name, answers as recorded live, and the seeded ones repeat exactly."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import pytest
from _emulator_helpers import Caller

from aiodataops._signing import Credentials
from aiodataops.cli._emulator import config_from_args
from aiodataops.emulator import QUIRKS, Emulator

if TYPE_CHECKING:
    import aiohttp

    from aiodataops._clock import VirtualClock

pytestmark = pytest.mark.anyio


async def _stopped_after_updates(clock: VirtualClock, session: aiohttp.ClientSession, seed: int) -> list[str]:
    async with Emulator(seed=seed, clock=clock, services=40, quirks={"updates_end_stopped"}) as emu:
        call = Caller(session, emu)
        for service_id in emu.service_ids():
            status, _, _ = await call("PUT", f"/v1/data-ops-services/{service_id}", {"description": "x"})
            assert status == 202
        clock.advance(10.0)
        return [s for s in emu.service_ids() if emu.service_state(s) == "STOPPED"]


async def test_updates_end_stopped_for_a_seeded_share(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """`updates_end_stopped` ends about a quarter of updates STOPPED, the same services for the same seed."""
    first = await _stopped_after_updates(clock, session, seed=4)
    again = await _stopped_after_updates(clock, session, seed=4)
    assert first == again
    assert 4 <= len(first) <= 18  # a quarter of 40, give or take


async def test_edge_417_answers_the_html_page_in_seeded_bursts(
    clock: VirtualClock, session: aiohttp.ClientSession
) -> None:
    """`edge_417` answers some requests 417 with the edge's HTML "Request Rejected" page, identically per seed."""

    async def statuses() -> list[int]:
        async with Emulator(seed=9, clock=clock, quirks={"edge_417"}) as emu:
            call = Caller(session, emu)
            path = f"/v1/data-ops-services/{emu.service_ids()[0]}"
            seen = []
            for _ in range(60):
                status, body, headers = await call("GET", path)
                seen.append(status)
                if status == 417:
                    assert "Request Rejected" in body
                    assert "support ID" in body
                    assert headers["Content-Type"].startswith("text/html")
            return seen

    first = await statuses()
    assert first == await statuses()
    assert set(first) == {200, 417}
    assert "417, 417" in ", ".join(map(str, first))  # bursts, not lone refusals


async def test_detail_as_string_stringifies_every_errors_detail(emu: Emulator, call: Caller) -> None:
    """`detail_as_string` writes `detail` as Python's str() of the reasons list, as 5 live probes showed."""
    emu.reconfigure(quirks={"detail_as_string"})
    status, body, _ = await call("PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", {"bogus": "1"})
    assert status == 400
    detail = body["errors"][0]["detail"]
    assert isinstance(detail, str)
    assert ast.literal_eval(detail) == ["body.bogus: extra fields not permitted"]


async def test_bad_credentials_404_answers_springs_envelope(emu: Emulator, call: Caller) -> None:
    """`bad_credentials_404` answers a wrong secret with the gateway's Spring-style 404 and its request id."""
    emu.reconfigure(quirks={"bad_credentials_404"})
    status, body, _ = await call("GET", "/v1/data-ops", credentials=Credentials(emu.credentials.access_key, "no"))
    assert status == 404
    assert set(body) == {"timestamp", "path", "status", "error", "requestId"}
    assert (body["status"], body["error"], body["path"]) == (404, "Not Found", "/v1/data-ops")


async def test_gone_answers_400_after_a_delete(emu: Emulator, clock: VirtualClock, call: Caller) -> None:
    """By default a deleted service reads 404; with `gone_answers_400` it reads 400 "not found" like unknown ids."""
    first, second = emu.service_ids()[:2]
    for service_id in (first, second):
        assert (await call("DELETE", f"/v1/data-ops-services/{service_id}"))[0] == 202
    clock.advance(5.0)
    assert (await call("GET", f"/v1/data-ops-services/{first}"))[0] == 404
    emu.reconfigure(quirks={"gone_answers_400"})
    status, body, _ = await call("GET", f"/v1/data-ops-services/{second}")
    assert status == 400
    assert body["errors"][0]["detail"] == [f"DataOpsService {second} not found"]


async def test_the_202_of_an_update_has_an_empty_workload(emu: Emulator, call: Caller) -> None:
    """The 202 of a service update carries `service_workload: ""`, as the documented example does."""
    status, body, _ = await call("PUT", f"/v1/data-ops-services/{emu.service_ids()[0]}", {"description": "y"})
    assert (status, body["service_workload"], body["state"]) == (202, "", "UPDATING")


def test_every_quirk_can_be_named_on_the_command_line() -> None:
    """`aiodataops emulator --quirk NAME` accepts every quirk, and the config carries them."""
    import argparse  # noqa: PLC0415 -- only this test builds the parser

    from aiodataops.cli._emulator import register  # noqa: PLC0415 -- the command under test

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["emulator", *[a for q in sorted(QUIRKS) for a in ("--quirk", q)]])
    assert config_from_args(args).quirks == frozenset(QUIRKS)
