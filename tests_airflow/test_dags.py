"""The example DAGs under ``dag.test()`` against an emulator started by the test: deferral, XCom, secrets, retries.

``dag.test()`` blocks its thread, so the emulator serves from a thread of its own (``ThreadedEmulator``); client
and emulator both run in real time, with the emulator's durations short. The connection comes from
``AIRFLOW_CONN_SCP_DATAOPS_DEFAULT``. The tests change a few task settings of the examples (retries, the bake time)
on the DAG object before ``dag.test()`` serializes it, so that they run in seconds.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from typing import TYPE_CHECKING, Any

import pytest
from airflow.models.renderedtifields import RenderedTaskInstanceFields
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

from aiodataops.airflow import DataOpsServiceSettledTrigger
from aiodataops.emulator import PASSWORD_MARK
from tests_airflow._support import EXAMPLES, ThreadedEmulator, use_emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from airflow.sdk import DAG

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.timeout(300)]


def load_dag(name: str) -> DAG:
    """A fresh DAG object from ``examples/airflow/<name>.py`` (a new module each time, so tests can change it)."""
    spec = importlib.util.spec_from_file_location(f"example_dag_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag: DAG = module.dag
    return dag


def fast(dag: DAG, **settings: Any) -> None:
    """No retries and no retry delay on every task, unless ``settings`` say otherwise."""
    for task in dag.tasks:
        task.retries = settings.get("retries", 0)
        task.retry_delay = dt.timedelta(0)


def states(run: Any) -> dict[str, tuple[str, int]]:
    """Each task's final state and try number."""
    with create_session() as session:
        return {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances(session=session)}


def xcoms(run: Any) -> dict[str, Any]:
    """Each task's XCom ``return_value`` in this run."""
    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == run.run_id, XComModel.dag_id == run.dag_id).all()
        return {row.task_id: row.value for row in rows if row.key == "return_value"}


def rendered(run: Any) -> str:
    """Every rendered template field of this run, as one JSON text."""
    with create_session() as session:
        rows = (
            session.query(RenderedTaskInstanceFields)
            .filter(RenderedTaskInstanceFields.run_id == run.run_id, RenderedTaskInstanceFields.dag_id == run.dag_id)
            .all()
        )
        return json.dumps([row.rendered_fields for row in rows], default=str)


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the services whose wait ran in ``DataOpsServiceSettledTrigger.run`` (i.e. the task deferred)."""
    runs: list[str] = []
    original = DataOpsServiceSettledTrigger.run

    async def spy(self: DataOpsServiceSettledTrigger) -> AsyncIterator[Any]:
        runs.append(self.wait_token.resource_id)
        async for event in original(self):
            yield event

    monkeypatch.setattr(DataOpsServiceSettledTrigger, "run", spy)
    return runs


def replica(service: dict[str, Any]) -> str:
    """The worker replicas of a service as XCom holds it."""
    value: str = service["service_workload"]["worker"]["replica"]
    return value


def test_scale_up_job_scale_down_defers_and_keeps_secrets_out(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], trigger_runs: list[str]
) -> None:
    """The scaling DAG succeeds; both steps defer to the trigger; XCom holds the final services; no secret leaks."""
    dag = load_dag("scale_for_nightly_job")
    fast(dag)
    with ThreadedEmulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        sid = emu.service_ids()[0]
        run = dag.test(run_conf={"service_id": sid, "peak_workers": "6", "normal_workers": "2"})
        puts = dict(emu.counters.accepted_puts_per_service)
        secret = emu.credentials.secret_key
    assert str(run.state) == "success"
    assert states(run) == dict.fromkeys(("scale_up", "nightly_job", "scale_down"), ("success", 1))
    assert puts == {sid: 2}
    assert trigger_runs == [sid, sid]  # both updates were followed in the triggerer, not in a worker
    values = xcoms(run)
    assert replica(values["scale_up"]) == "6"
    assert values["nightly_job"] == "6"
    assert (replica(values["scale_down"]), values["scale_down"]["state"]) == ("2", "RUNNING")
    output = capfd.readouterr()
    shown = output.out + output.err + json.dumps(values) + rendered(run)
    assert "running the nightly job on" in output.out + output.err
    for leak in (secret, PASSWORD_MARK, "account_password"):
        assert leak not in shown


def test_scaling_to_what_the_service_already_holds_sends_no_put(
    monkeypatch: pytest.MonkeyPatch, trigger_runs: list[str]
) -> None:
    """Converging: when the service already has the replicas asked for, the steps succeed without a PUT or a wait."""
    dag = load_dag("scale_for_nightly_job")
    fast(dag)
    with ThreadedEmulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        sid = emu.service_ids()[0]
        current = emu.service_body(sid)["service_workload"]["worker"]["replica"]
        run = dag.test(run_conf={"service_id": sid, "peak_workers": current, "normal_workers": current})
        puts = sum(emu.counters.accepted_puts_per_service.values())
    assert str(run.state) == "success"
    assert puts == 0
    assert trigger_runs == []
    assert replica(xcoms(run)["scale_up"]) == current


def test_a_change_already_running_is_followed_before_the_put(
    monkeypatch: pytest.MonkeyPatch, trigger_runs: list[str]
) -> None:
    """A service busy with someone else's change is followed until it settles, then updated: no 409, no lost PUT."""
    dag = load_dag("scale_for_nightly_job")
    fast(dag)
    threaded = ThreadedEmulator(update_duration=(0.05, 0.1))
    with threaded as emu:
        use_emulator(monkeypatch, emu)
        sid = emu.service_ids()[0]
        # Someone else's change: UPDATING until the first wait starts (then it ends), whatever dag.test() takes.
        threaded.call(lambda: emu.set_state(sid, "UPDATING"))
        spied = DataOpsServiceSettledTrigger.run

        async def end_it_on_first_wait(self: DataOpsServiceSettledTrigger) -> AsyncIterator[Any]:
            if not trigger_runs:
                threaded.call(lambda: emu.set_state(sid, "RUNNING"))
            async for event in spied(self):
                yield event

        monkeypatch.setattr(DataOpsServiceSettledTrigger, "run", end_it_on_first_wait)
        run = dag.test(run_conf={"service_id": sid, "peak_workers": "6", "normal_workers": "2"})
        puts = dict(emu.counters.accepted_puts_per_service)
        conflicts = emu.counters.total("update_service", status=409)
    assert str(run.state) == "success"
    assert puts == {sid: 2}
    assert conflicts == 0
    assert trigger_runs == [sid, sid, sid]  # the running change, then the scale-up, then the scale-down
    assert replica(xcoms(run)["scale_up"]) == "6"


