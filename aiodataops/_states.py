"""What a resource's ``state`` string means for a wait (the documented state enum, reference "States").

Documented states: ACTIVE, CREATING, RUNNING, ERROR, TERMINATING, DELETED, UPDATING, STOPPED, STARTING, STOPPING,
RESTARTING, TERMINATED, EDITING, DELETING, UNDEPLOYED. Casing differs between SCP services (``RUNNING``,
``Running``), so a state is compared case-insensitively, and the set stays open: a state not listed here (and not
ending in ``-ING``) is ``UNKNOWN``, which keeps a wait polling (and is reported) rather than failing it.
"""

from __future__ import annotations

import enum

__all__ = [
    "DELETION_STATES",
    "ENDED_STATES",
    "FAILED_STATES",
    "GONE_STATES",
    "SETTLED_STATES",
    "StateClass",
    "classify",
    "normalize",
]

SETTLED_STATES = frozenset({"RUNNING", "ACTIVE"})
FAILED_STATES = frozenset({"ERROR", "FAILED"})
# A deleted resource usually answers 404; these states say the same thing when it is still listed for a while.
GONE_STATES = frozenset({"TERMINATED", "DELETED"})
# Terminal, but neither what a change asked for nor a failure: the resource is there and will not move on its own.
ENDED_STATES = frozenset({"STOPPED", "UNDEPLOYED"})
# A deletion under way: once read after a delete, a 400 for the id means it is gone (see ``_waiting``).
DELETION_STATES = frozenset({"TERMINATING", "DELETING"})


class StateClass(enum.Enum):
    """How a wait treats a state."""

    SETTLED = "settled"
    """Done and usable: RUNNING, ACTIVE."""
    FAILED = "failed"
    """Ended badly: ERROR, FAILED. A wait fails at once (if the read is not stale)."""
    IN_PROGRESS = "in_progress"
    """Still changing: CREATING, UPDATING, EDITING, STARTING, STOPPING, RESTARTING, TERMINATING, DELETING and any
    other ``-ING``."""
    GONE = "gone"
    """No longer exists: TERMINATED, DELETED (a delete's goal, like a 404; the end of any other wait)."""
    ENDED = "ended"
    """Terminal but neither success nor failure: STOPPED, UNDEPLOYED. A wait for a change ends at once
    (``WaitEndedError``), as it would never settle."""
    UNKNOWN = "unknown"
    """Anything else, including no state at all: keep polling and report it."""


_CLASSES: dict[str, StateClass] = {
    **dict.fromkeys(SETTLED_STATES, StateClass.SETTLED),
    **dict.fromkeys(FAILED_STATES, StateClass.FAILED),
    **dict.fromkeys(GONE_STATES, StateClass.GONE),
    **dict.fromkeys(ENDED_STATES, StateClass.ENDED),
}


def normalize(state: str | None) -> str | None:
    """Return the state in the one form used for comparisons: stripped and upper case (``None`` stays ``None``)."""
    if state is None:
        return None
    return state.strip().upper()


def classify(state: str | None) -> StateClass:
    """Classify a state string case-insensitively; a state never seen before is ``UNKNOWN``, never an error."""
    key = normalize(state)
    if not key:
        return StateClass.UNKNOWN
    known = _CLASSES.get(key)
    if known is not None:
        return known
    return StateClass.IN_PROGRESS if key.endswith("ING") else StateClass.UNKNOWN
