"""The fleet engine through HTTP against the emulator: bounds, batches, budget, completeness, dry run, selectors."""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import warnings
from collections import Counter
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from aiodataops._clock import VirtualClock
from aiodataops._errors import ConfigurationError
from aiodataops._models import ServiceUpdate, ServiceWorkload, Workload
from aiodataops.emulator import Emulator, FaultRule, Latency
from aiodataops.fleet import (
    Baking,
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    FleetEvent,
    FleetStarted,
    Outcome,
    PlanError,
    StopReason,
    TargetAccepted,
    TargetEnded,
    TargetStarted,
    TargetStateChanged,
    parse_plan,
)
from tests.fleet.conftest import FAST_POLL, client_for, fast_emulator

# No seeded worker has 5 replicas: the update changes every service (none is ``unchanged``).
UPDATE = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(cpu="2", memory="4", replica="5")))


def pairs(ids: list[str], update: ServiceUpdate = UPDATE) -> list[tuple[str, ServiceUpdate]]:
    return [(sid, update) for sid in ids]


@pytest.mark.anyio
async def test_concurrency_bounds_requests_and_tasks_not_the_fleet() -> None:
    """With 200 services and concurrency 4: at most 4 requests at once, and the tasks stay a handful, not 200."""
    most_tasks = 0

    def client_tasks() -> int:
        # The emulator's connection handlers are the server side of the test, and how many connections aiohttp
        # keeps open is its business: count only the client's tasks.
        return sum(1 for t in asyncio.all_tasks() if not t.get_coro().__qualname__.startswith("RequestHandler."))

    def on_event(event: FleetEvent) -> None:
        nonlocal most_tasks
        most_tasks = max(most_tasks, client_tasks())

    emulator = fast_emulator(services_per_data_ops=100, latency=Latency.uniform(0.001, 0.004))
    async with emulator as emu, client_for(emu) as client:
        ids = emu.service_ids()
        baseline = client_tasks()
        report = await client.fleet.apply(pairs(ids), concurrency=4, on_event=on_event)
    assert report.counts["succeeded"] == 200
    assert emu.counters.max_in_flight <= 4
    assert report.peak_in_flight == 4
    # Four workers, the feeder, the event dispatcher and the watchers: a handful, far below one per service.
    assert most_tasks - baseline <= 4 + 6
    assert max(emu.counters.accepted_puts_per_service.values()) == 1


@pytest.mark.anyio
async def test_every_target_is_reported_exactly_once_in_order() -> None:
    """Mixed outcomes still give one report line per target, in the targets' order, counts summing to the total."""
    async with fast_emulator(error_rate=0.3, seed=3) as emu, client_for(emu) as client:
        ids = emu.service_ids()
        report = await client.fleet.apply(pairs(ids), concurrency=5, max_failures=None)
    assert [item.data_ops_service_id for item in report.items] == ids
    counts = report.counts
    assert sum(counts.values()) == len(ids) == report.total
    assert counts["failed"] > 0
    assert counts["succeeded"] > 0
    assert report.stopped is StopReason.COMPLETED
    assert not report.ok
    for item in report.items:
        if item.outcome is Outcome.FAILED:
            assert item.error is not None
            assert item.error.kind == "wait_failed"
            assert item.final_state == "ERROR"
        else:
            assert item.final_state == "RUNNING"
            assert item.attempts == 1
            assert item.polls >= 1
            assert item.accept_seconds is not None
            assert item.total_seconds is not None
            assert item.total_seconds >= item.accept_seconds


