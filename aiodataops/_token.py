"""``WaitToken``: everything a new process needs to resume a wait, as one line of JSON (never a pickle).

Make one right after the 202 (``WaitToken.for_accepted(accepted)``), store ``to_json()`` (a journal line), and
later ``await resume_wait(WaitToken.from_json(text), client)``. A token keeps the proof rule of the change it was
made for: the 202 body's ``modified_dt`` when there was one, else the time the request was sent (``sent_at``), so
a change accepted without a body resumes exactly as it would have been followed (see ``_accepted``).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, cast, get_args

import attrs

from aiodataops._accepted import Accepted, Operation, ResourceKind, utc_now
from aiodataops._errors import ResponseShapeError
from aiodataops._polling import PollPolicy
from aiodataops._wire import dumps, format_datetime, loads, parse_datetime

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiodataops._models import DataOps, Service
    from aiodataops._protocols import Readable

__all__ = ["WaitToken"]

_TOKEN_VERSION = 1


def _kind_of(model: object) -> ResourceKind:
    if hasattr(model, "data_ops_service_id"):
        return "service"
    if hasattr(model, "data_ops_id"):
        return "data_ops"
    raise TypeError(f"cannot tell the resource kind of {type(model).__name__}; pass kind=")


@attrs.frozen
class WaitToken:
    """Everything a new process needs to resume a wait: small, JSON, never a pickle.

    Make one right after the 202 with ``WaitToken.for_accepted`` (or ``start``), store ``to_json()`` (a journal
    line), and later ``await resume_wait(WaitToken.from_json(text), client)``.
    """

    resource_id: str
    kind: ResourceKind
    operation: Operation
    accepted_modified_dt: dt.datetime | None
    """The 202 body's ``modified_dt``: reads older than this are stale."""
    accepted_state: str | None
    """The 202 body's state (typically UPDATING)."""
    started_at: dt.datetime
    """Wall time the change was accepted (UTC)."""
    deadline_at: dt.datetime
    """Wall time after which the wait gives up (UTC)."""
    sent_at: dt.datetime | None = None
    """Wall time the request was sent (UTC), for a change accepted without a body: a read whose ``modified_dt`` is
    not older counts; ``None`` in tokens written before it existed (then only an in-progress state or the stale
    grace prove a read)."""

    @classmethod
    def start(
        cls,
        resource_id: str,
        *,
        kind: ResourceKind,
        operation: Operation = "update",
        after: Readable | None = None,
        policy: PollPolicy | None = None,
        wall: Callable[[], float] = time.time,
        sent_at: dt.datetime | None = None,
    ) -> WaitToken:
        """Make a token for a change accepted now; the deadline is ``policy.deadline`` from now."""
        now = wall()
        return cls(
            resource_id=resource_id,
            kind=kind,
            operation=operation,
            accepted_modified_dt=after.modified_dt if after is not None else None,
            accepted_state=after.state if after is not None else None,
            started_at=utc_now(lambda: now),
            deadline_at=utc_now(lambda: now + (policy or PollPolicy()).deadline),
            sent_at=sent_at,
        )

    @classmethod
    def for_accepted(
        cls,
        after: Accepted[Any] | Service | DataOps,
        *,
        operation: Operation | None = None,
        policy: PollPolicy | None = None,
        wall: Callable[[], float] = time.time,
    ) -> WaitToken:
        """Make a token from an ``Accepted`` (or a 202 body, a ``Service`` or ``DataOps``)."""
        if isinstance(after, Accepted):
            body = cast("Readable | None", after.body)
            return cls.start(
                after.resource_id,
                kind=after.kind,
                operation=operation or after.operation,
                after=body,
                policy=policy,
                wall=wall,
                sent_at=after.sent_at if body is None or body.modified_dt is None else None,
            )
        return cls.start(
            after.id, kind=_kind_of(after), operation=operation or "update", after=after, policy=policy, wall=wall
        )

    def to_json(self) -> str:
        """Serialise to one line of JSON (a journal line), times as ISO 8601 UTC with milliseconds."""
        return dumps(self.to_dict()).decode()

    def to_dict(self) -> dict[str, Any]:
        """What ``to_json`` writes, as JSON data (a journal record nests it without a trip through text)."""
        mdt = self.accepted_modified_dt
        data: dict[str, Any] = {
            "v": _TOKEN_VERSION,
            "resource_id": self.resource_id,
            "kind": self.kind,
            "operation": self.operation,
            "accepted_modified_dt": format_datetime(mdt) if mdt is not None else None,
            "accepted_state": self.accepted_state,
            "started_at": format_datetime(self.started_at),
            "deadline_at": format_datetime(self.deadline_at),
        }
        if self.sent_at is not None:
            data["sent_at"] = format_datetime(self.sent_at)
        return data

    @classmethod
    def from_json(cls, text: str | bytes) -> WaitToken:
        """Read a token written by ``to_json``; a bad token raises ``ValueError`` naming the field."""
        try:
            data = loads(text)
        except ResponseShapeError as exc:
            raise ValueError(f"wait token is not JSON: {exc.problem}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> WaitToken:
        """Read ``to_dict``'s data (a journal record's token, already parsed); errors as ``from_json``'s."""
        if not isinstance(data, dict):
            raise ValueError("wait token must be a JSON object")  # noqa: TRY004 -- bad input text, not a bad type
        if data.get("v") != _TOKEN_VERSION:
            raise ValueError(f"wait token field 'v': expected {_TOKEN_VERSION}, got {data.get('v')!r}")
        return cls(
            resource_id=_field_str(data, "resource_id"),
            kind=cast("ResourceKind", _field_choice(data, "kind", get_args(ResourceKind))),
            operation=cast("Operation", _field_choice(data, "operation", get_args(Operation))),
            accepted_modified_dt=_field_dt(data, "accepted_modified_dt", optional=True),
            accepted_state=_field_str(data, "accepted_state", optional=True),
            started_at=_field_dt_required(data, "started_at"),
            deadline_at=_field_dt_required(data, "deadline_at"),
            sent_at=_field_dt(data, "sent_at", optional=True),
        )


def _field_str(data: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"wait token field {name!r}: expected a non-empty string, got {value!r}")
    return value


def _field_choice(data: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in choices:
        raise ValueError(f"wait token field {name!r}: expected one of {', '.join(choices)}, got {value!r}")
    return cast("str", value)


def _field_dt(data: dict[str, Any], name: str, *, optional: bool = False) -> dt.datetime | None:
    value = data.get(name)
    if value is None and optional:
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise ValueError(f"wait token field {name!r}: {exc}") from None


def _field_dt_required(data: dict[str, Any], name: str) -> dt.datetime:
    value = _field_dt(data, name)
    assert value is not None
    return value
