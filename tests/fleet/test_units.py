"""The fleet's small parts: amounts, batch sizes, the failure budget, the token bucket, diffs and reports."""

from __future__ import annotations

import itertools

import anyio
import orjson
import pytest

from aiodataops._clock import VirtualClock
from aiodataops._errors import WaitTimeoutError
from aiodataops._models import Account, HostAlias, HostAliasEntry, Service, ServiceUpdate, ServiceWorkload, Workload
from aiodataops._polling import PollPolicy
from aiodataops._waiting import WaitEndedError
from aiodataops.fleet._amount import Amount, parse_amount
from aiodataops.fleet._batches import parse_batches
from aiodataops.fleet._budget import FailureBudget, parse_max_failures
from aiodataops.fleet._diff import diff
from aiodataops.fleet._engine import _Run
from aiodataops.fleet._options import Options
from aiodataops.fleet._outcomes import error_info, outcome_of
from aiodataops.fleet._rate import TokenBucket
from aiodataops.fleet._report import Change, ErrorInfo, ErrorKind, FleetReport, ItemReport, Outcome, StopReason
from aiodataops.fleet._source import Source


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, Amount(0)),
        (3, Amount(3)),
        ("12", Amount(12)),
        ("25%", Amount(25, percent=True)),
        (" 2.5 % ", Amount(2.5, percent=True)),
        ("100%", Amount(100, percent=True)),
    ],
)
def test_amounts_read_counts_and_percentages(value: object, expected: Amount) -> None:
    """A count or a percentage is read from an int or its written forms."""
    assert parse_amount(value, what="x") == expected


@pytest.mark.parametrize("value", [-1, "-1", "101%", "1.5", "ten", True, 2.0, None, "%"])
def test_bad_amounts_name_the_option(value: object) -> None:
    """Anything else is a ValueError naming the option."""
    with pytest.raises(ValueError, match=r"^batches: expected a whole number"):
        parse_amount(value, what="batches")


def test_percentages_round_down_with_a_floor() -> None:
    """A percentage of the fleet rounds down (exactly, despite floats) and never goes below its minimum."""
    assert Amount(10, percent=True).of(30) == 3
    assert Amount(10, percent=True).of(29) == 2
    assert Amount(10, percent=True).of(5) == 0
    assert Amount(10, percent=True).of(5, minimum=1) == 1
    with pytest.raises(ValueError, match="needs the fleet size"):
        Amount(10, percent=True).of(None)


def test_batch_sizes_repeat_the_last_and_take_percentages_of_the_fleet() -> None:
    """[1, 10, "25%"] gives 1, 10, then a quarter of the fleet at a time; a tiny percentage is still 1."""
    batches = parse_batches("1,10,25%")
    assert batches is not None
    assert [batches.size(i, 100) for i in range(5)] == [1, 10, 25, 25, 25]
    assert batches.needs_total
    assert str(batches) == "1,10,25%"
    tiny = parse_batches(["1%"])
    assert tiny is not None
    assert tiny.size(0, 10) == 1
    plain = parse_batches([2, 5])
    assert plain is not None
    assert not plain.needs_total
    assert [plain.size(i, None) for i in range(3)] == [2, 5, 5]
    assert parse_batches(None) is None


@pytest.mark.parametrize("value", ["", "0", "1,0", [], "1,x"])
def test_bad_batches_are_refused(value: object) -> None:
    """Empty batches, a zero size or a non-number are errors."""
    with pytest.raises(ValueError, match="batches"):
        parse_batches(value)  # type: ignore[arg-type]


def test_budget_is_exceeded_by_one_failure_more_than_the_limit() -> None:
    """max_failures=N tolerates N failures; the one after is reported once as the one that exceeded it."""
    budget = FailureBudget(limit=2)
    assert [budget.record_failure() for _ in range(4)] == [False, False, True, False]
    assert budget.exceeded
    zero = FailureBudget(limit=0)
    assert zero.record_failure()
    unlimited = FailureBudget(limit=None)
    assert not any(unlimited.record_failure() for _ in range(100))
    assert parse_max_failures("10%") == Amount(10, percent=True)
    assert parse_max_failures(None) is None


@pytest.mark.anyio
async def test_token_bucket_spaces_starts_at_the_rate() -> None:
    """At 10 per second with a burst of 1, 21 acquisitions take 2 virtual seconds, spaced 0.1 s apart."""
    clock = VirtualClock()
    bucket = TokenBucket(10, clock)
    stamps: list[float] = []

    async def take() -> None:
        await bucket.acquire()
        stamps.append(clock.now())

    async with anyio.create_task_group() as group:
        for _ in range(21):
            group.start_soon(take)
    assert stamps[0] == 0
    assert clock.now() == pytest.approx(2.0)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(g == pytest.approx(0.1) for g in gaps)


@pytest.mark.anyio
async def test_token_bucket_refills_while_idle_up_to_its_burst() -> None:
    """After idling, a bucket holds at most `burst` tokens: that many start at once, then the rate holds again."""
    clock = VirtualClock()
    bucket = TokenBucket(2, clock, burst=3)
    for _ in range(3):
        await bucket.acquire()
    clock.advance(100)
    before = clock.now()
    for _ in range(3):
        await bucket.acquire()
    assert clock.now() == before
    await bucket.acquire()
    assert clock.now() == pytest.approx(before + 0.5)
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0, clock)


