"""Apache Airflow 3 provider for SCP Data Ops: a connection type, a hook, a deferrable trigger and two operators.

```python
from aiodataops.airflow import DataOpsFleetUpdateOperator, DataOpsServiceUpdateOperator

scale_up = DataOpsServiceUpdateOperator(
    task_id="scale_up",
    data_ops_service_id="DOPS_SERVICE-...",
    update={"service_workload": {"worker": {"replica": "6"}}},
)  # sends the PUT (unless the service already holds it), then defers while the service settles
```

- ``DataOpsHook``: the ``scp_dataops`` connection (access key as login, secret key as password, endpoint as host, or
  ``region``/``env`` in extra) made into a ``DataOpsClient``.
- ``DataOpsServiceSettledTrigger``: a resumable ``WaitToken`` followed in the triggerer; one event with the outcome.
- ``DataOpsServiceUpdateOperator``: converge one service (no PUT when nothing would change), then wait or defer.
- ``DataOpsFleetUpdateOperator``: ``client.fleet.apply`` in the worker with a journal, so a retried task resumes.

Needs the ``airflow`` extra (``pip install 'aiodataops[airflow]'``); ``import aiodataops`` alone never imports
Airflow. The provider is registered through the ``apache_airflow_provider`` entry point.
"""

try:
    import airflow.sdk  # noqa: F401 -- probe only: fail here with the install hint, not deep inside a submodule
except ImportError as exc:  # pragma: no cover -- the main test suite checks this in a subprocess
    raise ImportError(
        "aiodataops.airflow needs Apache Airflow 3, which is not installed: pip install 'aiodataops[airflow]'"
    ) from exc

from aiodataops.airflow._data import service_data, to_service_update
from aiodataops.airflow._fleet_operator import DataOpsFleetUpdateOperator
from aiodataops.airflow._hook import DEFAULT_CONN_ID, DataOpsHook
from aiodataops.airflow._provider import get_provider_info
from aiodataops.airflow._service_operator import DataOpsServiceUpdateOperator
from aiodataops.airflow._trigger import DataOpsServiceSettledTrigger, wait_outcome

__all__ = [
    "DEFAULT_CONN_ID",
    "DataOpsFleetUpdateOperator",
    "DataOpsHook",
    "DataOpsServiceSettledTrigger",
    "DataOpsServiceUpdateOperator",
    "get_provider_info",
    "service_data",
    "to_service_update",
    "wait_outcome",
]
