"""What a fleet run reports: one ``ItemReport`` per target and a ``FleetReport`` with the summary.

Both are plain values that turn into JSON data with ``to_dict()`` and back with ``from_dict()`` (the journal stores
ended items this way). They hold ids, states, counts, durations and error summaries only: never a response body,
so never an ``account_password``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Literal

import attrs
import orjson

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "FAILURE_OUTCOMES",
    "FINAL_OUTCOMES",
    "SUCCESS_OUTCOMES",
    "Change",
    "ErrorInfo",
    "ErrorKind",
    "FleetReport",
    "ItemReport",
    "Outcome",
    "StopReason",
]

_MAX_MESSAGE = 500


class Outcome(enum.StrEnum):
    """How one target ended."""

    SUCCEEDED = "succeeded"
    """The update was accepted and the service settled."""
    UNCHANGED = "unchanged"
    """Every field of the update already held (read before the PUT): nothing was sent. A success."""
    FAILED = "failed"
    """The update was refused, the service reached a failure state, or it could not be followed."""
    TIMED_OUT = "timed_out"
    """The update was accepted but the service had not settled when the per-service timeout passed."""
    SKIPPED = "skipped"
    """Not started because the failure budget was exceeded (or, after an abort, no longer followed)."""
    NOT_STARTED = "not_started"
    """Not started because the run was stopped (Ctrl-C), or because it was a dry run."""


#: Outcomes that count against the failure budget.
FAILURE_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMED_OUT})
#: Outcomes that count as success (for the exit status and ``FleetReport.ok``).
SUCCESS_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.UNCHANGED})
#: Outcomes written to the journal as "ended": a resumed run never touches these targets again.
FINAL_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.FAILED, Outcome.TIMED_OUT})


class StopReason(enum.StrEnum):
    """Why a run stopped starting new services."""

    COMPLETED = "completed"
    BUDGET_EXCEEDED = "budget_exceeded"
    INTERRUPTED = "interrupted"
    ABORTED = "aborted"
    ERROR = "error"
    GATE = "gate"
    """A health gate between canary batches failed (or hung past its timeout)."""


class ErrorKind(enum.StrEnum):
    """Why a target did not succeed, in one word (``ErrorInfo.kind``); a ``str``, so ``kind == "wait_failed"``
    and the JSON (``"kind": "wait_failed"``) are what they always were."""

    WAIT_FAILED = "wait_failed"
    """The service reached a failure state (ERROR)."""
    WAIT_ENDED = "wait_ended"
    """The service reached a terminal state that is neither success nor failure (STOPPED, UNDEPLOYED, ...)."""
    WAIT_TIMEOUT = "wait_timeout"
    VANISHED = "vanished"
    WAIT_TRANSIENT = "wait_transient"
    BAD_REQUEST = "bad_request"
    AUTHENTICATION = "authentication"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    HTTP_ERROR = "http_error"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TRANSPORT = "transport"
    RESPONSE_SHAPE = "response_shape"
    INTERNAL = "internal"
    """An error this SDK did not expect (a bug): logged with its traceback."""
    BUDGET_EXCEEDED = "budget_exceeded"
    GATE = "gate"
    """Not started: a health gate between canary batches failed."""
    RUN_ERROR = "run_error"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"


def _error_kind(value: str) -> ErrorKind | str:
    # A kind this version does not know (a journal written by a newer one) is kept as the string it is.
    try:
        return ErrorKind(value)
    except ValueError:
        return str(value)


def _clip_message(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


@attrs.frozen
class ErrorInfo:
    """Why a target did not succeed: a short ``kind`` (an ``ErrorKind``), the HTTP status if any, a message."""

    kind: ErrorKind | str = attrs.field(converter=_error_kind)
    message: str = attrs.field(converter=_clip_message)
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {"kind": str(self.kind), "status": self.status, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErrorInfo:
        """Inverse of ``to_dict``."""
        return cls(kind=str(data["kind"]), message=str(data.get("message", "")), status=data.get("status"))


@attrs.frozen
class Change:
    """One field a dry run would change: the dotted ``field`` path, its ``current`` and ``desired`` wire values."""

    field: str
    current: Any
    desired: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {"field": self.field, "current": self.current, "desired": self.desired}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Inverse of ``to_dict``."""
        return cls(field=str(data["field"]), current=data.get("current"), desired=data.get("desired"))


