"""One target's life: PUT (looking before any resend), record the acceptance, wait; or follow a journal's token.

Per target: write an ``intent`` to the journal, ``put`` (with ``retry_sent=False``, so that the transport never
sends it again once it may have landed), record the acceptance (``WaitToken.for_accepted``: a body-less 202 keeps
its proof rule in the token), then ``wait_accepted`` until it settles and shows the update. The ``Accepted`` the
PUT returned is the only bar of that wait: never a GET made after it, which may be a stale read.

**Answers that leave doubt.** A PUT answered 409 (busy: somebody else's change, or a proxy's retry of this very
PUT after it landed), 5xx or nothing at all may have landed. Before sending it again the worker looks: it waits
for a read that proves itself newer than that PUT (a ``modified_dt`` no older than the moment it was sent, an
in-progress state since, or the stale grace passed since) and settled, and compares it with the update: an update
already in place is followed as accepted, never sent twice. The look's stale grace is the poll policy's, but at
most half the service's deadline, so that a resend still has time to settle: it prefers waiting (up to the grace,
when nothing else proves a read, e.g. after a 503 that changed nothing) to sending twice. That, up to
``put_retries`` times. A 429 was refused: it is sent again after the wait it asks for (capped by the poll policy's
``max_retry_after``), as often as the service's deadline allows.

**Resuming** (mode ``reattach``): an accepted target is followed with ``resume_wait`` and the journal's token,
keeping its deadline. Mode ``recover`` (an ``intent`` without an acceptance): the service is read first, and the
update is followed without a PUT if it is in place once the service settled, else sent. The remaining gap: a PUT
that landed and finished while reads still show the service as it was before (a stale read outlasting the update)
looks unsent to a resumed run and is sent a second time. The same comparison means an update that changes nothing
(the fields already hold those values) is reported succeeded without a PUT when it is recovered.

**Converging** (mode ``start``): the service is read before anything is sent, in the worker (so under the run's
concurrency and rate), and the read must settle first (an ``-ING`` state is waited out, as the look before a
resend waits). When ``run.not_before`` names the service (a rollback: the rollout's PUT was sent then), the read
must also prove itself newer than that moment, by the same rules as the look. If every field of the update holds
on a read that settled well, nothing is sent and the target is ``unchanged``; a read that ended in ERROR or
STOPPED is not trusted (the update is sent), nor is any read under ``force``. The read also gives the
before-image (``_diff.before_image``) the ``intent`` record carries, for ``rollback``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from aiodataops._accepted import Accepted, utc_now
from aiodataops._errors import (
    APIStatusError,
    ConflictError,
    ResponseShapeError,
    ServerError,
    ThrottledError,
    TransportError,
    WaitError,
    WaitFailedError,
    WaitVanishedError,
)
from aiodataops._models import Service, ServiceUpdate
from aiodataops._resource import Resource
from aiodataops._waiting import StateEvent, WaitEndedError, WaitToken, resume_wait
from aiodataops.fleet._diff import before_image, diff
from aiodataops.fleet._events import TargetAccepted, TargetStarted, TargetStateChanged
from aiodataops.fleet._journal import JournalError
from aiodataops.fleet._outcomes import error_info, outcome_of
from aiodataops.fleet._report import ErrorInfo, ItemReport, Outcome

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Awaitable, Callable

    from aiodataops._peek import Peek
    from aiodataops._polling import PollPolicy
    from aiodataops.fleet._run_state import RunState

__all__ = ["Attempt", "Mode", "Target", "Work"]

log = logging.getLogger("aiodataops.fleet")

Mode = Literal["start", "reattach", "recover"]


@attrs.frozen
class Work:
    """One target as a worker receives it."""

    seq: int
    service_id: str
    update: ServiceUpdate | None
    place: str | None
    batch: int | None
    mode: Mode = "start"
    token: WaitToken | None = None
    before: Mapping[str, Any] | None = None
    """A ``recover`` target's before-image, as its first ``intent`` recorded it (read before the first PUT)."""


@attrs.define
class Attempt:
    """What one worker learned about one target so far (read when it ends, also when it is aborted)."""

    work: Work
    started: float
    attempts: int = 0
    polls: int = 0
    accepted_at: float | None = None
    last_state: str | None = None
    name: str | None = None


