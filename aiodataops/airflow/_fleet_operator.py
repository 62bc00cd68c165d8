"""``DataOpsFleetUpdateOperator``: ``client.fleet.apply`` in the worker, journaled so that a retried task resumes.

The journal lives at ``{journal_dir}/dag_id=.../run_id=.../task_id=...[/map_index=N].jsonl``, one per task of a DAG
run and shared by its tries (``journal_dir`` defaults to ``$AIRFLOW_HOME/aiodataops/fleet-journals``; with workers on
several machines, point it at storage they share). The first try creates it; a later try finds it and resumes the
run it holds (``client.fleet.resume``): services that ended are not touched again (their report lines are reused,
failures included), updates already accepted are followed and never sent again, the rest start. A plan that
changed between tries is refused. To start over, delete the journal.

Progress goes to the task log as plain lines; the report (``FleetReport.to_dict()``) is the task's XCom
``return_value``, pushed before the task fails when the report has failures (``fail_on="any"``, the default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from aiodataops._plural import plural
from aiodataops.airflow._hook import DEFAULT_CONN_ID, DataOpsHook
from aiodataops.airflow._sync import run_sync
from aiodataops.fleet import (
    Baking,
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    FleetEnded,
    FleetEvent,
    FleetStarted,
    Outcome,
    Plan,
    Stopping,
    TargetAccepted,
    TargetEnded,
    TargetsResolved,
    load_plan,
    parse_plan,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from aiodataops import DataOpsClient
    from aiodataops.fleet import FleetReport

__all__ = ["DataOpsFleetUpdateOperator"]

_FAIL_ON = ("any", "none")


def default_journal_dir() -> Path:
    """``$AIRFLOW_HOME/aiodataops/fleet-journals`` (``~/airflow`` when ``AIRFLOW_HOME`` is not set)."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.join("~", "airflow")  # noqa: PTH118 -- expanded just below
    return Path(home).expanduser() / "aiodataops" / "fleet-journals"


