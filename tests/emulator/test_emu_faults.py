"""Seeded faults and latency: the right answer for each kind, before the operation, reproducible per seed."""

from __future__ import annotations

import logging

import aiohttp
import anyio
import orjson
import pytest
from _emulator_helpers import Caller

from aiodataops._clock import VirtualClock
from aiodataops._signing import now_ms, signed_headers
from aiodataops.emulator import Emulator, FaultRule, Latency
from aiodataops.emulator._faults import FaultInjector

pytestmark = pytest.mark.anyio

UPDATE = {"description": "changed"}


async def one(kind: str, clock: VirtualClock, session: aiohttp.ClientSession, **rule: object):
    async with Emulator(clock=clock, faults=[FaultRule("update_service", kind, **rule)]) as emu:  # type: ignore[arg-type]
        service_id = emu.service_ids()[0]
        status, body, headers = await Caller(session, emu)("PUT", f"/v1/data-ops-services/{service_id}", UPDATE)
        return status, body, headers, emu, service_id


async def test_429_with_retry_after(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A 429 fault answers Retry-After when configured, and the PUT it refused was not applied."""
    status, body, headers, emu, service_id = await one("429", clock, session, retry_after=2)
    assert (status, headers["Retry-After"]) == (429, "2")
    assert body["errors"][0]["status"] == 429
    assert emu.service_state(service_id) == "RUNNING"
    assert emu.service_body(service_id)["description"] != "changed"
    assert (emu.counters.puts_per_service[service_id], emu.counters.accepted_puts_per_service[service_id]) == (1, 0)


async def test_429_without_retry_after(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A 429 fault without retry_after sends no Retry-After header."""
    status, _, headers, _, _ = await one("429", clock, session)
    assert status == 429
    assert "Retry-After" not in headers


async def test_503_text_is_envoy_plain_text(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A 503_text fault answers text/plain 'upstream connect error ...' like an edge proxy."""
    status, body, headers, _, _ = await one("503_text", clock, session)
    assert status == 503
    assert headers["Content-Type"].startswith("text/plain")
    assert body.startswith("upstream connect error or disconnect/reset before headers")


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("502", 502), ("503", 503), ("504", 504)])
async def test_server_error_kinds(clock: VirtualClock, session: aiohttp.ClientSession, kind: str, status: int) -> None:
    """Each 5xx fault answers its status with a JSON envelope, and the PUT was not applied."""
    got, body, _, emu, service_id = await one(kind, clock, session)
    assert got == status
    assert "errors" in body or body["status"] == 500
    assert emu.service_state(service_id) == "RUNNING"


async def test_drop_closes_without_answer(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A drop fault closes the connection with no answer, applies nothing, and logs status 0."""
    rule = FaultRule("validate_resources_create", "drop")
    async with Emulator(clock=clock, faults=[rule]) as emu:
        path = f"/v1/data-ops-services/clusters/{emu.cluster_ids()[0]}/validate-resources"
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await Caller(session, emu)("POST", path, {"service_workload": {}})
    assert emu.counters.requests["validate_resources_create", 0] == 1
    assert emu.counters.log[-1].status == 0


async def test_dropped_put_is_not_applied(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A dropped PUT changes nothing (aiohttp itself re-sends an idempotent request once after a disconnect)."""
    async with Emulator(clock=clock, faults=[FaultRule("update_service", "drop")]) as emu:
        service_id = emu.service_ids()[0]
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await Caller(session, emu)("PUT", f"/v1/data-ops-services/{service_id}", UPDATE)
    assert emu.service_state(service_id) == "RUNNING"
    assert emu.counters.puts_per_service[service_id] == 2
    assert emu.counters.accepted_puts_per_service[service_id] == 0


async def test_drop_after_apply_applies_then_drops(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """drop_after_apply applies the create and then closes the connection: the client never hears of it."""
    rule = FaultRule("create_service", "drop_after_apply")
    async with Emulator(clock=clock, faults=[rule]) as emu:
        from _emulator_helpers import service_create  # noqa: PLC0415 -- shared body builder

        with pytest.raises(aiohttp.ServerDisconnectedError):
            await Caller(session, emu)("POST", "/v1/data-ops-services", service_create(emu))
        names = [emu.service_body(s)["data_ops_service_name"] for s in emu.service_ids()]
    assert "new-svc-01" in names


async def test_drop_after_apply_on_put_meets_aiohttp_resend(
    clock: VirtualClock, session: aiohttp.ClientSession
) -> None:
    """A PUT applied then dropped is re-sent by aiohttp once and that copy gets 409: one update applied."""
    rule = FaultRule("update_service", "drop_after_apply", limit=1)
    async with Emulator(clock=clock, faults=[rule]) as emu:
        service_id = emu.service_ids()[0]
        status, _, _ = await Caller(session, emu)("PUT", f"/v1/data-ops-services/{service_id}", UPDATE)
    assert status == 409
    assert emu.counters.puts_per_service[service_id] == 2
    assert emu.counters.accepted_puts_per_service[service_id] == 1
    assert emu.service_state(service_id) == "UPDATING"


async def test_accept_no_body_applies_and_answers_an_empty_202(
    clock: VirtualClock, session: aiohttp.ClientSession
) -> None:
    """accept_no_body applies the PUT and answers 202 with no body at all: accepted, state unknown to the client."""
    status, body, _, emu, service_id = await one("accept_no_body", clock, session)
    assert (status, body) == (202, "")
    assert emu.counters.accepted_puts_per_service[service_id] == 1
    assert emu.service_state(service_id) == "UPDATING"


async def test_slow_fault_sleeps_on_the_clock(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A slow fault delays the answer by its delay on the emulator's clock, then answers normally."""
    async with Emulator(clock=clock, faults=[FaultRule("list_services", "slow", delay=7.5)]) as emu:
        status, _, _ = await Caller(session, emu)("GET", "/v1/data-ops-services")
    assert status == 200
    assert clock.sleeps == [7.5]


async def statuses(seed: int, session: aiohttp.ClientSession, order: list[int]) -> dict[str, list[int]]:
    rules = [FaultRule("get_service", "503", rate=0.3), FaultRule("get_service", "429", rate=0.3)]
    async with Emulator(seed=seed, clock=VirtualClock(), faults=rules) as emu:
        call = Caller(session, emu)
        ids = emu.service_ids()
        seen: dict[str, list[int]] = {service_id: [] for service_id in ids}
        for index in order:
            status, _, _ = await call("GET", f"/v1/data-ops-services/{ids[index]}")
            seen[ids[index]].append(status)
        return seen


async def test_faults_are_reproducible_per_seed_and_order_free(session: aiohttp.ClientSession) -> None:
    """The same seed gives each resource the same fault sequence, whatever order requests arrive in."""
    order = [i % 10 for i in range(60)]
    first = await statuses(11, session, order)
    shuffled = await statuses(11, session, sorted(order, key=lambda i: (i * 7) % 10))
    other = await statuses(12, session, order)
    assert first == shuffled
    assert first != other
    everything = [s for seq in first.values() for s in seq]
    assert {200, 429, 503} <= set(everything)
    assert 0.3 < everything.count(200) / len(everything) < 0.7


async def test_limit_and_target(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A rule with a target only hits that resource, and a limit stops it after that many injections."""
    async with Emulator(clock=clock) as emu:
        first, second = emu.service_ids()[:2]
        emu.faults = (FaultRule("get_service", "500", target=first, limit=2),)
        call = Caller(session, emu)
        got = [(await call("GET", f"/v1/data-ops-services/{sid}"))[0] for sid in (first, second, first, first)]
    assert got == [500, 200, 500, 200]
    assert emu.counters.faults["get_service", "500"] == 2


async def test_wildcard_rule_hits_every_operation(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A '*' rule applies to every operation."""
    async with Emulator(clock=clock, faults=[FaultRule("*", "502")]) as emu:
        call = Caller(session, emu)
        got = {
            (await call("GET", path))[0]
            for path in ("/v1/data-ops", "/v1/data-ops-services", "/v1/data-ops/image-versions")
        }
    assert got == {502}


async def test_latency_is_a_distribution(session: aiohttp.ClientSession) -> None:
    """Uniform latency draws differ between requests, stay in range, and repeat for the same seed."""

    async def sleeps(seed: int) -> list[float]:
        clock = VirtualClock()
        async with Emulator(seed=seed, clock=clock, latency=Latency.uniform(0.01, 0.05)) as emu:
            call = Caller(session, emu)
            for _ in range(20):
                await call("GET", "/v1/data-ops")
        return clock.sleeps

    first, again = await sleeps(3), await sleeps(3)
    assert first == again
    assert len(set(first)) == 20
    assert all(0.01 <= s <= 0.05 for s in first)


async def test_latency_per_operation(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """A latency mapping applies to its operation only ('*' would be the default)."""
    latency = {"get_service": Latency.lognormal(0.02, sigma=1.0, cap=0.1)}
    async with Emulator(clock=clock, latency=latency) as emu:
        call = Caller(session, emu)
        await call("GET", "/v1/data-ops")
        for _ in range(30):
            await call("GET", f"/v1/data-ops-services/{emu.service_ids()[0]}")
    assert len(clock.sleeps) == 30
    assert max(clock.sleeps) <= 0.1
    assert min(clock.sleeps) < 0.02 < max(clock.sleeps)


def test_lognormal_median() -> None:
    """Log-normal latency draws have about the configured median."""
    injector = FaultInjector(0, (), Latency.lognormal(0.05, sigma=0.5))
    draws = sorted(injector.latency("get_service", f"/x/{i}") for i in range(2001))
    assert 0.045 < draws[1000] < 0.055


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"operation": "get_services", "kind": "500"}, "unknown operation"),
        ({"operation": "get_service", "kind": "418"}, "unknown kind"),
        ({"operation": "get_service", "kind": "500", "rate": 1.5}, "between 0 and 1"),
        ({"operation": "get_service", "kind": "slow", "delay": -1}, "must not be negative"),
    ],
)
def test_bad_fault_rules_are_refused(kwargs: dict[str, object], problem: str) -> None:
    """A FaultRule with an unknown operation or kind, or an out-of-range number, is refused naming the problem."""
    with pytest.raises(ValueError, match=problem):
        FaultRule(**kwargs)  # type: ignore[arg-type]


class _NoticingClock(VirtualClock):
    """A virtual clock that tells when a request reached the emulator's latency sleep (the handler is running)."""

    def __init__(self) -> None:
        super().__init__()
        self.slept = anyio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.set()
        await super().sleep(seconds)


async def test_a_client_giving_up_mid_body_is_a_quiet_drop(caplog: pytest.LogCaptureFixture) -> None:
    """A PUT whose client hangs up before its body is read counts as dropped (status 0), logs no traceback."""
    clock = _NoticingClock()
    async with Emulator(clock=clock, faults=[FaultRule("update_service", "slow", delay=30.0)]) as emu:
        service_id = emu.service_ids()[0]
        url = emu.url(f"/v1/data-ops-services/{service_id}")
        headers = signed_headers("PUT", url, now_ms(), emu.credentials)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        body = orjson.dumps(UPDATE)
        # Half the body, then hang up: the handler is running (it reached the slow fault's sleep) and its read of
        # the body can only end with the connection lost, whatever the order the loop sees things in.
        request = (
            f"PUT /v1/data-ops-services/{service_id} HTTP/1.1\r\nHost: {emu.base_url.removeprefix('http://')}\r\n{head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body[: len(body) // 2]
        stream = await anyio.connect_tcp("127.0.0.1", emu.port)
        await stream.send(request)
        await clock.slept.wait()
        await stream.aclose()
    # Leaving the emulator waited for the handler to finish.
    assert emu.counters.requests["update_service", 0] == 1
    assert emu.counters.log[-1].status == 0
    assert emu.counters.accepted_puts_per_service[service_id] == 0
    assert emu.service_state(service_id) == "RUNNING"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
