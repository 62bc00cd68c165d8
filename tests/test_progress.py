"""The fleet progress display: plain lines off a terminal, a rich live panel on one, numbers from events alone."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console

from aiodataops._client import DataOpsClient
from aiodataops._models import ServiceUpdate, ServiceWorkload, Workload
from aiodataops._polling import PollPolicy
from aiodataops.cli._progress import FleetProgress, Tally, format_duration
from aiodataops.emulator import PASSWORD_MARK, Emulator
from aiodataops.fleet import (
    Baking,
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    ErrorInfo,
    FleetEnded,
    FleetEvent,
    FleetReport,
    FleetStarted,
    ItemReport,
    Outcome,
    TargetAccepted,
    TargetEnded,
    TargetStarted,
    TargetStateChanged,
)

FAST_POLL = PollPolicy(first_delay=0.01, growth=1.5, max_delay=0.04, min_delay=0.005, jitter=False, deadline=10.0)
# 5 replicas: no seeded worker has as many, so every service changes (none is ``unchanged``).
UPDATE = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(replica="5")))
ENDED_LINE = re.compile(r"^\s*[\d.]+s  (succeeded|failed|timed_out|skipped|not_started)\s+(DOPS_SERVICE-\S+)")


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def item(sid: str, outcome: Outcome = Outcome.SUCCEEDED, **fields: object) -> ItemReport:
    return ItemReport(data_ops_service_id=sid, outcome=outcome, **fields)  # type: ignore[arg-type]


def plain(text: str) -> str:
    """Rendered text without ANSI escapes."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


async def run_fleet(progress: FleetProgress, **emulator: Any) -> tuple[FleetReport, Emulator]:
    settings: dict[str, Any] = {"data_ops": 2, "services_per_data_ops": 6, "update_duration": (0.02, 0.05)}
    settings.update(emulator)
    async with Emulator(**settings) as emu, DataOpsClient(emu.base_url, emu.credentials, poll=FAST_POLL) as client:
        pairs = [(sid, UPDATE) for sid in emu.service_ids()]
        with progress:
            report = await client.fleet.apply(
                pairs, concurrency=4, batches=[1, 5], max_failures=None, on_event=progress.on_event
            )
    return report, emu


@pytest.mark.anyio
async def test_plain_lines_for_a_small_run() -> None:
    """Off a terminal: one line per ended service (each service once), a line per batch start and end, a done line."""
    stream = io.StringIO()
    progress = FleetProgress(stream)
    assert not progress.live_mode
    report, emu = await run_fleet(progress, error_rate=0.3, seed=3)
    lines = stream.getvalue().splitlines()
    ended = [m.groups() for m in map(ENDED_LINE.match, lines) if m]
    assert sorted(sid for _, sid in ended) == sorted(emu.service_ids())
    assert {sid: outcome for outcome, sid in ended} == {i.data_ops_service_id: str(i.outcome) for i in report.items}
    assert report.counts["failed"] > 0
    assert any("failed" in line and "wait_failed" in line and "(ERROR)" in line for line in lines)
    assert sum("batch 1: up to 1 service" in line for line in lines) == 1
    assert sum(" done: " in line and "batch" in line for line in lines) == 4  # 12 services: batches of 1, 5, 5, 1
    assert lines[0].endswith("12 targets, concurrency 4")
    assert "done in" in lines[-1]
    assert "12/12 ended" in lines[-1]
    assert "\x1b[" not in stream.getvalue()


def test_plain_summary_line_at_most_every_few_seconds() -> None:
    """The periodic summary appears when ``summary_every`` seconds passed since the last one, never more often."""
    clock = ManualClock()
    stream = io.StringIO()
    progress = FleetProgress(stream, total=10, summary_every=5.0, clock=clock)
    progress.on_event(FleetStarted(total=10, concurrency=2, dry_run=False))
    for n in range(6):
        clock.now += 1.0
        sid = f"DOPS_SERVICE-{n}"
        progress.on_event(TargetStarted(service_id=sid, batch=None))
        progress.on_event(TargetEnded(item(sid, total_seconds=1.0)))
    summaries = [line for line in stream.getvalue().splitlines() if "progress:" in line]
    assert len(summaries) == 1
    assert "5/10 ended (5 succeeded)" in summaries[0]
    assert "services/s" in summaries[0]
    assert "ETA" in summaries[0]


