"""What a fleet journal says: its records read back into a ``JournalState`` (header, intents, acceptances, ends).

The record format is described in ``_journal``; this module checks each record's shape as it reads it (a damaged
line or a header with fields of the wrong shape is a ``JournalError`` naming it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from aiodataops._waiting import WaitToken
from aiodataops.fleet._journal_errors import JournalError
from aiodataops.fleet._report import ItemReport

if TYPE_CHECKING:
    import os

__all__ = ["JOURNAL_VERSION", "Intent", "JournalState", "apply_record", "file_stamp", "start_state"]

JOURNAL_VERSION = 1


@attrs.frozen
class Intent:
    """A PUT was about to be sent at wall time ``at`` (seconds since the epoch) with ``update`` (wire JSON);
    ``before``: the service's prior values of the fields it sets (dotted paths), when the journal recorded them."""

    update: Mapping[str, Any]
    at: float
    before: Mapping[str, Any] | None = None


@attrs.define
class JournalState:
    """What a journal says about a run: its header and, per service, the last thing recorded."""

    header: dict[str, Any]
    intents: dict[str, Intent] = attrs.Factory(dict)
    accepted: dict[str, WaitToken] = attrs.Factory(dict)
    ended: dict[str, ItemReport] = attrs.Factory(dict)
    records: int = 0
    valid_length: int = 0
    truncated: bool = False
    stamp: tuple[int, ...] = attrs.field(default=(), eq=False, repr=False)
    """The file as it was read (device, inode, size, mtime): a run that takes the journal over re-reads it only
    when this no longer matches, so a state read before taking the lock is used as is when nothing changed."""

    @property
    def reattach(self) -> dict[str, WaitToken]:
        """Services accepted but not ended: follow them, never PUT them again."""
        return {sid: acc for sid, acc in self.accepted.items() if sid not in self.ended}

    @property
    def unconfirmed(self) -> dict[str, Intent]:
        """Services whose PUT may or may not have reached the server (intent without acceptance or end)."""
        return {
            sid: intent for sid, intent in self.intents.items() if sid not in self.accepted and sid not in self.ended
        }


def file_stamp(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def start_state(record: dict[str, Any], name: str) -> JournalState:
    if record["type"] != "header":
        raise JournalError(f"{name}: the first record is not a header; is this a fleet journal?")
    version = record.get("version")
    if version != JOURNAL_VERSION:
        raise JournalError(f"{name}: journal format {version!r} is not supported (this is format {JOURNAL_VERSION})")
    problem = _header_problem(record)
    if problem:
        raise JournalError(f"{name}: line 1 (header record) is damaged: {problem}")
    return JournalState(header=record)


def _header_problem(header: dict[str, Any]) -> str | None:
    """What is wrong with a header's fields (as a hand edit could leave them), or ``None``."""
    plan = header.get("plan")
    if plan is not None:
        if not isinstance(plan, dict):
            return f"plan must be an object or null, not {_kind(plan)}"
        for key, expected in (("data", dict), ("path", str), ("sha256", str)):
            value = plan.get(key)
            if (value is not None or key == "data") and not isinstance(value, expected):
                wanted = "an object" if expected is dict else "a string"
                return f"plan.{key} must be {wanted}, not {_kind(value)}"
    options = header.get("options")
    if options is not None and not isinstance(options, dict):
        return f"options must be an object, not {_kind(options)}"
    endpoint = header.get("endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        return f"endpoint must be a string or null, not {_kind(endpoint)}"
    return None


def _kind(value: object) -> str:
    """A JSON value's kind, for a message (never the value: a hand-edited file could hold anything)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def apply_record(state: JournalState, record: dict[str, Any], name: str, number: int) -> None:
    kind = record["type"]
    sid = record.get("id")
    try:
        if kind == "intent":
            before = record.get("before")
            if before is not None and not (isinstance(before, dict) and all(isinstance(k, str) for k in before)):
                raise TypeError("before")  # noqa: TRY301 -- reported as a damaged line, like every other shape
            first = state.intents.get(str(sid))
            if first is not None and first.before is not None:
                before = first.before  # the image read before the first PUT is the one to put back
            state.intents[str(sid)] = Intent(update=dict(record["update"]), at=float(record["t"]), before=before)
        elif kind == "accepted":
            state.accepted[str(sid)] = WaitToken.from_dict(record["token"])
        elif kind == "ended":
            item = ItemReport.from_dict(record["item"])
            state.ended[item.data_ops_service_id] = item
        # "resumed" and record types from later versions carry nothing needed to resume.
    except (KeyError, TypeError, ValueError):
        raise JournalError(f"{name}: line {number} ({kind} record) is damaged") from None