@pytest.mark.anyio
async def test_budget_stops_new_starts_and_lets_in_flight_settle(emu: Emulator) -> None:
    """Past the budget, in-flight services settle, nothing new is PUT, and the rest is reported skipped."""
    ids = emu.service_ids()[:10]
    emu.force_outcome(ids[0], "ERROR")
    events: list[FleetEvent] = []
    async with client_for(emu) as client:
        report = await client.fleet.apply(pairs(ids), concurrency=3, max_failures=0, on_event=events.append)
    by_id = {item.data_ops_service_id: item for item in report.items}
    assert len(report.items) == 10
    assert by_id[ids[0]].outcome is Outcome.FAILED
    # The two started with it were in flight when it failed: they settled, not cancelled.
    assert by_id[ids[1]].outcome is Outcome.SUCCEEDED
    assert by_id[ids[2]].outcome is Outcome.SUCCEEDED
    skipped = [sid for sid in ids if by_id[sid].outcome is Outcome.SKIPPED]
    assert skipped
    assert skipped == ids[10 - len(skipped) :]
    for sid in skipped:
        assert emu.counters.puts_per_service[sid] == 0
        assert by_id[sid].error is not None
        assert by_id[sid].error.kind == "budget_exceeded"
    assert report.stopped is StopReason.BUDGET_EXCEEDED
    assert [e for e in events if isinstance(e, BudgetExceeded)] == [BudgetExceeded(failures=1, limit=0)]
    assert sum(1 for e in events if isinstance(e, TargetEnded)) == 10


@pytest.mark.anyio
async def test_percentage_budget_counts_the_fleet_before_starting(emu: Emulator) -> None:
    """A percentage budget over lazy selectors resolves the fleet first, so the run starts knowing its size."""
    plan = parse_plan({"update": {"description": "x"}, "targets": [{"select": {"data_ops_service_id": "*"}}]})
    started: list[FleetStarted] = []
    async with client_for(emu) as client:
        report = await client.fleet.apply(
            plan, max_failures="10%", on_event=lambda e: started.append(e) if isinstance(e, FleetStarted) else None
        )
        assert started[0].total == 20
        assert report.counts["succeeded"] == 20
        lazy: list[FleetStarted] = []
        await client.fleet.apply(
            plan, max_failures=3, on_event=lambda e: lazy.append(e) if isinstance(e, FleetStarted) else None
        )
        assert lazy[0].total is None


@pytest.mark.anyio
async def test_batches_settle_in_order_with_bake_between() -> None:
    """Batches [1, 2, "50%"] of 8 run 1, 2, 4, 1 services; each batch ends before the bake and the next starts."""
    clock = VirtualClock()
    async with fast_emulator(services_per_data_ops=4, clock=clock) as emu, client_for(emu, clock=clock) as client:
        ids = emu.service_ids()
        log: list[tuple[float, FleetEvent]] = []
        report = await client.fleet.apply(
            pairs(ids), concurrency=8, batches=[1, 2, "50%"], bake=30.0, on_event=lambda e: log.append((clock.now(), e))
        )
    assert report.counts["succeeded"] == 8
    sizes = [e.size for _, e in log if isinstance(e, BatchStarted)]
    assert sizes == [1, 2, 4, 4]
    batch_of = {item.data_ops_service_id: item.batch for item in report.items}
    assert Counter(batch_of.values()) == {0: 1, 1: 2, 2: 4, 3: 1}
    assert [batch_of[sid] for sid in ids] == [0, 1, 1, 2, 2, 2, 2, 3]
    # Within the log: no service of batch n starts before batch n-1 ended and its bake passed.
    ended_at: dict[int, float] = {}
    for at, event in log:
        if isinstance(event, BatchEnded):
            ended_at[event.index] = at
        if isinstance(event, TargetStarted) and event.batch:
            assert event.batch - 1 in ended_at
            assert at - ended_at[event.batch - 1] >= 30.0 - 1e-9
    assert [e.next_batch for _, e in log if isinstance(e, Baking)] == [1, 2, 3]
    assert clock.sleeps.count(30.0) == 3


@pytest.mark.anyio
async def test_rate_spaces_new_updates() -> None:
    """rate=5 starts at most one new update per 0.2 s of the run's clock."""
    clock = VirtualClock()
    async with fast_emulator(services_per_data_ops=3, clock=clock) as emu, client_for(emu, clock=clock) as client:
        starts: list[float] = []
        await client.fleet.apply(
            pairs(emu.service_ids()),
            concurrency=6,
            rate=5,
            on_event=lambda e: starts.append(clock.now()) if isinstance(e, TargetStarted) else None,
        )
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 6
    assert all(gap >= 0.2 - 1e-9 for gap in gaps), gaps