def test_plain_lines_for_batch_bake_and_budget_events() -> None:
    """Batch, bake and budget events each get their line, saying what happens next."""
    stream = io.StringIO()
    progress = FleetProgress(stream, live=False)
    progress.on_event(BatchStarted(index=0, size=1))
    progress.on_event(BatchEnded(index=0, counts={"succeeded": 1, "failed": 0}))
    progress.on_event(Baking(seconds=2.5, next_batch=1))
    progress.on_event(BudgetExceeded(failures=4, limit=3))
    text = stream.getvalue()
    assert "batch 1: up to 1 service\n" in text
    assert "batch 1 done: 1 succeeded\n" in text
    assert "baking 2.5s before batch 2" in text
    assert "failure budget exceeded (4 failed, 3 allowed): no new service starts" in text


def test_tally_rate_and_eta_follow_the_recent_ends() -> None:
    """The rate counts services a worker ran that ended in the window; the ETA divides what is left by it."""
    clock = ManualClock()
    tally = Tally(total=100, clock=clock, window=10.0)
    assert tally.rate() is None
    assert tally.eta() is None
    for n in range(20):
        tally.apply(TargetStarted(service_id=f"s{n}", batch=None))
    clock.now += 4.0
    for n in range(20):
        tally.apply(TargetEnded(item(f"s{n}")))
    # A skipped target ends at once without a worker: it counts as done, not towards the rate.
    tally.apply(TargetEnded(item("skipped-1", Outcome.SKIPPED)))
    assert tally.done == 21
    assert tally.rate() == pytest.approx(20 / 4.0)
    assert tally.eta() == pytest.approx((100 - 21) / 5.0)
    clock.now += 30.0  # the ends leave the window: no recent rate, no ETA
    assert tally.rate() is None
    assert tally.eta() is None


def test_tally_merges_a_last_state_change_with_the_end() -> None:
    """A service's last state change and its end read as one recent line; a failure keeps its reason."""
    tally = Tally(total=2)
    tally.apply(TargetStarted(service_id="a", batch=0))
    tally.apply(TargetAccepted(service_id="a", state="UPDATING", attempts=1, elapsed=0.1))
    tally.apply(TargetStateChanged(service_id="a", old="UPDATING", new="RUNNING", elapsed=1.0, polls=2))
    tally.apply(TargetStarted(service_id="b", batch=0))
    tally.apply(TargetEnded(item("a", final_state="RUNNING")))
    tally.apply(TargetStateChanged(service_id="b", old="UPDATING", new="ERROR", elapsed=1.0, polls=2))
    tally.apply(TargetEnded(item("b", Outcome.FAILED, final_state="ERROR", error=ErrorInfo("wait_failed", "x"))))
    texts = [(c.service_id, c.text) for c in tally.recent]
    assert ("a", "UPDATING -> RUNNING: succeeded") in texts
    assert ("b", "UPDATING -> ERROR: failed: wait_failed (ERROR)") in texts
    assert not tally.in_flight
    assert tally.counts[Outcome.SUCCEEDED] == tally.counts[Outcome.FAILED] == 1


def test_rich_panel_shows_counts_in_flight_recent_rate_and_eta() -> None:
    """Mid-run the panel shows the bar and counts, the services in flight, recent changes, a rate and an ETA."""
    clock = ManualClock()
    progress = FleetProgress(console=Console(file=io.StringIO(), force_terminal=True, width=120), clock=clock)
    assert progress.live_mode
    progress.on_event(FleetStarted(total=10, concurrency=4, dry_run=False))
    progress.on_event(BatchStarted(index=1, size=5))
    for n in range(4):
        progress.on_event(TargetStarted(service_id=f"DOPS_SERVICE-{n}", batch=1))
    progress.on_event(TargetAccepted(service_id="DOPS_SERVICE-3", state="UPDATING", attempts=1, elapsed=0.1))
    clock.now += 2.0
    progress.on_event(TargetStateChanged("DOPS_SERVICE-0", old="UPDATING", new="RUNNING", elapsed=2, polls=3))
    progress.on_event(TargetEnded(item("DOPS_SERVICE-0", final_state="RUNNING")))
    progress.on_event(BudgetExceeded(failures=2, limit=1))
    out = Console(file=io.StringIO(), width=120, color_system=None)
    out.print(progress.render())
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "aiodataops fleet" in text
    assert "1/10 (10%)" in text
    assert "0.5 services/s" in text
    assert "ETA 18s" in text
    assert "succeeded 1" in text
    assert "in flight 3/4" in text
    assert "batch 2 (up to 5)" in text
    assert "failure budget exceeded" in text
    assert re.search(r"DOPS_SERVICE-3\s+UPDATING\s+2\.0s", text)
    assert re.search(r"DOPS_SERVICE-1\s+starting\s+2\.0s", text)
    assert "UPDATING -> RUNNING: succeeded" in text