def test_without_deferral_the_worker_waits(monkeypatch: pytest.MonkeyPatch, trigger_runs: list[str]) -> None:
    """``deferrable=False`` waits in the worker: the same outcome, and the trigger never runs."""
    dag = load_dag("scale_for_nightly_job")
    fast(dag)
    for task_id in ("scale_up", "scale_down"):
        dag.get_task(task_id).deferrable = False  # type: ignore[attr-defined]
    with ThreadedEmulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        sid = emu.service_ids()[0]
        run = dag.test(run_conf={"service_id": sid, "peak_workers": "5", "normal_workers": "1"})
        puts = dict(emu.counters.accepted_puts_per_service)
    assert str(run.state) == "success"
    assert puts == {sid: 2}
    assert trigger_runs == []
    assert replica(xcoms(run)["scale_down"]) == "1"


def test_without_waiting_the_task_returns_the_accepted_service(
    monkeypatch: pytest.MonkeyPatch, trigger_runs: list[str]
) -> None:
    """``wait=False`` returns the 202 answer (UPDATING) at once: no deferral; the next step still converges."""
    dag = load_dag("scale_for_nightly_job")
    fast(dag)
    dag.get_task("scale_up").wait = False  # type: ignore[attr-defined]
    with ThreadedEmulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        sid = emu.service_ids()[0]
        run = dag.test(run_conf={"service_id": sid, "peak_workers": "7", "normal_workers": "2"})
        puts = dict(emu.counters.accepted_puts_per_service)
    assert str(run.state) == "success"
    scaled_up = xcoms(run)["scale_up"]
    # The 202 answer as documented: UPDATING, and service_workload "" (so the XCom has no workload to show).
    assert scaled_up["state"] == "UPDATING"
    assert "service_workload" not in scaled_up
    assert puts == {sid: 2}
    # Only the scale-down waited (after following the scale-up's change, had that still been running).
    assert trigger_runs in ([sid], [sid, sid])