@pytest.mark.anyio
async def test_dry_run_reads_and_diffs_but_sends_no_put(emu: Emulator) -> None:
    """A dry run GETs each target, reports what would change, marks it not started, and PUTs nothing."""
    ids = emu.service_ids()[:5]
    current = emu.service_body(ids[0])["service_workload"]["worker"]
    async with client_for(emu) as client:
        report = await client.fleet.apply(
            pairs([*ids, "DOPS_SERVICE-00000000-0000-0000-0000-000000000000"]), dry_run=True, max_failures=0
        )
    assert emu.counters.total("update_service") == 0
    assert sum(emu.counters.puts_per_service.values()) == 0
    assert emu.counters.total("get_service") == 6
    first = report.items[0]
    assert first.outcome is Outcome.NOT_STARTED
    assert first.final_state == "RUNNING"
    assert first.diff is not None
    changed = {c.field: (c.current, c.desired) for c in first.diff}
    assert changed["service_workload.worker.cpu"] == (current["cpu"], "2")
    missing = report.items[-1]
    assert missing.outcome is Outcome.FAILED
    assert missing.error is not None
    assert (missing.error.kind, missing.error.status) == ("not_found", 400)  # as live: 400 "not found"
    assert report.dry_run
    assert report.stopped is StopReason.COMPLETED  # a dry run has no failure budget


@pytest.mark.anyio
async def test_selectors_resolve_lazily_while_updates_run() -> None:
    """With selectors, the first PUT goes out before the service list has been read to its end."""
    async with fast_emulator(services_per_data_ops=30) as emu, client_for(emu) as client:
        plan = parse_plan({"update": {"description": "x"}, "targets": [{"select": {"data_ops_service_id": "*"}}]})
        report = await client.fleet.apply(plan, concurrency=2)
    operations = [entry.operation for entry in emu.counters.log]
    first_put = operations.index("update_service")
    last_list = len(operations) - 1 - operations[::-1].index("list_services")
    assert first_put < last_list
    assert operations.count("list_services") >= math.ceil(60 / 20)
    assert report.counts["succeeded"] == 60


@pytest.mark.anyio
async def test_selector_and_listed_id_update_a_service_once(emu: Emulator) -> None:
    """A service both listed by id and matched by a selector is updated once, with the listed entry's update."""
    ids = emu.service_ids()
    name = emu.service_body(ids[0])["data_ops_name"]
    plan = parse_plan(
        {
            "update": {"description": "by selector"},
            "targets": [
                {"select": {"data_ops_name": name}},
                {"data_ops_service_id": ids[0], "update": {"description": "by id"}},
                {"select": {"data_ops_name": "*"}, "update": {"description": "second selector"}},
                {"select": {"data_ops_name": "no-such-*"}},
            ],
        }
    )
    async with client_for(emu) as client:
        report = await client.fleet.apply(plan, concurrency=4)
    assert sorted(item.data_ops_service_id for item in report.items) == sorted(ids)
    assert set(emu.counters.puts_per_service.values()) == {1}
    assert emu.service_body(ids[0])["description"] == "by id"
    same_data_ops = [sid for sid in ids if emu.service_body(sid)["data_ops_name"] == name]
    others = [sid for sid in ids if sid not in same_data_ops]
    assert {emu.service_body(sid)["description"] for sid in same_data_ops[1:]} == {"by selector"}
    assert {emu.service_body(sid)["description"] for sid in others} == {"second selector"}
    assert report.warnings == ("targets[3] (select data_ops_name=no-such-*) matched no service",)


