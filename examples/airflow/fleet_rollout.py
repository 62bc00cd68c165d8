"""A scheduled fleet rollout: apply ``rollout_plan.yaml`` to every production service, in canary batches.

The task runs ``client.fleet.apply`` in the worker with a journal under this task's run, so a retry (a worker lost,
the task cleared) resumes the rollout: services that ended are not touched again and accepted updates are followed,
never sent twice. The report is the task's XCom; the task fails when a service failed or timed out.

Needs ``pip install 'aiodataops[airflow]'`` and a connection ``scp_dataops_default`` (type ``scp_dataops``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow.sdk import DAG

from aiodataops.airflow import DataOpsFleetUpdateOperator

with DAG(
    dag_id="dataops_fleet_rollout",
    schedule="0 3 * * 6",  # Saturdays, 03:00
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # one rollout at a time
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["aiodataops"],
) as dag:
    rollout = DataOpsFleetUpdateOperator(
        task_id="rollout",
        plan=str(Path(__file__).with_name("rollout_plan.yaml")),
        concurrency=8,
        batches=[1, "25%"],  # one canary first, then a quarter of the fleet at a time
        bake=60,  # seconds to watch each batch before the next starts
        max_failures=1,  # a second failure stops starting new services
        timeout=1800,  # seconds each service may take to settle
    )
