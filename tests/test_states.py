"""Classification of state strings for waits (API.md, "States")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiodataops._states import StateClass, classify, normalize


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("RUNNING", StateClass.SETTLED),
        ("Running", StateClass.SETTLED),
        ("running", StateClass.SETTLED),
        ("ACTIVE", StateClass.SETTLED),
        ("ERROR", StateClass.FAILED),
        ("Failed", StateClass.FAILED),
        ("CREATING", StateClass.IN_PROGRESS),
        ("Updating", StateClass.IN_PROGRESS),
        ("EDITING", StateClass.IN_PROGRESS),
        ("UPGRADING", StateClass.IN_PROGRESS),
        ("TERMINATING", StateClass.IN_PROGRESS),
        ("DELETING", StateClass.IN_PROGRESS),
        ("SYNCHRONIZING", StateClass.IN_PROGRESS),
        ("Migrating", StateClass.IN_PROGRESS),
        ("TERMINATED", StateClass.GONE),
        ("Deleted", StateClass.GONE),
        ("STOPPED", StateClass.ENDED),
        ("Undeployed", StateClass.ENDED),
        ("STARTING", StateClass.IN_PROGRESS),
        ("STOPPING", StateClass.IN_PROGRESS),
        ("RESTARTING", StateClass.IN_PROGRESS),
        ("UNKNOWN", StateClass.UNKNOWN),
        ("HIBERNATED", StateClass.UNKNOWN),
        ("", StateClass.UNKNOWN),
        (None, StateClass.UNKNOWN),
    ],
)
def test_known_states_are_classified_case_insensitively(state: str | None, expected: StateClass) -> None:
    """Each documented state maps to its class whatever its casing; unlisted states are UNKNOWN."""
    assert classify(state) is expected


def test_surrounding_whitespace_is_ignored() -> None:
    """A state padded with spaces classifies like the bare state."""
    assert classify("  Running \n") is StateClass.SETTLED
    assert normalize(" updating ") == "UPDATING"


@given(st.one_of(st.none(), st.text()))
def test_classify_never_raises_and_ignores_case(state: str | None) -> None:
    """Any string (or None) classifies without error, and upper/lower casing never changes the class."""
    result = classify(state)
    assert isinstance(result, StateClass)
    if state is not None and state.upper().lower() == state.lower() and state.lower().upper() == state.upper():
        assert classify(state.lower()) is classify(state.upper())
