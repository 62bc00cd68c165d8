"""``DataOpsServiceUpdateOperator``: converge one service on an update, then defer (or wait) until it settles.

What ``execute`` does, from a read of the service:

- the update would change nothing (``aiodataops.fleet`` diff) and the service is settled: success, no PUT;
- it would change nothing and a change is still running (say the PUT of an earlier try of this task): follow it;
- otherwise, when a change is running, follow it first (a PUT would be refused with 409), then look again;
- otherwise send the PUT (a service in a failure state gets it even when nothing differs: re-applying is what a
  retry can do), then follow the change.

Following means deferring to ``DataOpsServiceSettledTrigger`` (no worker slot is held while the service settles)
or, with ``deferrable=False``, the same wait in the worker. The task returns the final service as JSON data (its
XCom ``return_value``) or fails with the API's message. With ``wait=False`` it returns the 202 answer at once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import attrs
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from aiodataops import APIStatusError, DataOpsError, PollPolicy, Service, ServiceUpdate, StateClass, WaitToken, classify
from aiodataops.airflow._data import service_data, to_service_update
from aiodataops.airflow._hook import DEFAULT_CONN_ID, DataOpsHook
from aiodataops.airflow._sync import run_sync
from aiodataops.airflow._trigger import DataOpsServiceSettledTrigger, poll_settings, wait_outcome
from aiodataops.fleet._diff import diff

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from aiodataops import DataOpsClient

__all__ = ["DataOpsServiceUpdateOperator"]

#: How often a running change is followed before the PUT; another actor changing it again and again fails the task.
_MAX_ROUNDS = 3
#: The trigger's own time-out passes this long after the token's deadline: the token's deadline decides.
_TRIGGER_SLACK = dt.timedelta(minutes=5)

Step = Literal["done", "follow", "settle_first"]


@attrs.frozen
class _Next:
    """What the converge step decided: done (``service``), or follow the change a ``token`` describes."""

    step: Step
    service: Service
    token: WaitToken | None = None


class DataOpsServiceUpdateOperator(BaseOperator):
    """Update one Data Ops service and wait (deferred by default) until it settles; see the module docstring.

    ``update``: a ``ServiceUpdate`` or a dict in the wire form (``{"service_workload": {"worker": {"replica":
    "6"}}}``, values as strings), templated. ``timeout``: seconds the service may take to settle (default: the
    poll policy's deadline, 30 min). ``poll``: a ``PollPolicy`` for the polls.
    """

    template_fields: Sequence[str] = ("data_ops_service_id", "update")
    template_fields_renderers = {"update": "json"}  # noqa: RUF012 -- Airflow's own class attribute, read as is
    ui_color = "#1428a0"

    def __init__(
        self,
        *,
        data_ops_service_id: str,
        update: ServiceUpdate | Mapping[str, Any],
        scp_conn_id: str = DEFAULT_CONN_ID,
        wait: bool = True,
        deferrable: bool = True,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_ops_service_id = data_ops_service_id
        self.update = update
        self.scp_conn_id = scp_conn_id
        self.wait = wait
        self.deferrable = deferrable
        policy = poll or PollPolicy()
        self.poll = attrs.evolve(policy, deadline=timeout) if timeout is not None else policy

    # -- the task ---------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Converge, then follow the change (deferring unless ``deferrable=False``)."""
        return self._round(context, 1)

    def _round(self, context: Context, number: int) -> Any:
        update = to_service_update(self.data_ops_service_id, self.update)
        hook = DataOpsHook(self.scp_conn_id)
        client = hook.get_conn()
        try:
            step = run_sync(self._converge(client, update, follow=self.wait))
        except APIStatusError as exc:
            raise AirflowException(f"{self.data_ops_service_id}: the API refused the update: {exc}") from None
        except DataOpsError as exc:
            raise AirflowException(f"{self.data_ops_service_id}: {exc}") from None
        if step.step == "done":
            return service_data(step.service)
        if step.step == "settle_first" and number > _MAX_ROUNDS:
            raise AirflowException(
                f"{self.data_ops_service_id}: still changing after {_MAX_ROUNDS} waits for its running change"
            )
        assert step.token is not None
        # After a running change, look again (a new round); after this task's own change, the outcome is final.
        method, kwargs = (
            ("execute_after_running_change", {"number": number})
            if step.step == "settle_first"
            else ("execute_complete", {})
        )
        if self.deferrable:
            trigger = DataOpsServiceSettledTrigger(step.token.to_json(), self.scp_conn_id, poll_settings(self.poll))
            left = step.token.deadline_at - dt.datetime.now(dt.UTC)
            self.defer(
                trigger=trigger,
                method_name=method,
                kwargs=kwargs,
                timeout=max(left, dt.timedelta(0)) + _TRIGGER_SLACK,
            )
        event = run_sync(self._follow(hook.get_conn(), step.token))
        return getattr(self, method)(context, event, **kwargs)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:  # noqa: ARG002 -- Airflow passes it
        """The outcome of the wait for this task's change: the final service, or a failed task."""
        sid = event.get("data_ops_service_id", self.data_ops_service_id)
        status = event.get("status")
        if status == "settled":
            self.log.info("%s: settled in state %s after %ss", sid, event.get("state"), event.get("elapsed"))
            return event["service"]
        raise AirflowException(event.get("message") or f"{sid}: the wait ended with {status}")

    def execute_after_running_change(self, context: Context, event: dict[str, Any], number: int = 1) -> Any:
        """A change that was already running when the task looked has ended (well or not): look again."""
        sid = event.get("data_ops_service_id", self.data_ops_service_id)
        self.log.info(
            "%s: the running change ended (%s, state %s); looking again", sid, event.get("status"), event.get("state")
        )
        return self._round(context, number + 1)

    # -- async steps ------------------------------------------------------------------------------------------

    async def _converge(self, client: DataOpsClient, update: ServiceUpdate, *, follow: bool) -> _Next:
        sid = self.data_ops_service_id
        async with client:
            current = await client.services.get(sid)
            changes = diff(current, update)
            state = classify(current.state)
            for change in changes:
                self.log.info("%s: %s: %r -> %r", sid, change.field, change.current, change.desired)
            if not changes and state is StateClass.SETTLED:
                self.log.info("%s: already holds the update (state %s); no PUT sent", sid, current.state)
                return _Next("done", current)
            if state is StateClass.IN_PROGRESS:
                token = WaitToken.for_accepted(current, policy=self.poll)
                if not changes:
                    self.log.info("%s: already holds the update; following its running change (%s)", sid, current.state)
                    return _Next("follow", current, token) if follow else _Next("done", current)
                self.log.info("%s: a change is running (%s); following it before sending", sid, current.state)
                return _Next("settle_first", current, token)
            accepted = await client.services.update(sid, update, retry_sent=False)
            self.log.info("%s: update accepted (state %s)", sid, accepted.state)
            if not follow:
                return _Next("done", accepted)
            return _Next("follow", accepted, WaitToken.for_accepted(accepted, policy=self.poll))

    async def _follow(self, client: DataOpsClient, token: WaitToken) -> dict[str, Any]:
        async with client:
            return await wait_outcome(client, token, policy=self.poll, log=self.log)
