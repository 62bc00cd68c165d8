"""The demo's run: a seeded, misbehaving emulator in this process, a plan for every service of its fleet, and a
fleet update through the real client; ``DemoResult`` holds what happened and judges whether it was as designed.

As designed means: the run completed, every service of the fleet is in the report exactly once, no service was
sent its update twice, and every service that did not succeed is one whose update the emulator made fail on purpose
(its true state is ERROR).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import yaml

from aiodataops import DataOpsClient, PollPolicy, RetryPolicy
from aiodataops.cli._common import ExitCode, plural
from aiodataops.cli._output_files import write_report
from aiodataops.emulator import Emulator, FaultRule
from aiodataops.fleet import FleetReport, Outcome, StopReason, load_plan
from aiodataops.fleet._report import SUCCESS_OUTCOMES

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops.fleet import EventCallback

__all__ = ["BATCHES", "UPDATE", "DemoResult", "DemoSettings", "run_demo"]

#: The update every service gets: one more worker replica (the seeded services run three).
# 5 replicas: no seeded worker has as many (1-4), so every service changes (none converges to ``unchanged``).
UPDATE: Final = {"service_workload": {"worker": {"replica": "5"}}}
BATCHES: Final = (1, 10, "25%")


@attrs.frozen(kw_only=True)
class DemoSettings:
    """The demo's fleet, misbehaviour and pace; ``time_scale`` multiplies every emulated duration and poll delay."""

    services: int = 300
    seed: int = 7
    concurrency: int = 50
    time_scale: float = 1.0
    #: Share of accepted updates the emulator ends in ERROR.
    error_rate: float = 0.04
    #: Share of PUTs answered 429 (with ``Retry-After``) and of reads answered 503.
    throttle_rate: float = 0.04
    unavailable_rate: float = 0.02
    #: Failures tolerated before no new service starts (``None``: a tenth of the fleet, at least three).
    failure_budget: int | None = None

    @property
    def data_ops(self) -> int:
        """Data ops in the seeded fleet: about ten services each."""
        return max(1, math.ceil(self.services / 10))

    @property
    def max_failures(self) -> int:
        """The failure budget: by default a tenth of the fleet and at least three, so the injected failures fit."""
        return self.failure_budget if self.failure_budget is not None else max(3, self.services // 10)

    @property
    def bake(self) -> float:
        """Seconds between canary batches."""
        return 0.5 * self.time_scale

    def emulator(self) -> Emulator:
        """The seeded, misbehaving emulator (not started)."""
        scale = self.time_scale
        return Emulator(
            data_ops=self.data_ops,
            services=self.services,
            seed=self.seed,
            update_duration=(0.5 * scale, 2.0 * scale),
            stale_read_seconds=0.3 * scale,
            error_rate=self.error_rate,
            faults=(
                FaultRule("update_service", "429", rate=self.throttle_rate, retry_after=round(1.0 * scale, 3)),
                FaultRule("get_service", "503", rate=self.unavailable_rate),
                FaultRule("list_services", "429", rate=0.1, retry_after=round(0.5 * scale, 3)),
            ),
        )

    def poll(self) -> PollPolicy:
        """Polls paced for the emulated durations (a real update takes minutes: the defaults suit that)."""
        scale = self.time_scale
        return PollPolicy(
            first_delay=0.3 * scale, growth=1.5, max_delay=1.2 * scale, min_delay=0.1 * scale, deadline=60.0
        )

    def retry(self) -> RetryPolicy:
        """The transport's retries, with their backoff paced like the rest."""
        defaults = RetryPolicy()
        return RetryPolicy(
            first_delay=defaults.first_delay * self.time_scale, max_delay=defaults.max_delay * self.time_scale
        )

    def plan(self) -> dict[str, Any]:
        """The plan: every service of the fleet gets ``UPDATE``."""
        return {"update": UPDATE, "targets": [{"select": {"data_ops_service_id": "*"}}]}


@attrs.frozen(kw_only=True)
class DemoResult:
    """What one demo run did: the fleet's report, what the emulator saw, and where the files are."""

    settings: DemoSettings
    report: FleetReport
    endpoint: str
    requests: dict[int, int]
    faults: dict[tuple[str, str], int]
    accepted_puts: dict[str, int]
    injected: frozenset[str]
    """Services whose failure the emulator caused on purpose (their true state is ERROR)."""
    directory: Path
    interrupted: bool = False

    @property
    def plan_path(self) -> Path:
        """The plan the demo applied."""
        return self.directory / "plan.yaml"

    @property
    def journal_path(self) -> Path:
        """The run's journal."""
        return self.directory / "journal.jsonl"

    @property
    def report_path(self) -> Path:
        """The run's JSON report."""
        return self.directory / "report.json"

    def problems(self) -> list[str]:
        """Why the run did not behave as designed (empty when it did)."""
        report = self.report
        found: list[str] = []
        if report.stopped is not StopReason.COMPLETED:
            found.append(f"the run stopped early ({report.stopped})")
        if report.error:
            found.append(f"the run reported an error: {report.error}")
        ids = [item.data_ops_service_id for item in report.items]
        if len(ids) != self.settings.services or len(set(ids)) != len(ids):
            found.append(
                f"the report holds {plural(len(ids), 'line')} for {plural(len(set(ids)), 'service')}, not the fleet's "
                f"{self.settings.services}"
            )
        twice = sorted(sid for sid, n in self.accepted_puts.items() if n > 1)
        if twice:
            found.append(f"{plural(len(twice), 'service')} got the update twice")
        unexpected = [
            i for i in report.items if i.outcome not in SUCCESS_OUTCOMES and i.data_ops_service_id not in self.injected
        ]
        if unexpected:
            found.append(f"{plural(len(unexpected), 'service')} did not succeed for a reason the demo did not inject")
        return found

    def exit_status(self, *, strict: bool = False) -> int:
        """130 interrupted; with ``strict`` the fleet rule (0 only when all succeeded); else 0 when as designed."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if strict:
            return ExitCode.OK if self.report.ok else ExitCode.FAILED
        return ExitCode.FAILED if self.problems() else ExitCode.OK

    def to_dict(self, *, strict: bool = False) -> dict[str, Any]:
        """JSON data: the demo's settings, verdict, emulator counts, files, and the fleet report."""
        return {
            "demo": {**attrs.asdict(self.settings), "endpoint": self.endpoint},
            "as_designed": not self.problems(),
            "problems": self.problems(),
            "exit_status": self.exit_status(strict=strict),
            "injected_failures": sorted(self.injected),
            "emulator": {
                "requests_by_status": {str(status): n for status, n in sorted(self.requests.items())},
                "faults_injected": [
                    {"operation": op, "kind": kind, "count": n} for (op, kind), n in sorted(self.faults.items())
                ],
                "accepted_updates": sum(self.accepted_puts.values()),
            },
            "files": {
                "plan": str(self.plan_path),
                "journal": str(self.journal_path),
                "report": str(self.report_path),
            },
            "report": self.report.to_dict(),
        }


async def run_demo(
    settings: DemoSettings,
    directory: Path,
    *,
    on_event: EventCallback | None = None,
    on_ready: Callable[[Emulator], None] | None = None,
    stop: anyio.Event | None = None,
    abort: anyio.Event | None = None,
) -> DemoResult:
    """Run the demo: write the plan to ``directory``, serve the emulator, apply the plan, write the report.

    ``on_ready`` is called once the emulator listens (before the fleet run); ``on_event`` gets the fleet's events.
    """
    plan_path = directory / "plan.yaml"
    plan_path.write_text(
        "# Written by `aiodataops demo`: every service gets one more worker replica.\n"
        + yaml.safe_dump(settings.plan(), sort_keys=False),
        encoding="utf-8",
    )
    plan = load_plan(plan_path)
    async with (
        settings.emulator() as emu,
        DataOpsClient(
            emu.base_url,
            emu.credentials,
            poll=settings.poll(),
            retry=settings.retry(),
            concurrency=settings.concurrency,
        ) as client,
    ):
        if on_ready is not None:
            on_ready(emu)
        report = await client.fleet.apply(
            plan,
            concurrency=settings.concurrency,
            batches=list(BATCHES),
            bake=settings.bake,
            max_failures=settings.max_failures,
            journal=directory / "journal.jsonl",
            on_event=on_event,
            stop=stop,
            abort=abort,
        )
        injected = frozenset(
            item.data_ops_service_id
            for item in report.items
            if item.outcome is Outcome.FAILED
            and item.error is not None
            and item.error.kind == "wait_failed"
            and (item.final_state or "").upper() == "ERROR"
            and emu.service_state(item.data_ops_service_id).upper() == "ERROR"
        )
        result = DemoResult(
            settings=settings,
            report=report,
            endpoint=emu.base_url,
            requests=dict(emu.counters.by_status()),
            faults=dict(emu.counters.faults),
            accepted_puts=dict(emu.counters.accepted_puts_per_service),
            injected=injected,
            directory=directory,
            interrupted=stop is not None and stop.is_set(),
        )
    await anyio.to_thread.run_sync(write_report, report, str(result.report_path))
    return result