@pytest.mark.anyio
async def test_busy_service_is_retried_after_it_settles(emu: Emulator) -> None:
    """A 409 (a change started between the worker's read and its PUT) makes the worker wait for the service and PUT
    again once it is free; a change already running when the worker reads is waited out before the first PUT."""
    first, second = emu.service_ids()[:2]
    async with client_for(emu) as client, client_for(emu) as somebody:
        # The fleet sends its PUTs through the resource's light put (``Resource._put_light``).
        put = client.services._put_light

        async def racing_put(sid: str, update: ServiceUpdate, **kwargs: Any) -> Any:
            if emu.counters.accepted_puts_per_service[sid] == 0:
                await somebody.services.update(sid, ServiceUpdate(description="someone else"))
            return await put(sid, update, **kwargs)

        client.services._put_light = racing_put  # type: ignore[method-assign]
        report = await client.fleet.apply(pairs([first]))
        client.services._put_light = put  # type: ignore[method-assign]
        await somebody.services.update(second, ServiceUpdate(description="someone else"))
        waited = await client.fleet.apply(pairs([second]))
    item = report.items[0]
    assert item.outcome is Outcome.SUCCEEDED
    assert item.attempts == 2
    assert emu.counters.requests["update_service", 409] == 1
    assert emu.counters.accepted_puts_per_service[first] == 2
    assert (waited.items[0].outcome, waited.items[0].attempts) == (Outcome.SUCCEEDED, 1)
    assert emu.counters.accepted_puts_per_service[second] == 2
    sid = first
    assert emu.service_body(sid)["service_workload"]["worker"]["cpu"] == "2"


@pytest.mark.anyio
async def test_a_lost_answer_to_an_accepted_put_is_not_sent_again() -> None:
    """When the connection drops after the server applied a PUT, the engine sees it landed: no second acceptance."""
    clock = VirtualClock()
    drop = FaultRule(operation="update_service", kind="drop_after_apply", rate=1.0, limit=3)
    emulator = fast_emulator(faults=(drop,), clock=clock, update_duration=(5.0, 5.0))
    async with emulator as emu, client_for(emu, clock=clock) as client:
        ids = emu.service_ids()[:6]
        report = await client.fleet.apply(pairs(ids), concurrency=3)
    assert report.counts["succeeded"] == 6
    assert sum(emu.counters.faults.values()) == 3
    assert max(emu.counters.accepted_puts_per_service.values()) == 1


@pytest.mark.anyio
async def test_a_lost_answer_is_not_resent_even_when_the_update_finished_meanwhile() -> None:
    """Even when the applied update has finished before anyone looks, the engine does not PUT it a second time."""
    drop = FaultRule(operation="update_service", kind="drop_after_apply", rate=1.0, limit=3)
    async with fast_emulator(faults=(drop,)) as emu, client_for(emu) as client:
        ids = emu.service_ids()[:6]
        report = await client.fleet.apply(pairs(ids), concurrency=3)
    assert report.counts["succeeded"] == 6
    assert max(emu.counters.accepted_puts_per_service.values()) == 1


@pytest.mark.anyio
async def test_a_service_that_does_not_settle_in_time_is_timed_out() -> None:
    """A per-service timeout ends a slow update as timed_out with its last state, and the others go on."""
    clock = VirtualClock()
    async with fast_emulator(update_duration=(600, 600), clock=clock) as emu, client_for(emu, clock=clock) as client:
        ids = emu.service_ids()[:3]
        report = await client.fleet.apply(pairs(ids), timeout=5.0, max_failures=None)
    assert [item.outcome for item in report.items] == [Outcome.TIMED_OUT] * 3
    item = report.items[0]
    assert item.final_state == "UPDATING"
    assert item.error is not None
    assert item.error.kind == "wait_timeout"
    assert item.polls > 1


@pytest.mark.anyio
async def test_refused_update_fails_that_target_only(emu: Emulator) -> None:
    """A 400 for one target fails it with its status, the others succeed (one failure cancels nothing)."""
    ids = emu.service_ids()[:4]
    bad = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(cpu="-5")))
    targets = [(ids[0], bad), *pairs(ids[1:])]
    async with client_for(emu) as client:
        report = await client.fleet.apply(targets, concurrency=4, max_failures=None)
    first = report.items[0]
    assert first.outcome is Outcome.FAILED
    assert first.error is not None
    assert (first.error.kind, first.error.status) == ("bad_request", 400)
    assert [i.outcome for i in report.items[1:]] == [Outcome.SUCCEEDED] * 3