@pytest.mark.anyio
async def test_rich_live_display_renders_a_real_run_to_the_end() -> None:
    """On a (forced) terminal a real run draws the live panel, whose last frame shows every service ended."""
    console = Console(file=io.StringIO(), force_terminal=True, width=110)
    progress = FleetProgress(console=console, refresh_per_second=20)
    report, _ = await run_fleet(progress)
    text = plain(console.file.getvalue())  # type: ignore[attr-defined]
    assert report.counts["succeeded"] == 12
    last = text[text.rindex("aiodataops fleet") :]
    assert "12/12 (100%)" in last
    assert "succeeded 12" in last
    assert "took" in last
    # Not the plain lines: a live panel.
    assert not any(ENDED_LINE.match(line) for line in text.splitlines())


@pytest.mark.anyio
@pytest.mark.parametrize("live", [False, True])
async def test_no_secret_in_the_progress(live: bool) -> None:
    """Neither view prints the secret key, a signature header or an account password, failures included."""
    console = Console(file=io.StringIO(), force_terminal=live, width=200)
    progress = FleetProgress(console=console, live=live)
    if live:
        # Draw every intermediate state too, not only the frames the refresh thread happened to catch.
        on_event = progress.on_event

        def on_event_and_draw(event: FleetEvent) -> None:
            on_event(event)
            console.print(progress.render())

        progress.on_event = on_event_and_draw  # type: ignore[method-assign]
    _, emu = await run_fleet(progress, error_rate=0.5, seed=1)
    text = plain(console.file.getvalue())  # type: ignore[attr-defined]
    assert "DOPS_SERVICE-" in text
    assert "failed" in text
    for secret in (emu.credentials.secret_key, PASSWORD_MARK, "Scp-Signature", "X-Auth-Token"):
        assert secret.lower() not in text.lower()


def test_format_duration() -> None:
    """Durations read as seconds, minutes and seconds, or hours and minutes."""
    assert format_duration(7.4) == "7s"
    assert format_duration(185) == "3m05s"
    assert format_duration(7260) == "2h01m"
    assert format_duration(-3) == "0s"


def test_fleet_ended_freezes_the_elapsed_time() -> None:
    """Once the run ended, the elapsed time stops and no ETA is shown."""
    clock = ManualClock()
    tally = Tally(total=1, clock=clock)
    tally.apply(TargetStarted(service_id="a", batch=None))
    clock.now += 3.0
    tally.apply(TargetEnded(item("a")))
    tally.apply(FleetEnded(FleetReport(items=(item("a"),), elapsed_seconds=3.0)))
    clock.now += 60.0
    assert tally.elapsed == pytest.approx(3.0)
    assert tally.eta() is None


def test_plain_lines_put_every_service_id_in_one_column() -> None:
    """Accepted, state-change and ended lines pad their first word to the longest outcome, so ids line up."""
    clock = ManualClock()
    stream = io.StringIO()
    progress = FleetProgress(stream, live=False, clock=clock)
    sid = "DOPS_SERVICE-a"
    progress.on_event(TargetStarted(service_id=sid, batch=None))
    progress.on_event(TargetAccepted(service_id=sid, state="UPDATING", attempts=1, elapsed=0.1))
    clock.now += 1.5
    progress.on_event(TargetStateChanged(service_id=sid, old="UPDATING", new="RUNNING", elapsed=1.5, polls=2))
    progress.on_event(TargetEnded(item(sid, final_state="RUNNING", total_seconds=1.5)))
    progress.on_event(TargetEnded(item("DOPS_SERVICE-b", Outcome.NOT_STARTED)))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "    0.0s  accepted    DOPS_SERVICE-a (UPDATING)",
        "    1.5s  state       DOPS_SERVICE-a UPDATING -> RUNNING (1.5s)",
        "    1.5s  succeeded   DOPS_SERVICE-a (RUNNING) in 1.5s",
        "    1.5s  not_started DOPS_SERVICE-b",
    ]
