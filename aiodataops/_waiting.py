"""Poll an accepted change until the resource settles, and say honestly how it ended.

A ``202 Accepted`` only means accepted. ``wait_settled`` polls ``get(resource_id)`` with the backoff of a
``PollPolicy`` until the state settles, fails, vanishes or the deadline passes.

**The settle rule.** A read counts (as settled, or as failed) only if it is at least as new as the accepted
change: its ``modified_dt`` is no older than the 202's ``modified_dt``, or than that of an in-progress read seen
since, whichever is older. When ``modified_dt`` cannot be compared, a read counts once an in-progress state (an
``-ING`` state) has been read since the change, or once ``policy.stale_grace`` has passed. Then RUNNING/ACTIVE
settles, ERROR/FAILED fails at once, and any other state keeps the wait polling (a state never seen before is
reported as an ``"unknown"`` event, never fatal).

Older reads are reported as ``"stale"`` events and polled past: the API may answer the pre-change snapshot for a
while after the 202. Without an accepted body (``after=None``) on an update, and always for a create (before a
create there is nothing to read but a 404), the first settled read settles. A delete settles on a 404 or on a
TERMINATED/DELETED state. A create rides out 404s until the new resource is first readable (for up to
``policy.stale_grace``); otherwise more than ``policy.max_not_found`` 404s in a row mean it vanished.

Cancelling a wait cancels the one ``get`` or sleep it is awaiting; it starts no tasks of its own, so nothing is
left behind. The change itself is not undone: cancelling stops local polling only.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, cast, get_args

import anyio
import attrs

from aiodataops._clock import Clock, SystemClock
from aiodataops._errors import (
    NotFoundError,
    ResponseShapeError,
    ServerError,
    ThrottledError,
    TransportError,
    WaitError,
    WaitFailedError,
    WaitTimeoutError,
    WaitTransientError,
    WaitVanishedError,
)
from aiodataops._polling import PollPolicy, RandomSource
from aiodataops._states import StateClass, classify, normalize
from aiodataops._wire import dumps, format_datetime, loads, parse_datetime

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream

    from aiodataops._models import DataOps, Service

__all__ = [
    "EventKind",
    "Operation",
    "ResourceKind",
    "StateEvent",
    "WaitToken",
    "Watch",
    "resume_wait",
    "wait_settled",
    "watch_settled",
]

Operation = Literal["create", "update", "delete"]
ResourceKind = Literal["service", "data_ops"]
EventKind = Literal["change", "unknown", "stale", "not_found", "transient", "throttled", "settled"]
"""``change``: the state differs from the last one seen; ``unknown``: it changed to a state this SDK does not
know; ``stale``: a settled or failed read predates the change and was ignored; ``not_found``, ``transient``,
``throttled``: a poll failed and the wait goes on; ``settled``: the wait ends successfully."""

_TOKEN_VERSION = 1
# A timer may wake a hair before the instant it was set for; do not spend one more poll on that hair.
_DEADLINE_SLACK = 0.001


class Resource(Protocol):
    """What a wait reads: a model with a ``state`` and a ``modified_dt`` (``Service``, ``DataOps``)."""

    @property
    def state(self) -> str | None: ...

    @property
    def modified_dt(self) -> dt.datetime | None: ...


R = TypeVar("R", bound=Resource)


@attrs.frozen
class StateEvent:
    """Something a wait noticed: a state change, a stale or failed read, or the end."""

    resource_id: str
    old_state: str | None
    """The state seen before this poll (the 202 body's, before the first read)."""
    new_state: str | None
    """The state this poll read (``None`` when the poll failed or the resource is gone)."""
    elapsed: float
    """Seconds since the change was accepted (since the wait started, without a token)."""
    polls: int
    """Polls made so far, this one included."""
    kind: EventKind
    detail: str | None = None
    """A short human explanation (why a read was stale, which error a poll met); never holds a secret."""


# -- tokens ---------------------------------------------------------------------------------------------------


def _utc_from_epoch(seconds: float) -> dt.datetime:
    # Milliseconds, as the token's JSON keeps them, so a token equals itself after a round trip.
    exact = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return exact.replace(microsecond=exact.microsecond // 1000 * 1000)


def _kind_of(model: object) -> ResourceKind:
    if hasattr(model, "data_ops_service_id"):
        return "service"
    if hasattr(model, "data_ops_id"):
        return "data_ops"
    raise TypeError(f"cannot tell the resource kind of {type(model).__name__}; pass kind=")


@attrs.frozen
class WaitToken:
    """Everything a new process needs to resume a wait: small, JSON, never a pickle.

    Make one right after the 202 with ``WaitToken.start``, store ``to_json()`` (a journal line), and later
    ``await resume_wait(WaitToken.from_json(text), client)``.
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

    @classmethod
    def start(
        cls,
        resource_id: str,
        *,
        kind: ResourceKind,
        operation: Operation = "update",
        after: Resource | None = None,
        policy: PollPolicy | None = None,
        wall: Callable[[], float] = time.time,
    ) -> WaitToken:
        """Make a token for a change accepted now; the deadline is ``policy.deadline`` from now."""
        now = wall()
        return cls(
            resource_id=resource_id,
            kind=kind,
            operation=operation,
            accepted_modified_dt=after.modified_dt if after is not None else None,
            accepted_state=after.state if after is not None else None,
            started_at=_utc_from_epoch(now),
            deadline_at=_utc_from_epoch(now + (policy or PollPolicy()).deadline),
        )

    @classmethod
    def for_accepted(
        cls,
        after: Service | DataOps,
        *,
        operation: Operation = "update",
        policy: PollPolicy | None = None,
        wall: Callable[[], float] = time.time,
    ) -> WaitToken:
        """Make a token from a 202 body (a ``Service`` or ``DataOps``); its id and kind come from the body."""
        return cls.start(after.id, kind=_kind_of(after), operation=operation, after=after, policy=policy, wall=wall)

    def to_json(self) -> str:
        """Serialise to one line of JSON (a journal line), times as ISO 8601 UTC with milliseconds."""
        mdt = self.accepted_modified_dt
        return dumps(
            {
                "v": _TOKEN_VERSION,
                "resource_id": self.resource_id,
                "kind": self.kind,
                "operation": self.operation,
                "accepted_modified_dt": format_datetime(mdt) if mdt is not None else None,
                "accepted_state": self.accepted_state,
                "started_at": format_datetime(self.started_at),
                "deadline_at": format_datetime(self.deadline_at),
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> WaitToken:
        """Read a token written by ``to_json``; a bad token raises ``ValueError`` naming the field."""
        try:
            data = loads(text)
        except ResponseShapeError as exc:
            raise ValueError(f"wait token is not JSON: {exc.problem}") from None
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


# -- the wait -------------------------------------------------------------------------------------------------


@attrs.define
class _Progress:
    """Mutable bookkeeping of one wait."""

    resource_id: str
    operation: Operation
    policy: PollPolicy
    clock: Clock
    on_event: Callable[[StateEvent], object] | None
    needs_proof: bool
    """Whether reads must be proven newer than the change (update with a 202 body; delete)."""
    floor: dt.datetime | None
    started: float
    elapsed_offset: float
    last_state: str | None
    """The state last read, stale or not: what an error reports."""
    last_body: Any
    shown_state: str | None = None
    """The state last reported to ``on_event``: stale reads never move it, so followers see no flicker."""
    polls: int = 0
    in_progress_seen: bool = False
    stale_reads: int = 0
    last_error: BaseException | None = None

    def elapsed(self) -> float:
        return self.elapsed_offset + (self.clock.now() - self.started)

    def emit(self, kind: EventKind, new_state: str | None, detail: str | None = None) -> None:
        if self.on_event is not None:
            self.on_event(
                StateEvent(
                    resource_id=self.resource_id,
                    old_state=self.shown_state,
                    new_state=new_state,
                    elapsed=self.elapsed(),
                    polls=self.polls,
                    kind=kind,
                    detail=detail,
                )
            )

    def fail(self, cls: type[WaitError], message: str, cause: BaseException | None = None) -> WaitError:
        error = cls(
            message,
            resource_id=self.resource_id,
            last_state=self.last_state,
            last_body=self.last_body,
            elapsed=self.elapsed(),
            polls=self.polls,
            cause=cause,
        )
        if cause is not None:
            error.__cause__ = cause
        return error

    def is_fresh(self, read: Resource) -> tuple[bool, str]:
        """Whether a read can count, and why not when it cannot."""
        if not self.needs_proof:
            return True, ""
        mdt = read.modified_dt
        if self.floor is not None and mdt is not None:
            if mdt >= self.floor:
                return True, ""
            return False, f"modified_dt {format_datetime(mdt)} predates the change ({format_datetime(self.floor)})"
        if self.in_progress_seen:
            return True, ""
        if self.elapsed() >= self.policy.stale_grace:
            return True, ""
        return False, "no modified_dt to compare and no in-progress state seen since the change"

    def note_in_progress(self, read: Resource) -> None:
        """An in-progress read proves the server has the change; its modified_dt is a floor for later reads."""
        self.in_progress_seen = True
        mdt = read.modified_dt
        if mdt is not None and (self.floor is None or mdt < self.floor):
            self.floor = mdt


async def wait_settled(
    get: Callable[[str], Awaitable[R]],
    resource_id: str,
    *,
    after: R | None = None,
    operation: Operation = "update",
    policy: PollPolicy | None = None,
    on_event: Callable[[StateEvent], object] | None = None,
    clock: Clock | None = None,
    rng: RandomSource | None = None,
    accepted: bool | None = None,
) -> R | None:
    """Poll ``get(resource_id)`` until the accepted change settles; return the settled read (``None`` for delete).

    ``after`` is the 202 body of the change (or ``None``); see the module docstring for the settle rule.
    ``accepted`` says whether a change was accepted just before this wait (default: whether ``after`` is given):
    when a 202 came without a usable body, pass ``accepted=True`` and no ``after`` (never a GET made after the 202,
    which may itself be stale), and reads must then prove themselves by an in-progress state or the stale grace.
    ``on_event`` is called synchronously with each ``StateEvent``; an exception it raises ends the wait. Raises
    ``WaitFailedError``, ``WaitTimeoutError``, ``WaitVanishedError`` or ``WaitTransientError``, each carrying the
    last state and body seen, the seconds waited and the polls made; other API errors (401, 403, 400, a response
    that does not fit the model) propagate unchanged, as retrying cannot fix them.
    """
    if operation not in get_args(Operation):
        raise ValueError(f"operation must be one of create, update, delete; got {operation!r}")
    policy = policy or PollPolicy()
    clock = clock or SystemClock()
    changed = accepted if accepted is not None else after is not None
    return await _wait(
        get,
        resource_id,
        operation=operation,
        accepted_modified_dt=after.modified_dt if after is not None else None,
        accepted_state=after.state if after is not None else None,
        needs_proof=operation == "delete" or (operation == "update" and changed),
        after=after,
        policy=policy,
        on_event=on_event,
        clock=clock,
        rng=rng,
        time_left=policy.deadline,
        elapsed_offset=0.0,
        poll_at_once=not changed,
    )


class Watch(Generic[R]):
    """The events of one running wait as an async iterator; ``result`` holds the outcome once they end.

    Iterating ends when the wait ends; if the wait failed, the ``WaitError`` is raised from the ``async for``.
    """

    def __init__(self, events: MemoryObjectReceiveStream[StateEvent]) -> None:
        self._events = events
        self._done = False
        self._result: R | None = None
        self._error: BaseException | None = None

    def __aiter__(self) -> AsyncIterator[StateEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StateEvent]:
        async with self._events:
            async for event in self._events:
                yield event
        if self._error is not None:
            raise self._error

    @property
    def result(self) -> R | None:
        """The settled resource (``None`` after a delete); raises the wait's error, or if it is still running."""
        if not self._done:
            raise RuntimeError("the wait has not finished: iterate its events to the end first")
        if self._error is not None:
            raise self._error
        return self._result


@asynccontextmanager
async def watch_settled(
    get: Callable[[str], Awaitable[R]],
    resource_id: str,
    *,
    after: R | None = None,
    operation: Operation = "update",
    policy: PollPolicy | None = None,
    clock: Clock | None = None,
    rng: RandomSource | None = None,
    accepted: bool | None = None,
) -> AsyncIterator[Watch[R]]:
    """Run ``wait_settled`` in the background and yield its events as an async stream.

    ``async with watch_settled(get, sid, after=accepted) as watch: async for event in watch: ...``; then
    ``watch.result``. Leaving the block early cancels the wait: no task outlives the ``async with``.
    """
    # Unbounded on purpose: a wait makes at most a few events per poll, and a slow reader must not slow polling.
    send, receive = anyio.create_memory_object_stream[StateEvent](math.inf)
    watch: Watch[R] = Watch(receive)

    async def run() -> None:
        async with send:
            try:
                watch._result = await wait_settled(  # noqa: SLF001 -- Watch is this function's own result holder
                    get,
                    resource_id,
                    after=after,
                    operation=operation,
                    policy=policy,
                    on_event=send.send_nowait,
                    clock=clock,
                    rng=rng,
                    accepted=accepted,
                )
            except Exception as exc:  # noqa: BLE001 -- handed to the reader, who re-raises it from its loop
                watch._error = exc  # noqa: SLF001 -- see above
            # Not in a finally: a cancelled wait has no outcome, and ``result`` must keep saying so.
            watch._done = True  # noqa: SLF001 -- see above

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            try:
                yield watch
            finally:
                group.cancel_scope.cancel()
                receive.close()
    except BaseExceptionGroup as group_error:
        # ``run`` never raises, so whatever is here came from the caller's block: give it back unwrapped.
        if len(group_error.exceptions) == 1:
            raise group_error.exceptions[0] from None
        raise


class _Resources(Protocol):
    async def get(self, resource_id: str, /) -> Any: ...


class WaitClient(Protocol):
    """The parts of ``DataOpsClient`` that ``resume_wait`` uses."""

    @property
    def services(self) -> _Resources: ...

    @property
    def data_ops(self) -> _Resources: ...

    @property
    def poll_policy(self) -> PollPolicy: ...

    @property
    def clock(self) -> Clock: ...


async def resume_wait(
    token: WaitToken,
    client: WaitClient,
    *,
    policy: PollPolicy | None = None,
    on_event: Callable[[StateEvent], object] | None = None,
    clock: Clock | None = None,
    rng: RandomSource | None = None,
    wall: Callable[[], float] = time.time,
) -> Any:
    """Resume (or start) the wait a token describes, with any client; polls at once, keeps the token's deadline.

    The token's wall-clock deadline holds: if it passed while nothing was waiting, one last poll decides.
    ``policy`` (default: the client's) supplies backoff and tolerances; its ``deadline`` is not used.
    """
    resources = client.services if token.kind == "service" else client.data_ops
    now = wall()
    started = token.started_at.timestamp()
    return await _wait(
        resources.get,
        token.resource_id,
        operation=token.operation,
        accepted_modified_dt=token.accepted_modified_dt,
        accepted_state=token.accepted_state,
        needs_proof=token.operation != "create",
        after=None,
        policy=policy or client.poll_policy,
        on_event=on_event,
        clock=clock or client.clock,
        rng=rng,
        time_left=max(0.0, token.deadline_at.timestamp() - now),
        elapsed_offset=max(0.0, now - started),
        poll_at_once=True,
    )


async def _wait(  # noqa: C901, PLR0912, PLR0915 -- one loop reads best as one decision table
    get: Callable[[str], Awaitable[R]],
    resource_id: str,
    *,
    operation: Operation,
    accepted_modified_dt: dt.datetime | None,
    accepted_state: str | None,
    needs_proof: bool,
    after: R | None,
    policy: PollPolicy,
    on_event: Callable[[StateEvent], object] | None,
    clock: Clock,
    rng: RandomSource | None,
    time_left: float,
    elapsed_offset: float,
    poll_at_once: bool,
) -> R | None:
    progress = _Progress(
        resource_id=resource_id,
        operation=operation,
        policy=policy,
        clock=clock,
        on_event=on_event,
        needs_proof=needs_proof,
        floor=accepted_modified_dt,
        started=clock.now(),
        elapsed_offset=elapsed_offset,
        last_state=accepted_state,
        last_body=after,
        shown_state=accepted_state,
    )
    deadline = progress.started + time_left
    not_found = 0
    transient = 0
    seen = False
    retry_after: float | None = None
    step = 0
    first = True
    while True:
        if not (first and poll_at_once):
            pause = policy.delay(step, retry_after=retry_after, rng=rng)
            await clock.sleep(min(pause, max(0.0, deadline - clock.now())))
            step += 1
        first = False
        retry_after = None
        progress.polls += 1
        try:
            read = await get(resource_id)
        except NotFoundError as exc:
            if operation == "delete":
                progress.emit("settled", None, "404: deleted")
                return None
            transient = 0
            progress.last_error = exc
            if operation == "create" and not seen and progress.elapsed() < policy.stale_grace:
                # A resource just created may not be readable yet: that is not "vanished".
                progress.emit("not_found", None, "404: not readable yet")
            else:
                not_found += 1
                progress.emit("not_found", None, f"404 ({not_found} in a row)")
                if not_found > policy.max_not_found:
                    raise progress.fail(WaitVanishedError, f"answered 404 {not_found} times in a row", exc) from exc
        except ThrottledError as exc:
            # Throttling is the server pacing us, not failing: wait it out within the deadline.
            retry_after = exc.retry_after
            progress.last_error = exc
            progress.emit("throttled", None, f"429, retry after {retry_after}s" if retry_after else "429")
        except (TransportError, ServerError) as exc:
            transient += 1
            not_found = 0
            retry_after = getattr(exc, "retry_after", None)
            progress.last_error = exc
            progress.emit("transient", None, f"{type(exc).__name__} ({transient} in a row)")
            if transient > policy.max_transient_errors:
                raise progress.fail(
                    WaitTransientError, f"{transient} transient errors in a row, last: {exc}", exc
                ) from exc
        else:
            seen = True
            not_found = 0
            transient = 0
            progress.last_error = None
            state = read.state
            cls = classify(state)
            gone_for_delete = cls is StateClass.GONE and operation == "delete"
            final = (
                cls in (StateClass.SETTLED, StateClass.FAILED, StateClass.GONE)
                and not gone_for_delete
                and not (operation == "delete" and cls is StateClass.SETTLED)
            )
            fresh, why = progress.is_fresh(read) if final else (True, "")
            progress.last_state = state
            progress.last_body = read
            if not fresh:
                # A read older than the change says nothing about it: report it as stale only, and leave the
                # state followers see alone, so the old state never flickers back in as a "change".
                progress.stale_reads += 1
                progress.emit("stale", state, why)
            else:
                if normalize(state) != normalize(progress.shown_state):
                    progress.emit("unknown" if cls is StateClass.UNKNOWN else "change", state)
                    progress.shown_state = state
                if cls is StateClass.IN_PROGRESS:
                    if needs_proof:
                        progress.note_in_progress(read)
                elif gone_for_delete:
                    progress.emit("settled", state)
                    return None
                elif final and cls is StateClass.SETTLED:
                    progress.emit("settled", state)
                    return read
                elif final and cls is StateClass.FAILED:
                    raise progress.fail(WaitFailedError, f"{operation} ended in state {state}")
                elif final:
                    raise progress.fail(WaitVanishedError, f"state {state} while waiting for {operation}")
        if clock.now() >= deadline - _DEADLINE_SLACK:
            message = f"not settled within {time_left:.1f}s"
            if progress.stale_reads and not progress.in_progress_seen:
                message += f"; {progress.stale_reads} reads predated the accepted change"
            raise progress.fail(WaitTimeoutError, message, progress.last_error)
