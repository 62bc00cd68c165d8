"""``Accepted``: what the server said when it accepted a change, the one thing every "then wait" starts from.

``client.services.put(...)`` returns an ``Accepted``; ``client.services.wait_accepted(accepted)`` follows it to a
settled state; ``update_and_wait`` is the one, then the other (as openai-python's ``create_and_poll`` is ``create``
then ``poll``); the fleet engine and the journal's ``WaitToken`` use the same pair. An ``Accepted`` keeps apart
what a fresh GET after the 202 would blur: a 202 *with* a body (whose ``modified_dt`` is the bar reads must reach)
and a 202 *without* a usable one (empty, plain text, not the model, another id), after which a read must prove
itself newer than the change on its own: a ``modified_dt`` no older than the moment the request was sent, an
in-progress state read since, or the poll policy's ``stale_grace`` passed. A GET made after the 202 is never
taken as the accepted state: it may itself be a stale read of the state before the change.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Accepted", "Operation", "ResourceKind", "utc_now"]

Operation = Literal["create", "update", "delete"]
ResourceKind = Literal["service", "data_ops"]

D = TypeVar("D")


def utc_now(wall: Callable[[], float] = time.time) -> dt.datetime:
    """The wall time now, in UTC, to the millisecond (as the API's ``modified_dt`` and a token's JSON keep it)."""
    exact = dt.datetime.fromtimestamp(wall(), tz=dt.UTC)
    return exact.replace(microsecond=exact.microsecond // 1000 * 1000)


@attrs.frozen
class Accepted(Generic[D]):
    """A change the server accepted (a 2xx answer to a PUT, POST or DELETE), with its body when it had one."""

    resource_id: str
    kind: ResourceKind
    body: D | None
    """The answer as the resource model; ``None`` when the answer had no usable body."""
    sent_at: dt.datetime
    """Wall time (UTC, milliseconds) just before the request was sent: a read whose ``modified_dt`` is not older
    than this was made after the change reached the server."""
    operation: Operation = "update"
    request: Any = attrs.field(default=None, repr=False, eq=False)
    """The update that was sent (``ServiceUpdate``): a settled read must show its fields before a wait succeeds."""

    @property
    def state(self) -> str | None:
        """The state the answer carried (typically UPDATING), ``None`` without a body."""
        return getattr(self.body, "state", None)

    @property
    def modified_dt(self) -> dt.datetime | None:
        """The answer's ``modified_dt``, ``None`` without a body (or when it had none)."""
        return getattr(self.body, "modified_dt", None)
