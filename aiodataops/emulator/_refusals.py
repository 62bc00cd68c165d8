"""What the emulator's tables refuse, one exception per kind of answer; ``_middlewares`` answers each."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiodataops.emulator._validate import Problem

__all__ = ["BadQueryError", "BusyError", "InvalidError", "MissingError", "StoreError", "UnknownIdError"]


class StoreError(Exception):
    """A request the store refuses; ``_middlewares._translate`` turns each kind into its envelope."""


class MissingError(StoreError):
    """An unknown id (404)."""

    def __init__(self, object_type: str, object_id: str) -> None:
        super().__init__(f"{object_type} {object_id} not found")
        self.object_type = object_type
        self.object_id = object_id


class UnknownIdError(StoreError):
    """An unknown or malformed id on a detail, sub-versions or ingress-controller GET: 400, as the live API answers
    (reference, "[LIVE] Observations"), with a detail saying the id was not found."""

    def __init__(self, object_type: str, object_id: str) -> None:
        super().__init__(f"{object_type} {object_id} not found")
        self.object_type = object_type
        self.object_id = object_id


class BusyError(StoreError):
    """The resource is in the middle of another change, or a name is taken (409)."""


class InvalidError(StoreError):
    """Values the API refuses (400 with a list of problems)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _ in problems))
        self.problems = problems


class BadQueryError(StoreError):
    """A path or query parameter the API refuses (400)."""
