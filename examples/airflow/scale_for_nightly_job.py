"""Scale a Data Ops service's workers up for a heavy nightly job, run the job, and scale back down.

Each scaling step sends its PUT only when the service does not already hold the change, then defers while the
service settles (no worker slot is held meanwhile); the final service is the step's XCom. The two steps are an
Airflow setup and teardown: once the scale-up succeeded, the scale-down runs whatever became of the job (a failed
job does not leave the workers scaled up, and still fails the DAG run). A scale-up that fails for good (the service
ended in ERROR after every retry) leaves the service as it is, for a person to look at.

Needs ``pip install 'aiodataops[airflow]'`` and a connection ``scp_dataops_default`` (type ``scp_dataops``: access
key as login, secret key as password, the endpoint as host). Trigger it with ``{"service_id": "DOPS_SERVICE-..."}``
or set the ``service_id`` param's default.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, Param, task

from aiodataops.airflow import DataOpsServiceUpdateOperator


def workers(replicas: str) -> dict[str, Any]:
    """An update (wire form, values as strings) setting the worker replicas; templated like the rest of the task."""
    return {"service_workload": {"worker": {"replica": replicas}}}


with DAG(
    dag_id="dataops_scale_for_nightly_job",
    schedule="0 1 * * *",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    params={
        "service_id": Param("DOPS_SERVICE-00000000-0000-0000-0000-000000000000", type="string"),
        "peak_workers": Param("6", type="string"),
        "normal_workers": Param("2", type="string"),
    },
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=1)},
    tags=["aiodataops"],
) as dag:
    scale_up = DataOpsServiceUpdateOperator(
        task_id="scale_up",
        data_ops_service_id="{{ params.service_id }}",
        update=workers("{{ params.peak_workers }}"),
        timeout=1800,  # seconds the service may take to settle
    )

    @task
    def nightly_job(service: dict[str, Any]) -> str:
        """The heavy job; here it only reports the capacity it got from the scale-up's XCom."""
        # A settled service shows its workload; an accepted one (wait=False) may not: the documented 202 answers
        # service_workload as "".
        replicas = (service.get("service_workload") or {}).get("worker", {}).get("replica", "?")
        print(f"running the nightly job on {service['data_ops_service_name']} with workers: {replicas}")
        return str(replicas)

    scale_down = DataOpsServiceUpdateOperator(
        task_id="scale_down",
        data_ops_service_id="{{ params.service_id }}",
        update=workers("{{ params.normal_workers }}"),
    )

    job = nightly_job(scale_up.output)  # type: ignore[arg-type] # an XComArg stands in for the dict
    scale_up >> job >> scale_down.as_teardown(setups=scale_up)