def look_policy(policy: PollPolicy) -> PollPolicy:
    """The policy of a look before a resend: its stale grace at most half the deadline (see the docstring)."""
    return attrs.evolve(policy, stale_grace=min(policy.stale_grace, policy.deadline / 2))


class HaltedBeforeSendingError(Exception):
    """The PUT is not sent (the run halted while a throttled PUT waited to be sent again, or its intent could not
    be written to the journal): the target ends as not started."""


class Target:
    """Runs one target to its report line (``run``), with the run's client, policy, journal and events."""

    def __init__(self, run: RunState, attempt: Attempt) -> None:
        self.run = run
        self.attempt = attempt
        self.services = run.services
        # The decision (issue 13 item 4): building three whole ``Service`` models per target (the read before the
        # PUT, the 202 body, the settled read) was most of fleet.apply's CPU over plain aiohttp, and the fleet hands
        # none of them out: it reads a few fields of each. So, on the SDK's own client, each of those reads is
        # checked and built in exactly the fields the fleet reads: id, state, modified_dt, the fields the update
        # sets, the service's name (``Resource._settled_light``, ``_put_light``, ``_wait_light``, ``Peek.part``),
        # through the same converter as a whole model, so a misfit in any of them is still the ResponseShapeError
        # naming its path and fails the target. A misfit in a field the fleet never reads no longer does (get()
        # names it; tests/fleet/test_light_reads.py). Looks after a PUT that may have landed, a rollback's first
        # read and resumed waits still build whole models: they are rare, and some hand the model on.
        self.light: Resource[Service, Any, ServiceUpdate] | None = (
            run.services if isinstance(run.services, Resource) else None
        )
        self.policy = run.policy
        self.clock = run.clock
        self.unchanged = False

    async def report(self) -> ItemReport:
        """Update (or dry-run) the target; every ``Exception`` becomes its outcome, never anybody else's."""
        attempt = self.attempt
        work = attempt.work
        if self.run.listening:  # an event built per target costs even when nobody listens
            self.run.emit(TargetStarted(service_id=work.service_id, batch=work.batch, reattach=work.mode == "reattach"))
        try:
            if self.run.options.dry_run:
                return await self._dry_run()
            final = await self._update()
            if self.unchanged:
                return self.item(Outcome.UNCHANGED, final_state=final.state if final else attempt.last_state)
        except HaltedBeforeSendingError:
            outcome, error = self.run.not_started_outcome()
            return self.item(outcome, error=error)
        except Exception as exc:
            # One target's failure, whatever it is, is that target's outcome and nobody else's.
            if not isinstance(exc, WaitError | APIStatusError | TransportError | ResponseShapeError):
                log.exception("unexpected error while updating %s", work.service_id)
            if isinstance(exc, WaitError):
                attempt.polls = max(attempt.polls, exc.polls)
                attempt.last_state = exc.last_state
            return self.item(outcome_of(exc), error=error_info(exc))
        return self.item(Outcome.SUCCEEDED, final_state=final.state if final else attempt.last_state)

    def item(
        self,
        outcome: Outcome,
        *,
        final_state: str | None = None,
        error: ErrorInfo | None = None,
        changes: Any = None,
    ) -> ItemReport:
        """The target's report line as of now."""
        attempt = self.attempt
        now = self.clock.now()
        work = attempt.work
        return ItemReport(
            data_ops_service_id=work.service_id,
            outcome=outcome,
            final_state=final_state if final_state is not None else attempt.last_state,
            error=error,
            attempts=attempt.attempts,
            polls=attempt.polls,
            batch=work.batch,
            place=work.place,
            accept_seconds=attempt.accepted_at - attempt.started if attempt.accepted_at is not None else None,
            settle_seconds=now - attempt.accepted_at if attempt.accepted_at is not None else None,
            total_seconds=now - attempt.started,
            resumed=work.mode != "start",
            diff=changes,
            service_name=attempt.name,
        )

    async def _dry_run(self) -> ItemReport:
        work = self.attempt.work
        assert work.update is not None
        current = await self.services.get(work.service_id)
        self.attempt.last_state = current.state
        self.attempt.name = current.data_ops_service_name
        return self.item(Outcome.NOT_STARTED, final_state=current.state, changes=diff(current, work.update))

    def _on_wait_event(self) -> Callable[[StateEvent], None]:
        """The ``on_event`` of one wait: counts its polls on top of earlier waits', and reports state changes."""
        attempt = self.attempt
        run = self.run
        sid = attempt.work.service_id
        base = attempt.polls

        def on_wait_event(event: StateEvent) -> None:
            attempt.polls = max(attempt.polls, base + event.polls)
            if event.new_state is not None:
                attempt.last_state = event.new_state
            # Building an event costs per poll; skip it when nobody listens.
            if event.kind in ("change", "unknown") and run.listening:
                run.emit(
                    TargetStateChanged(
                        service_id=sid,
                        old=event.old_state,
                        new=event.new_state,
                        elapsed=event.elapsed,
                        polls=event.polls,
                    )
                )

        return on_wait_event

    async def _update(self) -> Service | Peek[Service] | None:
        attempt = self.attempt
        work = attempt.work
        journal = self.run.journal
        if work.mode == "reattach":
            assert work.token is not None
            attempt.last_state = work.token.accepted_state
            result: Service | Peek[Service] | None = await resume_wait(
                work.token, self.run.client, policy=self.policy, on_event=self._on_wait_event(), clock=self.clock
            )
            return result
        assert work.update is not None
        accepted: Accepted[Service] | None = None
        before = work.before
        if work.mode == "recover":
            # The PUT of a crashed run may or may not have landed: look before sending it again.
            accepted = await self._already_applied(work.update, None)
        else:
            current, trusted = await self._read_first()
            # Only the journal's intent record carries it, so it is not built without one.
            wire = self.run.wire(work.update)
            before = before_image(current, wire) if current is not None and journal is not None else None
            attempt.name = current.data_ops_service_name if current is not None else None
            if current is not None and trusted and not self.run.options.force and not diff(current, wire):
                self.unchanged = True
                attempt.last_state = current.state
                return current
        if accepted is None:
            if journal is not None:
                try:
                    await journal.intent(work.service_id, self.run.wire(work.update), before=before)
                except JournalError as exc:
                    # An intent must be durable before its PUT: this one is not, so its PUT is not sent, and the
                    # run halts (``RunState.journal_failed``); a resume starts the target.
                    self.run.journal_failed(exc)
                    raise HaltedBeforeSendingError from exc
            accepted = await self._put(work.update)
        if journal is not None:
            try:
                await journal.accepted(WaitToken.for_accepted(accepted, policy=self.policy))
            except JournalError as exc:
                # Accepted all the same: follow it to its end. Its intent is on disk, so a resume reads the service
                # before sending anything (mode ``recover``) and finds the update in place.
                self.run.journal_failed(exc)
        attempt.accepted_at = self.clock.now()
        attempt.last_state = accepted.state
        if self.run.listening:
            self.run.emit(
                TargetAccepted(
                    service_id=work.service_id,
                    state=accepted.state,
                    attempts=attempt.attempts,
                    elapsed=attempt.accepted_at - attempt.started,
                )
            )
        return await self._wait(accepted)

    def _wait(self, accepted: Accepted[Service]) -> Awaitable[Service | Peek[Service]]:
        """Follow the acceptance until the service settles and shows the update (lighter on the SDK's client).

        Not a coroutine of its own: the caller awaits the wait's, one level less on every await of every poll.
        """
        if self.light is not None:
            wire = self.run.wire(accepted.request) if accepted.request is not None else None
            return self.light._wait_light(accepted, policy=self.policy, on_event=self._on_wait_event(), wire=wire)  # noqa: SLF001 -- see __init__
        return self.services.wait_accepted(accepted, policy=self.policy, on_event=self._on_wait_event())

    async def _read_first(self) -> tuple[Service | None, bool]:
        """The service before any PUT, once it settled; and whether that read may say the update is in place.

        A read that ended in ERROR or STOPPED is returned (for its before-image) but not trusted; any other error
        (the wait timed out, 403) is the target's. A service not found is sent the PUT: its answer says why.
        """
        sid = self.attempt.work.service_id
        report_event = self._on_wait_event()

        def on_event(event: StateEvent) -> None:
            # The first read (no state before it) is no change of the service's: only what follows is reported.
            if event.old_state is not None or event.kind not in ("change", "unknown"):
                report_event(event)

        not_before = self.run.not_before.get(sid)
        try:
            if not_before is None and self.light is not None:
                update = self.attempt.work.update
                fields = (*(self.run.wire(update) if update is not None else ()), "data_ops_service_name")
                current = await self.light._settled_light(sid, fields, policy=self.policy, on_event=on_event)  # noqa: SLF001 -- see __init__
            elif not_before is None:
                current = await self.services.wait_settled(sid, after=None, policy=self.policy, on_event=on_event)
            else:
                # A change of ours was sent then (the rollout a rollback undoes): a read must prove itself newer.
                look: Accepted[Service] = Accepted(sid, "service", None, not_before)
                current = await self.services.wait_accepted(look, policy=look_policy(self.policy), on_event=on_event)
        except (WaitFailedError, WaitEndedError) as exc:
            return (exc.last_body if isinstance(exc.last_body, Service) else None), False
        except WaitVanishedError:
            # Not found, read after read: the PUT is sent all the same, and its own answer (a 404) is the
            # target's error, as it was before the read existed; if the service is there after all, it lands.
            return None, False
        return current, current is not None

    async def _put(self, update: ServiceUpdate) -> Accepted[Service]:
        """PUT until accepted; before sending again after an answer that leaves doubt, look whether it landed."""
        attempt = self.attempt
        sid = attempt.work.service_id
        retries = 0  # answers that leave doubt (409, 5xx, none): at most ``put_retries``
        throttled = 0  # 429s: bounded by the service's deadline only
        while True:
            attempt.attempts += 1
            sent_at = utc_now()
            try:
                # retry_sent=False: the transport must not send it again once it may have landed; this loop looks
                # first (a retried PUT after a lost answer could otherwise be accepted a second time).
                if self.light is not None:
                    return await self.light._put_light(sid, update, retry_sent=False)  # noqa: SLF001 -- see __init__
                return await self.services.put(sid, update, retry_sent=False)
            except ThrottledError as exc:
                # A 429 was refused, not applied: the server pacing us, as the waits treat it too, so it does not
                # use up ``put_retries`` (at high fault rates, counting it lost services to sheer bad luck). Wait
                # as told and send again, unless that wait would take the service past its deadline.
                throttled += 1
                # The poll policy's cap, not the transport's retry_after_cap: this loop paces itself like the waits
                # around it (its backoff comes from the same policy), and an hour-long hint must not hold a worker.
                delay = self.policy.delay(throttled, retry_after=exc.retry_after)
                if self.clock.now() - attempt.started + delay > self.policy.deadline:
                    raise
                if not await self.run.nap(delay):
                    # Stopped (Ctrl-C, budget, gate) while waiting to send again: refused so far, so never sent.
                    raise HaltedBeforeSendingError from exc
                continue
            except (ConflictError, ServerError, TransportError):
                # 409: another change is running, or this very PUT landed and a proxy's retry of it (HTTP lets a
                # proxy retry a PUT) was refused. 5xx or no answer: it may have landed all the same. Either way a
                # read must prove itself newer than this PUT before it can say the update is not in place.
                retries += 1
                if retries > self.run.options.put_retries:
                    raise
            applied = await self._already_applied(update, sent_at)
            if applied is not None:
                return applied
            await self.clock.sleep(self.policy.delay(retries))

    async def _already_applied(self, update: ServiceUpdate, doubt: dt.datetime | None) -> Accepted[Service] | None:
        """Wait for the service to stop changing; return it as accepted if ``update`` is in place, else ``None``.

        ``doubt``: when a PUT that may have landed was sent; reads must then prove themselves newer than it.
        """
        sid = self.attempt.work.service_id
        on_event = self._on_wait_event()
        current: Service | None
        try:
            if doubt is None:
                current = await self.services.wait_settled(sid, after=None, policy=self.policy, on_event=on_event)
            else:
                look: Accepted[Service] = Accepted(sid, "service", None, doubt)
                current = await self.services.wait_accepted(look, policy=look_policy(self.policy), on_event=on_event)
        except (WaitFailedError, WaitEndedError) as exc:
            # A change that ended in ERROR (or STOPPED): if it was this update, the wait after it says so.
            current = exc.last_body if isinstance(exc.last_body, Service) else None
        if current is not None and not diff(current, update):
            return Accepted(sid, "service", current, doubt or utc_now(), request=update)
        return None
