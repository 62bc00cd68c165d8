"""What a resource's ``state`` string means for a wait (API.md, "States").

No state enum is published and casing differs between SCP services (``RUNNING``, ``Running``), so a state is an
open, case-insensitive string. Only the states below have a meaning; anything else is ``UNKNOWN``, which keeps a
wait polling (and is reported) rather than failing it.
"""

from __future__ import annotations

import enum

__all__ = ["FAILED_STATES", "GONE_STATES", "SETTLED_STATES", "StateClass", "classify", "normalize"]

SETTLED_STATES = frozenset({"RUNNING", "ACTIVE"})
FAILED_STATES = frozenset({"ERROR", "FAILED"})
# A deleted resource usually answers 404; these states say the same thing when it is still listed for a while.
GONE_STATES = frozenset({"TERMINATED", "DELETED"})


class StateClass(enum.Enum):
    """How a wait treats a state."""

    SETTLED = "settled"
    """Done and usable: RUNNING, ACTIVE."""
    FAILED = "failed"
    """Ended badly: ERROR, FAILED. A wait fails at once (if the read is not stale)."""
    IN_PROGRESS = "in_progress"
    """Still changing: CREATING, UPDATING, EDITING, UPGRADING, TERMINATING, DELETING and any other ``-ING``."""
    GONE = "gone"
    """No longer exists: TERMINATED, DELETED (a delete's goal, like a 404)."""
    UNKNOWN = "unknown"
    """Anything else, including no state at all: keep polling and report it."""


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
    if key in SETTLED_STATES:
        return StateClass.SETTLED
    if key in FAILED_STATES:
        return StateClass.FAILED
    if key in GONE_STATES:
        return StateClass.GONE
    if key.endswith("ING"):
        return StateClass.IN_PROGRESS
    return StateClass.UNKNOWN
