"""Poll an accepted change until the resource settles, and say honestly how it ended.

A ``202 Accepted`` only means accepted. ``wait_accepted`` (or ``wait_settled``) polls ``get(resource_id)`` with the
backoff of a ``PollPolicy`` until the state settles, fails, ends, vanishes or the deadline passes.

**The settle rule.** A read counts (as settled, failed or ended) only if it is at least as new as the accepted
change: its ``modified_dt`` is no older than the 202's ``modified_dt``, or than that of an in-progress read seen
since, whichever is older. Without a 202 body (``Accepted.body`` is ``None``), a read also counts when its
``modified_dt`` is no older than the moment the request was sent (``Accepted.sent_at``), once an in-progress state
(an ``-ING`` state) has been read since the change, or once ``policy.stale_grace`` has passed. Then RUNNING/ACTIVE
settles (when an update is given, once the read shows its fields), ERROR/FAILED fails at once
(``WaitFailedError``), STOPPED/UNDEPLOYED (and TERMINATED/DELETED, except for a delete) end the wait at once
(``WaitEndedError``: terminal, but neither success nor failure), and any other state keeps the wait polling (a
state never seen before is reported as an ``"unknown"`` event, never fatal).

Older reads are reported as ``"stale"`` events and polled past: the API may answer the pre-change snapshot for a
while after the 202. A create needs no proof (before a create there is nothing to read but a 404) and rides out
404s until the new resource is first readable (for up to ``policy.stale_grace``); otherwise more than
``policy.max_not_found`` 404s in a row mean it vanished. A delete settles on a 404, on a TERMINATED/DELETED state,
or on a 400 once a deletion in progress (TERMINATING/DELETING) has been seen since the delete was accepted: the
live API answers 400 for an unknown id on detail reads (a 400 before that is an error and propagates).

Cancelling a wait cancels the one ``get`` or sleep it is awaiting; it starts no tasks of its own, so nothing is
left behind. The change itself is not undone: cancelling stops local polling only.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, cast, get_args

import attrs

from aiodataops._accepted import Accepted, Operation, ResourceKind
from aiodataops._clock import Clock, SystemClock
from aiodataops._errors import (
    BadRequestError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
    WaitEndedError,
    WaitError,
    WaitFailedError,
    WaitTimeoutError,
    WaitTransientError,
    WaitVanishedError,
)
from aiodataops._plural import plural
from aiodataops._polling import PollPolicy, RandomSource
from aiodataops._protocols import Readable, WaitClient
from aiodataops._states import DELETION_STATES, StateClass, classify, normalize
from aiodataops._token import WaitToken
from aiodataops._watch import Watch, watch_settled
from aiodataops._wire import format_datetime

__all__ = [
    "Accepted",
    "EventKind",
    "Operation",
    "Readable",
    "ResourceKind",
    "StateEvent",
    "WaitClient",
    "WaitEndedError",
    "WaitToken",
    "Watch",
    "resume_wait",
    "wait_accepted",
    "wait_settled",
    "watch_settled",
]

EventKind = Literal["change", "unknown", "stale", "not_found", "transient", "throttled", "settled"]
"""``change``: the state differs from the last one seen; ``unknown``: it changed to a state this SDK does not
know; ``stale``: a settled or failed read predates the change (or does not show the update yet) and was ignored;
``not_found``, ``transient``, ``throttled``: a poll failed and the wait goes on; ``settled``: the wait ends
successfully."""

# A timer may wake a hair before the instant it was set for; do not spend one more poll on that hair.
_DEADLINE_SLACK = 0.001

R = TypeVar("R", bound=Readable)


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


@attrs.define
class _Progress:
    """Mutable bookkeeping of one wait."""

    resource_id: str
    operation: Operation
    policy: PollPolicy
    clock: Clock
    on_event: Callable[[StateEvent], object] | None
    needs_proof: bool
    """Whether reads must be proven newer than the change (an update or a delete, not a create)."""
    floor: dt.datetime | None
    """Reads whose ``modified_dt`` is older do not count (see ``floor_from_server``)."""
    floor_from_server: bool
    """True when ``floor`` is a ``modified_dt`` the server gave (a 202 body, an in-progress read): a read older
    than it never counts. False when it is the client's send time: an older read may still count by the other
    proofs (the two clocks may disagree)."""
    started: float
    elapsed_offset: float
    last_state: str | None
    """The state last read, stale or not: what an error reports."""
    last_body: Any
    shown_state: str | None = None
    """The state last reported to ``on_event``: stale reads never move it, so followers see no flicker."""
    polls: int = 0
    in_progress_seen: bool = False
    deletion_seen: bool = False
    stale_reads: int = 0
    invisible: str | None = None
    """What the last fresh settled read did not show of the update yet (``None`` once it shows it)."""
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

    def is_fresh(self, read: Readable) -> tuple[bool, str]:
        """Whether a read can count, and why not when it cannot."""
        if not self.needs_proof:
            return True, ""
        mdt = read.modified_dt
        why = "no modified_dt to compare"
        if self.floor is not None and mdt is not None:
            if mdt >= self.floor:
                return True, ""
            if self.floor_from_server:
                return False, f"modified_dt {format_datetime(mdt)} predates the change ({format_datetime(self.floor)})"
            why = f"modified_dt {format_datetime(mdt)} predates the request ({format_datetime(self.floor)})"
        if self.in_progress_seen:
            return True, ""
        if self.elapsed() >= self.policy.stale_grace:
            return True, ""
        return False, f"{why} and no in-progress state seen since the change"

    def note_in_progress(self, read: Readable) -> None:
        """An in-progress read proves the server has the change; its modified_dt is a floor for later reads."""
        self.in_progress_seen = True
        mdt = read.modified_dt
        if mdt is not None and (self.floor is None or not self.floor_from_server or mdt < self.floor):
            self.floor = mdt
            self.floor_from_server = True


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
    (``wait_accepted`` takes an ``Accepted`` and knows all of this by itself.) ``on_event`` is called synchronously
    with each ``StateEvent``; an exception it raises ends the wait. Raises ``WaitFailedError``, ``WaitEndedError``,
    ``WaitTimeoutError``, ``WaitVanishedError`` or ``WaitTransientError``, each carrying the last state and body
    seen, the seconds waited and the polls made; other API errors (401, 403, 400, a response that does not fit the
    model) propagate unchanged, as retrying cannot fix them.
    """
    if operation not in get_args(Operation):
        raise ValueError(f"operation must be one of create, update, delete; got {operation!r}")
    policy = policy or PollPolicy()
    changed = accepted if accepted is not None else after is not None
    return await _wait(
        get,
        resource_id,
        operation=operation,
        floor=after.modified_dt if after is not None else None,
        floor_from_server=True,
        accepted_state=after.state if after is not None else None,
        needs_proof=operation == "delete" or (operation == "update" and changed),
        after=after,
        policy=policy,
        on_event=on_event,
        clock=clock or SystemClock(),
        rng=rng,
        time_left=policy.deadline,
        elapsed_offset=0.0,
        poll_at_once=not changed,
        visible=None,
    )