def test_a_scale_up_ending_in_error_fails_the_run_and_leaves_the_service_alone(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A scale-up that ends in ERROR fails with that state; the job and the scale-down (its teardown) do not run."""
    dag = load_dag("scale_for_nightly_job")
    fast(dag)
    with ThreadedEmulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        sid = emu.service_ids()[0]
        emu.force_outcome(sid, "ERROR")
        run = dag.test(run_conf={"service_id": sid, "peak_workers": "6", "normal_workers": "2"})
        puts = dict(emu.counters.accepted_puts_per_service)
    assert str(run.state) == "failed"
    got = states(run)
    assert got["scale_up"][0] == "failed"
    assert got["nightly_job"][0] == "upstream_failed"
    assert got["scale_down"][0] != "success"
    assert puts == {sid: 1}
    output = capfd.readouterr()
    assert "update ended in state ERROR" in output.out + output.err


def test_a_retry_sends_the_update_again_to_a_service_in_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service left in ERROR by the first try holds the update already; the retry re-applies it and recovers."""
    dag = load_dag("scale_for_nightly_job")
    fast(dag, retries=1)
    with ThreadedEmulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        sid = emu.service_ids()[0]
        emu.force_outcome(sid, "ERROR")
        run = dag.test(run_conf={"service_id": sid, "peak_workers": "6", "normal_workers": "2"})
        puts = dict(emu.counters.accepted_puts_per_service)
    assert str(run.state) == "success"
    assert states(run)["scale_up"] == ("success", 2)
    assert puts == {sid: 3}  # scale-up, its retry, scale-down


def test_fleet_rollout_updates_the_production_services_and_reports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The rollout DAG updates every prod-* service once and pushes the report, journaled under the task's run."""
    dag = load_dag("fleet_rollout")
    fast(dag)
    task = dag.get_task("rollout")
    task.options["bake"] = 0  # type: ignore[attr-defined]
    task.journal_dir = str(tmp_path)  # type: ignore[attr-defined]
    with ThreadedEmulator(update_duration=(0.05, 0.1)) as emu:
        use_emulator(monkeypatch, emu)
        prod = {sid for sid in emu.service_ids() if emu.service_body(sid)["data_ops_name"].startswith("prod-")}
        run = dag.test()
        puts = dict(emu.counters.accepted_puts_per_service)
        secret = emu.credentials.secret_key
    assert str(run.state) == "success"
    assert puts == dict.fromkeys(prod, 1)
    report = xcoms(run)["rollout"]
    assert report["summary"]["ok"] is True
    output = capfd.readouterr()
    logs = output.out + output.err
    assert "[5/5]" in logs  # progress lines in the task log
    for leak in (secret, PASSWORD_MARK):
        assert leak not in logs + json.dumps(report) + rendered(run)
    assert report["summary"]["counts"]["succeeded"] == len(prod) == 5
    journals = list(tmp_path.rglob("*.jsonl"))
    assert [p.relative_to(tmp_path).parts[0] for p in journals] == ["dag_id=dataops_fleet_rollout"]


@pytest.mark.parametrize("fail_on", ["any", "none"])
def test_fleet_failures_fail_the_task_unless_told_not_to_and_the_report_is_pushed_either_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fail_on: str
) -> None:
    """Services ending in ERROR fail the rollout task (``fail_on="none"``: it succeeds); XCom holds the report."""
    dag = load_dag("fleet_rollout")
    fast(dag)
    task = dag.get_task("rollout")
    task.options.update(bake=0, batches=None, max_failures=None)  # type: ignore[attr-defined]
    task.journal_dir = str(tmp_path)  # type: ignore[attr-defined]
    task.fail_on = fail_on  # type: ignore[attr-defined]
    with ThreadedEmulator(update_duration=(0.05, 0.1), error_rate=1.0) as emu:
        use_emulator(monkeypatch, emu)
        run = dag.test()
    assert states(run)["rollout"][0] == ("failed" if fail_on == "any" else "success")
    report = xcoms(run)["rollout"]
    assert report["summary"]["counts"]["failed"] == 5
    assert {item["final_state"] for item in report["items"]} == {"ERROR"}


def test_a_retried_fleet_task_resumes_its_journal_without_sending_accepted_puts_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A first try killed mid-rollout (execution_timeout) leaves a journal; the retry resumes it: one PUT a service."""
    dag = load_dag("fleet_rollout")
    fast(dag, retries=1)
    task = dag.get_task("rollout")
    task.options.update(bake=0, concurrency=2, batches=None)  # type: ignore[attr-defined]
    task.journal_dir = str(tmp_path)  # type: ignore[attr-defined]
    # Each service takes 3 s to settle, two at a time: the first try is killed at 4 s with updates in flight. The
    # retry must not be killed too: the first failure lifts the limit (on the DAG's own task object).
    task.execution_timeout = dt.timedelta(seconds=4)
    task.on_retry_callback = [lambda _context: setattr(task, "execution_timeout", None)]
    with ThreadedEmulator(update_duration=(3, 3)) as emu:
        use_emulator(monkeypatch, emu)
        prod = {sid for sid in emu.service_ids() if emu.service_body(sid)["data_ops_name"].startswith("prod-")}
        run = dag.test()
        puts = dict(emu.counters.accepted_puts_per_service)
    assert str(run.state) == "success"
    assert states(run)["rollout"] == ("success", 2)
    assert puts == dict.fromkeys(prod, 1)
    report = xcoms(run)["rollout"]
    assert report["summary"]["counts"]["succeeded"] == 5
    assert any(item["resumed"] for item in report["items"])  # the retry took over what the first try started
    (journal,) = tmp_path.rglob("*.jsonl")
    records = [json.loads(line)["type"] for line in journal.read_text().splitlines()]
    assert records.count("header") == 1
    assert records.count("resumed") == 1
