"""``DataOpsServiceSettledTrigger``: follow an accepted change in Airflow's triggerer, from a ``WaitToken``.

The trigger holds only JSON: the token (``WaitToken.to_json()``), the connection id and the poll settings, so it
survives a triggerer restart and resumes the wait with the token's own deadline. ``run()`` yields one event:

- ``{"status": "settled", "state", "service", ...}``: ``service`` is the final service as JSON data;
- ``{"status": "failed", "state", "message", ...}``: the service reached a failure state (ERROR, FAILED);
- ``{"status": "timed_out", "state", "message", ...}``: the deadline passed; ``state`` is the last one read;
- ``{"status": "error", "error", "message", ...}``: the wait could not go on (the service vanished, too many
  transient errors, bad credentials).

Every event also carries ``data_ops_service_id``, ``elapsed`` (seconds since the change was accepted) and ``polls``.
Cancelling ``run()`` (the triggerer does when the task is cleared or times out) cancels the one request or sleep in
flight and closes the client: nothing keeps polling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import attrs
from airflow.triggers.base import BaseTrigger, TriggerEvent

from aiodataops import (
    DataOpsError,
    PollPolicy,
    Service,
    StateEvent,
    WaitEndedError,
    WaitFailedError,
    WaitTimeoutError,
    WaitToken,
    resume_wait,
)
from aiodataops.airflow._data import service_data
from aiodataops.airflow._hook import DEFAULT_CONN_ID, DataOpsHook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from aiodataops import DataOpsClient

__all__ = ["DataOpsServiceSettledTrigger", "poll_policy", "poll_settings", "wait_outcome"]

CLASSPATH = "aiodataops.airflow.DataOpsServiceSettledTrigger"
# The token's deadline decides; a policy's own deadline is not used by a resumed wait.
_POLL_FIELDS = tuple(a.name for a in attrs.fields(PollPolicy) if a.name != "deadline")


class Logger(Protocol):
    """What ``wait_outcome`` logs through: a stdlib logger, or Airflow's structlog-based one."""

    def info(self, msg: str, /, *args: Any) -> Any:
        """Log a line at INFO level."""
        ...


def poll_policy(settings: Mapping[str, Any] | None) -> PollPolicy:
    """A ``PollPolicy`` from the JSON settings a trigger holds (unknown names raise ``ValueError``)."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - {*_POLL_FIELDS, "deadline"})
    if unknown:
        raise ValueError(f"poll: unknown setting(s) {', '.join(unknown)}; known: {', '.join(_POLL_FIELDS)}")
    return PollPolicy(**settings)


def poll_settings(policy: PollPolicy) -> dict[str, Any]:
    """The JSON settings of a policy, as a trigger holds them (without the deadline: the token has it)."""
    return {name: getattr(policy, name) for name in _POLL_FIELDS}


async def wait_outcome(
    client: DataOpsClient,
    token: WaitToken,
    *,
    policy: PollPolicy | None = None,
    log: Logger | None = None,
) -> dict[str, Any]:
    """Resume the wait a token describes and return its outcome as a trigger event's payload (JSON data)."""
    polls = 0
    elapsed = 0.0

    def on_event(event: StateEvent) -> None:
        nonlocal polls, elapsed
        polls, elapsed = event.polls, event.elapsed
        if log is not None and event.kind in ("change", "unknown", "stale", "not_found", "transient", "throttled"):
            detail = f" ({event.detail})" if event.detail else ""
            log.info(
                "%s: %s %s -> %s after %.1fs%s",
                token.resource_id,
                event.kind,
                event.old_state,
                event.new_state,
                event.elapsed,
                detail,
            )

    base = {"data_ops_service_id": token.resource_id}
    try:
        final = await resume_wait(token, client, policy=policy, on_event=on_event)
    except (WaitFailedError, WaitEndedError) as exc:
        # ERROR, or a terminal state that is not the goal (STOPPED, UNDEPLOYED): either way it will not settle.
        return {**base, "status": "failed", "state": exc.last_state, "message": str(exc), **_counts(exc)}
    except WaitTimeoutError as exc:
        return {**base, "status": "timed_out", "state": exc.last_state, "message": str(exc), **_counts(exc)}
    except DataOpsError as exc:
        return {
            **base,
            "status": "error",
            "state": getattr(exc, "last_state", None),
            "error": type(exc).__name__,
            "message": str(exc),
            "elapsed": round(getattr(exc, "elapsed", elapsed), 3),
            "polls": getattr(exc, "polls", polls),
        }
    assert isinstance(final, Service)
    return {
        **base,
        "status": "settled",
        "state": final.state,
        "service": service_data(final),
        "elapsed": round(elapsed, 3),
        "polls": polls,
    }


def _counts(exc: Any) -> dict[str, Any]:
    return {"elapsed": round(exc.elapsed, 3), "polls": exc.polls}


class DataOpsServiceSettledTrigger(BaseTrigger):
    """Fire once the change a ``WaitToken`` describes settles, fails or times out (see the module docstring).

    ``token`` is ``WaitToken.to_json()``; ``poll`` holds ``PollPolicy`` settings (delays, tolerances) as JSON data.
    """

    def __init__(
        self,
        token: str,
        scp_conn_id: str = DEFAULT_CONN_ID,
        poll: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call] # Airflow's BaseTrigger.__init__ is not annotated
        self.token = token
        self.scp_conn_id = scp_conn_id
        self.poll = {k: v for k, v in dict(poll or {}).items() if k != "deadline"}
        # Checked now, in the worker that defers, rather than later in the triggerer.
        self.wait_token = WaitToken.from_json(token)
        self.policy = poll_policy(self.poll)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The public class path and JSON keyword arguments: what the triggerer rebuilds the trigger from."""
        return CLASSPATH, {"token": self.token, "scp_conn_id": self.scp_conn_id, "poll": dict(self.poll)}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Follow the wait to its end with an async client; yield the one event with the outcome."""
        self.log.info(
            "following %s of %s until %s",
            self.wait_token.operation,
            self.wait_token.resource_id,
            self.wait_token.deadline_at.isoformat(),
        )
        try:
            async with DataOpsHook(self.scp_conn_id).client() as client:
                payload = await wait_outcome(client, self.wait_token, policy=self.policy, log=self.log)
        except DataOpsError as exc:
            # Before any poll: the connection is incomplete or contradicts itself.
            payload = {
                "data_ops_service_id": self.wait_token.resource_id,
                "status": "error",
                "state": None,
                "error": type(exc).__name__,
                "message": str(exc),
                "elapsed": 0.0,
                "polls": 0,
            }
        self.log.info("%s: %s (state %s)", self.wait_token.resource_id, payload["status"], payload["state"])
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call] # Airflow's TriggerEvent is not annotated