def test_diff_names_each_changed_field_in_wire_form() -> None:
    """A diff lists only the fields the update sets and that differ, as dotted paths with wire values."""
    current = Service(
        "s",
        state="RUNNING",
        description="same",
        account=Account("admin", "hunter2"),
        host_alias=HostAlias(enabled=True, host_alias_list=(HostAliasEntry("a", "10.0.0.1"),)),
        service_workload=ServiceWorkload(worker=Workload(cpu="1", memory="2", replica="1")),
    )
    update = ServiceUpdate(
        description="same",
        host_alias=HostAlias(enabled=False, host_alias_list=(HostAliasEntry("a", "10.0.0.1"),)),
        service_workload=ServiceWorkload(worker=Workload(cpu="2", memory="2"), scheduler=Workload(cpu="1")),
    )
    assert diff(current, update) == (
        Change("host_alias.enabled", "true", "false"),
        Change("service_workload.scheduler.cpu", None, "1"),
        Change("service_workload.worker.cpu", "1", "2"),
    )
    assert diff(current, ServiceUpdate(description="same")) == ()
    assert "hunter2" not in repr(diff(current, update))


def test_reports_round_trip_through_json_and_count_every_outcome() -> None:
    """A report serialises to JSON and back unchanged, with a count for every outcome (zeros included)."""
    items = (
        ItemReport(
            "a",
            Outcome.SUCCEEDED,
            final_state="RUNNING",
            attempts=1,
            polls=3,
            batch=0,
            place="targets[0]",
            accept_seconds=0.01,
            settle_seconds=0.2,
            total_seconds=0.21,
        ),
        ItemReport("b", "failed", final_state="ERROR", error=ErrorInfo("wait_failed", "ended in ERROR")),
        ItemReport("c", Outcome.SKIPPED, error=ErrorInfo("budget_exceeded", "x" * 900)),
        ItemReport("d", Outcome.NOT_STARTED, diff=(Change("description", None, "x"),)),
    )
    report = FleetReport(
        items,
        stopped=StopReason.BUDGET_EXCEEDED,
        elapsed_seconds=1.5,
        concurrency=4,
        error="reading the targets failed: 401",
        error_kind="authentication",
    )
    data = orjson.loads(report.to_json())
    assert data["summary"]["counts"] == {
        "succeeded": 1,
        "unchanged": 0,
        "failed": 1,
        "timed_out": 0,
        "skipped": 1,
        "not_started": 1,
    }
    assert data["summary"]["ok"] is False
    assert FleetReport.from_dict(data) == report
    assert len(items[2].error.message) == 500  # type: ignore[union-attr]
    assert FleetReport((items[0],)).ok
    assert not FleetReport((items[0],), stopped=StopReason.INTERRUPTED).ok


def test_error_kinds_are_an_enum_that_reads_and_writes_as_before() -> None:
    """ErrorInfo.kind is an ErrorKind that equals its string, writes the same JSON, and keeps unknown kinds."""
    info = ErrorInfo("wait_failed", "ended in ERROR", status=None)
    assert info.kind is ErrorKind.WAIT_FAILED
    assert info.kind == "wait_failed"
    assert f"{info.kind}" == "wait_failed"
    assert orjson.dumps(info.to_dict()) == b'{"kind":"wait_failed","status":null,"message":"ended in ERROR"}'
    assert ErrorInfo.from_dict(info.to_dict()) == info
    newer = ErrorInfo.from_dict({"kind": "from_a_newer_version", "message": "m"})
    assert newer.kind == "from_a_newer_version"
    assert not isinstance(newer.kind, ErrorKind)


def test_error_info_maps_ended_states_and_their_outcome() -> None:
    """A WaitEndedError is reported failed with the wait_ended kind; a timeout stays timed_out."""
    ended = WaitEndedError("update ended in STOPPED", resource_id="s", last_state="STOPPED", elapsed=1.0, polls=1)
    assert (error_info(ended).kind, outcome_of(ended)) == (ErrorKind.WAIT_ENDED, Outcome.FAILED)
    late = WaitTimeoutError("not settled", resource_id="s", last_state="UPDATING", elapsed=1.0, polls=1)
    assert (error_info(late).kind, outcome_of(late)) == (ErrorKind.WAIT_TIMEOUT, Outcome.TIMED_OUT)
    assert error_info(RuntimeError("bug")).kind is ErrorKind.INTERNAL


class _Services:
    def list(self, **_: object) -> object:
        raise NotImplementedError


class _Client:
    services = _Services()
    data_ops = None
    clock = VirtualClock()
    poll_policy = PollPolicy()


@pytest.mark.parametrize(("targets", "concurrency", "workers"), [(3, 64, 3), (100, 16, 16), (0, 8, 1)])
def test_never_more_workers_than_known_targets(targets: int, concurrency: int, workers: int) -> None:
    """With the number of targets known, the run starts at most that many workers (and at least one)."""
    pairs = [(f"DOPS_SERVICE-{i}", ServiceUpdate(description="x")) for i in range(targets)]
    source = Source(pairs, _Services().list)  # type: ignore[arg-type]
    run = _Run(_Client(), source, Options(concurrency=concurrency), None, None)  # type: ignore[arg-type]
    assert run._worker_count() == workers