@pytest.mark.anyio
async def test_stop_lets_in_flight_settle_and_reports_the_rest_not_started(emu: Emulator) -> None:
    """Setting `stop` starts nothing new; what was in flight settles; the rest is not_started."""
    ids = emu.service_ids()
    stop = anyio.Event()

    def on_event(event: FleetEvent) -> None:
        if isinstance(event, TargetAccepted):
            stop.set()

    async with client_for(emu) as client:
        report = await client.fleet.apply(pairs(ids), concurrency=2, stop=stop, on_event=on_event)
    outcomes = Counter(item.outcome for item in report.items)
    assert len(report.items) == 20
    assert 1 <= outcomes[Outcome.SUCCEEDED] <= 2
    assert outcomes[Outcome.NOT_STARTED] == 20 - outcomes[Outcome.SUCCEEDED]
    assert report.stopped is StopReason.INTERRUPTED
    assert sum(emu.counters.accepted_puts_per_service.values()) == outcomes[Outcome.SUCCEEDED]


@pytest.mark.anyio
async def test_event_sequence_and_callbacks_that_fail_or_await(emu: Emulator) -> None:
    """Per service: started, accepted, state changes, ended; an async callback is awaited, a raising one ignored."""
    ids = emu.service_ids()[:3]
    seen: list[FleetEvent] = []

    async def record(event: FleetEvent) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(event)

    def explode(event: FleetEvent) -> None:
        raise RuntimeError("a broken progress display")

    async with client_for(emu) as client:
        report = await client.fleet.apply(pairs(ids), on_event=record)
        assert report.counts["succeeded"] == 3
        broken = await client.fleet.apply(pairs(ids, ServiceUpdate(description="again")), on_event=explode)
        assert broken.counts["succeeded"] == 3
    kinds = [e.kind for e in seen if getattr(e, "service_id", None) == ids[0]]
    assert kinds[0] == "target_started"
    assert kinds[1] == "target_accepted"
    assert kinds[-1] == "target_ended"
    changes = [e for e in seen if isinstance(e, TargetStateChanged) and e.service_id == ids[0]]
    assert changes[-1].new == "RUNNING"
    assert seen[0].kind == "fleet_started"
    assert seen[-1].kind == "fleet_ended"


@pytest.mark.anyio
async def test_bad_options_and_duplicate_pairs_raise_before_any_request(emu: Emulator) -> None:
    """Invalid options and repeated ids in a list are errors before a single request is made."""
    ids = emu.service_ids()[:2]
    async with client_for(emu) as client:
        for bad in (
            {"concurrency": 0},
            {"rate": -1},
            {"batches": "0"},
            {"max_failures": "x"},
            {"bake": -1},
            {"timeout": 0},
        ):
            with pytest.raises(ConfigurationError):
                await client.fleet.apply(pairs(ids), **bad)  # type: ignore[arg-type]
        with pytest.raises(PlanError, match=r"targets\[2\]: duplicate target"):
            await client.fleet.apply(pairs([ids[0], ids[1], ids[0]]))
        with pytest.raises(TypeError, match=r"targets\[0\]: expected a \(service_id"):
            await client.fleet.apply([("x", {"description": "y"})])  # type: ignore[list-item]
    assert sum(emu.counters.requests.values()) == 0


@pytest.mark.anyio
async def test_async_iterable_targets_are_consumed_lazily(emu: Emulator) -> None:
    """An async iterable source is read as workers take targets; a repeated id is skipped with a warning."""
    ids = emu.service_ids()[:6]
    produced: list[str] = []

    async def generate():  # type: ignore[no-untyped-def]
        for sid in [*ids, ids[0]]:
            produced.append(sid)
            yield sid, UPDATE

    async with client_for(emu) as client:
        report = await client.fleet.apply(generate(), concurrency=1, batches=[2])
    assert [item.data_ops_service_id for item in report.items] == ids
    assert report.warnings == (f"{ids[0]} appeared more than once; updated once",)
    assert produced == [*ids, ids[0]]


@pytest.mark.anyio
async def test_429s_do_not_use_up_put_retries() -> None:
    """A PUT throttled more often than put_retries is still sent again, each time after the wait the server asked."""
    clock = VirtualClock()
    throttle = FaultRule(operation="update_service", kind="429", retry_after=2, limit=5)
    async with fast_emulator(faults=(throttle,), clock=clock) as emu, client_for(emu) as client:
        sid = emu.service_ids()[0]
        report = await client.fleet.apply(pairs([sid]), put_retries=0)
    [item] = report.items
    assert item.outcome is Outcome.SUCCEEDED
    assert item.attempts == 6
    assert emu.counters.faults["update_service", "429"] == 5
    assert emu.counters.accepted_puts_per_service[sid] == 1
    assert clock.sleeps.count(2.0) == 5