@attrs.frozen
class ItemReport:
    """How one target ended.

    ``attempts`` counts the PUTs this engine sent (the transport's own retries of one PUT are not counted);
    ``polls`` the reads made while waiting. Durations are in seconds: ``accept_seconds`` from start to the 202,
    ``settle_seconds`` from the 202 to the end, ``total_seconds`` from start to end. ``resumed`` is true when the
    outcome came from a journal or the run re-attached to an update accepted before a crash. ``diff`` is set by dry
    runs only; ``service_name`` when a read showed it (dry runs, and the read before a PUT).
    """

    data_ops_service_id: str
    outcome: Outcome = attrs.field(converter=Outcome)
    final_state: str | None = None
    error: ErrorInfo | None = None
    attempts: int = 0
    polls: int = 0
    batch: int | None = None
    place: str | None = None
    accept_seconds: float | None = None
    settle_seconds: float | None = None
    total_seconds: float | None = None
    resumed: bool = False
    diff: tuple[Change, ...] | None = None
    service_name: str | None = None
    """The service's ``data_ops_service_name``, when a read before the PUT (or a dry run's) showed it."""

    def to_dict(self) -> dict[str, Any]:
        """JSON data (``diff`` and ``service_name`` only when set)."""
        data: dict[str, Any] = {
            "data_ops_service_id": self.data_ops_service_id,
            "outcome": str(self.outcome),
            "final_state": self.final_state,
            "error": self.error.to_dict() if self.error else None,
            "attempts": self.attempts,
            "polls": self.polls,
            "batch": self.batch,
            "place": self.place,
            "durations": {
                "accept": _round(self.accept_seconds),
                "settle": _round(self.settle_seconds),
                "total": _round(self.total_seconds),
            },
            "resumed": self.resumed,
        }
        if self.diff is not None:
            data["diff"] = [c.to_dict() for c in self.diff]
        if self.service_name is not None:
            data["service_name"] = self.service_name
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemReport:
        """Inverse of ``to_dict``."""
        durations = data.get("durations") or {}
        error = data.get("error")
        diff = data.get("diff")
        return cls(
            data_ops_service_id=str(data["data_ops_service_id"]),
            outcome=Outcome(data["outcome"]),
            final_state=data.get("final_state"),
            error=ErrorInfo.from_dict(error) if error else None,
            attempts=int(data.get("attempts", 0)),
            polls=int(data.get("polls", 0)),
            batch=data.get("batch"),
            place=data.get("place"),
            accept_seconds=durations.get("accept"),
            settle_seconds=durations.get("settle"),
            total_seconds=durations.get("total"),
            resumed=bool(data.get("resumed", False)),
            diff=tuple(Change.from_dict(c) for c in diff) if diff is not None else None,
            service_name=data.get("service_name"),
        )


@attrs.frozen
class FleetReport:
    """The whole run: every target exactly once (in the order the targets were met), with summary counts."""

    items: tuple[ItemReport, ...]
    stopped: StopReason = attrs.field(converter=StopReason, default=StopReason.COMPLETED)
    dry_run: bool = False
    elapsed_seconds: float = 0.0
    concurrency: int | Literal["auto"] = 0
    peak_in_flight: int = 0
    mean_concurrency: float | None = None
    """The time-weighted mean of the concurrency limit (``concurrency="auto"``: the adaptive limit) over the run."""
    throttled_requests: int = 0
    """Requests the server throttled during the run (429, 417, 503 with ``Retry-After``), retried or not."""
    error: str | None = None
    warnings: tuple[str, ...] = ()
    error_kind: str | None = None
    """The ``ErrorInfo.kind`` of ``error`` (e.g. ``authentication``), so a caller can tell bad credentials apart."""

    @property
    def counts(self) -> dict[str, int]:
        """Targets per outcome, every outcome present (zero when none)."""
        counts = dict.fromkeys((str(o) for o in Outcome), 0)
        for item in self.items:
            counts[str(item.outcome)] += 1
        return counts

    @property
    def total(self) -> int:
        """How many targets the run met."""
        return len(self.items)

    @property
    def ok(self) -> bool:
        """True when the run completed and every target succeeded or was unchanged (a dry run: every target could
        be read)."""
        if self.stopped is not StopReason.COMPLETED or self.error is not None:
            return False
        if self.dry_run:
            return all(i.outcome is Outcome.NOT_STARTED for i in self.items)
        return all(i.outcome in SUCCESS_OUTCOMES for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        """JSON data: ``summary`` (counts, total, stop reason, timings) and ``items``."""
        return {
            "summary": {
                "total": self.total,
                "counts": self.counts,
                "ok": self.ok,
                "stopped": str(self.stopped),
                "dry_run": self.dry_run,
                "elapsed_seconds": _round(self.elapsed_seconds),
                "concurrency": self.concurrency,
                "peak_in_flight": self.peak_in_flight,
                "mean_concurrency": self.mean_concurrency,
                "throttled_requests": self.throttled_requests,
                "error": self.error,
                "error_kind": self.error_kind,
                "warnings": list(self.warnings),
            },
            "items": [i.to_dict() for i in self.items],
        }

    def to_json(self, *, indent: bool = False) -> bytes:
        """The report as JSON bytes."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 if indent else 0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetReport:
        """Inverse of ``to_dict``."""
        summary = data["summary"]
        return cls(
            items=tuple(ItemReport.from_dict(i) for i in data["items"]),
            stopped=StopReason(summary["stopped"]),
            dry_run=bool(summary["dry_run"]),
            elapsed_seconds=float(summary["elapsed_seconds"] or 0.0),
            concurrency="auto" if summary["concurrency"] == "auto" else int(summary["concurrency"]),
            peak_in_flight=int(summary["peak_in_flight"]),
            mean_concurrency=summary.get("mean_concurrency"),
            throttled_requests=int(summary.get("throttled_requests", 0)),
            error=summary.get("error"),
            warnings=tuple(summary.get("warnings", ())),
            error_kind=summary.get("error_kind"),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