class DataOpsFleetUpdateOperator(BaseOperator):
    """Apply a fleet plan (a path to YAML/JSON, or the plan as a dict; templated) with ``client.fleet.apply``.

    ``concurrency``, ``rate``, ``batches``, ``bake``, ``max_failures``, ``timeout``, ``put_retries`` and ``dry_run``
    are ``Fleet.apply`` 's options. ``fail_on="any"`` fails the task when the report is not ok (a failure, a time-out,
    a stop); ``"none"`` only reports. ``journal_dir`` is where the journal goes (see the module docstring).
    """

    template_fields: Sequence[str] = ("plan", "journal_dir")
    template_fields_renderers = {"plan": "json"}  # noqa: RUF012 -- Airflow's own class attribute, read as is
    ui_color = "#1428a0"

    def __init__(
        self,
        *,
        plan: str | os.PathLike[str] | Mapping[str, Any],
        scp_conn_id: str = DEFAULT_CONN_ID,
        concurrency: int = 16,
        rate: float | None = None,
        batches: str | list[int | str] | None = None,
        bake: float = 0.0,
        max_failures: int | str | None = 0,
        timeout: float | None = None,
        put_retries: int = 3,
        dry_run: bool = False,
        fail_on: str = "any",
        journal_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if fail_on not in _FAIL_ON:
            raise ValueError(f"fail_on: expected one of {', '.join(_FAIL_ON)}, got {fail_on!r}")
        self.plan = plan
        self.scp_conn_id = scp_conn_id
        self.options: dict[str, Any] = {
            "concurrency": concurrency,
            "rate": rate,
            "batches": batches,
            "bake": bake,
            "max_failures": max_failures,
            "timeout": timeout,
            "put_retries": put_retries,
        }
        self.fleet_dry_run = dry_run  # not ``dry_run``: BaseOperator has a method of that name
        self.fail_on = fail_on
        self.journal_dir = journal_dir

    def execute(self, context: Context) -> Any:
        """Apply (or resume) the plan; push the report; fail on failures unless ``fail_on="none"``."""
        plan = self._load_plan()
        journal = None if self.fleet_dry_run else self.journal_path(context)
        client = DataOpsHook(self.scp_conn_id, concurrency=self.options["concurrency"]).get_conn()
        # Looked at here, not in the event loop: a journal with content is a run to resume.
        if journal is not None:
            journal.parent.mkdir(parents=True, exist_ok=True)
        resume = journal is not None and journal.exists() and journal.stat().st_size > 0
        report = run_sync(self._apply(client, plan, journal, resume=resume))
        data = report.to_dict()
        summary = data["summary"]
        self.log.info(
            "fleet: %s; %s", summary["stopped"], ", ".join(f"{n} {k}" for k, n in summary["counts"].items() if n)
        )
        if self.fail_on == "any" and not report.ok:
            context["ti"].xcom_push(key="return_value", value=data)
            failed = [i for i in report.items if i.outcome in (Outcome.FAILED, Outcome.TIMED_OUT)]
            shown = "; ".join(
                f"{i.data_ops_service_id}: {i.error.message if i.error else i.outcome}" for i in failed[:5]
            )
            more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""  # noqa: PLR2004 -- five shown
            reason = report.error or f"{len(failed)} of {plural(report.total, 'service')} did not succeed"
            raise AirflowException(f"fleet update: {reason}" + (f": {shown}{more}" if shown else ""))
        return data

    def journal_path(self, context: Context) -> Path:
        """This task's journal, the same file for every try of it in one DAG run."""
        ti = context["ti"]
        base = Path(os.fspath(self.journal_dir)) if self.journal_dir else default_journal_dir()
        path = base / f"dag_id={ti.dag_id}" / f"run_id={ti.run_id}" / f"task_id={ti.task_id}"
        map_index = getattr(ti, "map_index", -1)
        if map_index is not None and map_index >= 0:
            path = path / f"map_index={map_index}"
        return path.with_name(path.name + ".jsonl")

    def _load_plan(self) -> Plan:
        if isinstance(self.plan, Mapping):
            return parse_plan(dict(self.plan))
        return load_plan(self.plan)

    async def _apply(self, client: DataOpsClient, plan: Plan, journal: Path | None, *, resume: bool) -> FleetReport:
        progress = _Progress(self.log)
        options = dict(self.options)
        async with client:
            if journal is not None and resume:
                self.log.info("fleet: resuming the run in %s", journal)
                return await client.fleet.resume(journal, targets=plan, on_event=progress, **options)
            if journal is not None:
                self.log.info("fleet: journal %s", journal)
            return await client.fleet.apply(
                plan, journal=journal, dry_run=self.fleet_dry_run, on_event=progress, **options
            )


class _Progress:
    """Fleet events as plain task log lines: starts, acceptances and ends of services, batches, the summary."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.total: int | None = None
        self.ended = 0

    def __call__(self, event: FleetEvent) -> None:  # noqa: C901 -- one branch per kind of event
        log = self.log
        if isinstance(event, FleetStarted):
            self.total = event.total
            size = event.total if event.total is not None else "?"
            resumed = f", {event.resumed} already ended in the journal" if event.resumed else ""
            log.info("fleet: %s services, %s at a time%s", size, event.concurrency, resumed)
        elif isinstance(event, TargetsResolved):
            self.total = event.total
            log.info("fleet: %s services in all", event.total)
        elif isinstance(event, BatchStarted):
            log.info("batch %s starts (%s services at most)", event.index + 1, event.size)
        elif isinstance(event, BatchEnded):
            log.info("batch %s ended: %s", event.index + 1, _counts(event.counts))
        elif isinstance(event, Baking):
            log.info("baking %.0fs before batch %s", event.seconds, event.next_batch + 1)
        elif isinstance(event, TargetAccepted):
            log.info("%s: accepted (%s) after %s PUT(s)", event.service_id, event.state, event.attempts)
        elif isinstance(event, TargetEnded):
            self.ended += 1
            item = event.item
            why = f": {item.error.message}" if item.error else ""
            place = f"{self.ended}/{self.total}" if self.total is not None else str(self.ended)
            log.info("[%s] %s: %s (%s)%s", place, item.data_ops_service_id, item.outcome, item.final_state, why)
        elif isinstance(event, BudgetExceeded):
            log.warning("failure budget exceeded (%s > %s): no new service starts", event.failures, event.limit)
        elif isinstance(event, Stopping):
            log.warning("stopping (%s); %s in flight", event.reason, event.in_flight)
        elif isinstance(event, FleetEnded):
            log.info("fleet ended: %s", _counts(event.report.counts))


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing"