async def wait_accepted(
    get: Callable[[str], Awaitable[R]],
    accepted: Accepted[Any],
    *,
    policy: PollPolicy | None = None,
    on_event: Callable[[StateEvent], object] | None = None,
    clock: Clock | None = None,
    rng: RandomSource | None = None,
    visible: Callable[[R], str | None] | None = None,
) -> R | None:
    """Poll ``get`` until the change ``accepted`` describes settles; return the settled read (``None``: delete).

    The settle rule (module docstring) follows from ``accepted``: its body's ``modified_dt`` is the bar when it had
    a body, else its ``sent_at``, an in-progress state or the stale grace prove a read. ``visible``, when given,
    is asked about each fresh settled read: ``None`` when it shows the change, else what it does not show yet; the
    wait then keeps polling (a ``"stale"`` event) and, at the deadline, says the update is not visible.
    """
    return await accepted_wait(get, accepted, policy=policy, on_event=on_event, clock=clock, rng=rng, visible=visible)


def accepted_wait(
    get: Callable[[str], Awaitable[R]],
    accepted: Accepted[Any],
    *,
    policy: PollPolicy | None = None,
    on_event: Callable[[StateEvent], object] | None = None,
    clock: Clock | None = None,
    rng: RandomSource | None = None,
    visible: Callable[[R], str | None] | None = None,
) -> Awaitable[R | None]:
    """``wait_accepted`` as the wait's own coroutine, for callers inside the SDK that await it at once: one
    coroutine less for every await of every poll (``Resource``'s waits). Raises ``ValueError`` when called."""
    operation = accepted.operation
    if operation not in get_args(Operation):
        raise ValueError(f"operation must be one of create, update, delete; got {operation!r}")
    policy = policy or PollPolicy()
    body = cast("Readable | None", accepted.body)
    body_floor = body.modified_dt if body is not None else None
    return _wait(
        get,
        accepted.resource_id,
        operation=operation,
        floor=body_floor if body_floor is not None else accepted.sent_at,
        floor_from_server=body_floor is not None,
        accepted_state=body.state if body is not None else None,
        needs_proof=operation != "create",
        after=accepted.body,
        policy=policy,
        on_event=on_event,
        clock=clock or SystemClock(),
        rng=rng,
        time_left=policy.deadline,
        elapsed_offset=0.0,
        poll_at_once=False,
        visible=visible,
    )


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
    ``policy`` (default: the client's) supplies backoff and tolerances; its ``deadline`` is not used. A token made
    for a change accepted without a body resumes with the same proof rule (``sent_at``, in-progress, grace).
    """
    resources = client.services if token.kind == "service" else client.data_ops
    now = wall()
    started = token.started_at.timestamp()
    server_floor = token.accepted_modified_dt
    return await _wait(
        resources.get,
        token.resource_id,
        operation=token.operation,
        floor=server_floor if server_floor is not None else token.sent_at,
        floor_from_server=server_floor is not None,
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
        visible=None,
    )


def _final(cls: StateClass, operation: Operation) -> bool:
    """Whether a (fresh) read in this class ends the wait: anything terminal, except what a delete goes through."""
    if operation == "delete":
        return cls in (StateClass.FAILED, StateClass.GONE)
    return cls in (StateClass.SETTLED, StateClass.FAILED, StateClass.GONE, StateClass.ENDED)


async def _wait(  # noqa: C901, PLR0912, PLR0915 -- one loop reads best as one decision table
    get: Callable[[str], Awaitable[R]],
    resource_id: str,
    *,
    operation: Operation,
    floor: dt.datetime | None,
    floor_from_server: bool,
    accepted_state: str | None,
    needs_proof: bool,
    after: Any,
    policy: PollPolicy,
    on_event: Callable[[StateEvent], object] | None,
    clock: Clock,
    rng: RandomSource | None,
    time_left: float,
    elapsed_offset: float,
    poll_at_once: bool,
    visible: Callable[[R], str | None] | None,
) -> R | None:
    progress = _Progress(
        resource_id=resource_id,
        operation=operation,
        policy=policy,
        clock=clock,
        on_event=on_event,
        needs_proof=needs_proof,
        floor=floor,
        floor_from_server=floor_from_server,
        started=clock.now(),
        elapsed_offset=elapsed_offset,
        last_state=accepted_state,
        last_body=after,
        shown_state=accepted_state,
        deletion_seen=operation == "delete" and normalize(accepted_state) in DELETION_STATES,
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
            now = clock.now()  # one reading for both: the pause's elapsed time and the deadline's
            pause = policy.pause(
                step, progress.elapsed_offset + (now - progress.started), retry_after=retry_after, rng=rng
            )
            await clock.sleep(min(pause, max(0.0, deadline - now)))
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
        except BadRequestError:
            # The live API answers 400 for an id it does not know. After a deletion was seen under way, that is
            # the deletion done; any other time it is a real error, and retrying cannot fix it.
            if operation == "delete" and progress.deletion_seen:
                progress.emit("settled", None, "400 after the deletion was seen under way: deleted")
                return None
            raise
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
            key = normalize(state)
            if key in DELETION_STATES:
                progress.deletion_seen = True
            final = _final(cls, operation)
            # A delete's goal needs no proof: no state from before the delete says TERMINATED or DELETED.
            needs_check = final and not (operation == "delete" and cls is StateClass.GONE)
            fresh, why = progress.is_fresh(read) if needs_check else (True, "")
            if fresh and final and cls is StateClass.SETTLED and visible is not None:
                missing = visible(read)
                progress.invisible = missing
                if missing is not None:
                    fresh, why = False, f"settled, but the update is not visible yet: {missing}"
            progress.last_state = state
            progress.last_body = read
            if not fresh:
                # A read older than the change says nothing about it: report it as stale only, and leave the
                # state followers see alone, so the old state never flickers back in as a "change".
                progress.stale_reads += 1
                progress.emit("stale", state, why)
            else:
                if key != normalize(progress.shown_state):
                    progress.emit("unknown" if cls is StateClass.UNKNOWN else "change", state)
                    progress.shown_state = state
                if cls is StateClass.IN_PROGRESS:
                    if needs_proof:
                        progress.note_in_progress(read)
                elif final and operation == "delete" and cls is StateClass.GONE:
                    progress.emit("settled", state)
                    return None
                elif final and cls is StateClass.SETTLED:
                    progress.emit("settled", state)
                    return read
                elif final and cls is StateClass.FAILED:
                    raise progress.fail(WaitFailedError, f"{operation} ended in state {state}")
                elif final:
                    raise progress.fail(
                        WaitEndedError, f"{operation} ended in state {state}, which is neither settled nor failed"
                    )
        if clock.now() >= deadline - _DEADLINE_SLACK:
            message = f"not settled within {time_left:.1f}s"
            if progress.invisible is not None:
                message += f"; the update is not visible in the settled reads ({progress.invisible})"
            elif progress.stale_reads and not progress.in_progress_seen:
                message += f"; {plural(progress.stale_reads, 'read')} predated the accepted change"
            raise progress.fail(WaitTimeoutError, message, progress.last_error)