@pytest.mark.anyio
async def test_a_put_throttled_past_the_deadline_fails_throttled() -> None:
    """A PUT throttled for ever is given up, as throttled, once the next wait would pass the service's timeout."""
    clock = VirtualClock()
    throttle = FaultRule(operation="update_service", kind="429", retry_after=10)
    async with fast_emulator(faults=(throttle,), clock=clock) as emu, client_for(emu) as client:
        sid = emu.service_ids()[0]
        report = await client.fleet.apply(pairs([sid]), timeout=55.0)
    [item] = report.items
    assert item.outcome is Outcome.FAILED
    assert item.error is not None
    assert (item.error.kind, item.error.status) == ("throttled", 429)
    # Sent at 0, 10, ... 50 s (more often than put_retries allows); the next would come at 60 s, past 55 s.
    assert item.attempts == 6
    assert clock.sleeps == [10.0] * 5
    assert emu.counters.accepted_puts_per_service[sid] == 0


@pytest.mark.anyio
@pytest.mark.parametrize(("put_retries", "outcome"), [(1, Outcome.FAILED), (2, Outcome.SUCCEEDED)])
async def test_answers_that_leave_doubt_count_against_put_retries(put_retries: int, outcome: Outcome) -> None:
    """Two 503s in a row fail a target allowed one resend and not one allowed two; the service is read in between."""
    failing = FaultRule(operation="update_service", kind="503", limit=2)
    async with fast_emulator(faults=(failing,), clock=VirtualClock()) as emu, client_for(emu) as client:
        sid = emu.service_ids()[0]
        report = await client.fleet.apply(pairs([sid]), put_retries=put_retries)
    [item] = report.items
    assert item.outcome is outcome
    assert item.attempts == 2 + (outcome is Outcome.SUCCEEDED)
    assert emu.counters.total("get_service") >= 1
    if outcome is Outcome.FAILED:
        assert item.error is not None
        assert (item.error.kind, item.error.status) == ("server_error", 503)


@pytest.mark.anyio
async def test_a_stop_during_a_throttled_wait_sends_no_more_puts() -> None:
    """Stopping the run while a PUT waits out a 429 ends that wait at once: no PUT follows, the target not started."""
    clock = VirtualClock()
    throttle = FaultRule(operation="update_service", kind="429", retry_after=50)
    stop = anyio.Event()

    async def stop_soon() -> None:
        await clock.sleep(5.0)
        stop.set()

    # The 429's wait is honoured in full (50 s, under the policy's cap), so only the stop can end it early.
    poll = attrs.evolve(FAST_POLL, max_retry_after=60.0, deadline=600.0)
    async with fast_emulator(faults=(throttle,), clock=clock) as emu, client_for(emu, poll=poll) as client:
        sid = emu.service_ids()[0]
        async with anyio.create_task_group() as group:
            group.start_soon(stop_soon)
            report = await client.fleet.apply(pairs([sid]), stop=stop)
    [item] = report.items
    assert item.outcome is Outcome.NOT_STARTED
    assert item.attempts == 1
    assert emu.counters.puts_per_service[sid] == 1
    assert emu.counters.accepted_puts_per_service[sid] == 0
    assert clock.now() < 50.0


@pytest.mark.anyio
@pytest.mark.parametrize("at", [FleetStarted, TargetStarted])
async def test_cancelling_apply_leaves_no_stream_open(at: type) -> None:
    """Cancelling client.fleet.apply early closes every stream it made: no ResourceWarning, even under -X dev."""
    clock = VirtualClock()
    async with fast_emulator(clock=clock) as emu, client_for(emu) as client:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with anyio.CancelScope() as scope:
                await client.fleet.apply(
                    pairs(emu.service_ids()),
                    concurrency=4,
                    on_event=lambda e: scope.cancel() if isinstance(e, at) else None,
                )
            assert scope.cancelled_caught
            gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
