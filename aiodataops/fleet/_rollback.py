"""Rolling a run back: the inverse plan, built from the before-images a journal's ``intent`` records carry.

Which services: those whose update the server accepted (they ended succeeded, failed or timed out after an
``accepted`` record) and those in flight when the run stopped (an ``intent`` and no end: the PUT may have landed).
A service that failed before acceptance, was ``unchanged`` or never started is left alone. What: for each, exactly
the fields its update set, back to the values its before-image recorded; a field that had no value before, or a
secret (recorded as ``"changed"``), cannot be put back and is named in a warning instead. A before-image that names
a field the update did not set means the journal was edited: refused, as are a journal with no before-images (an
older version wrote it) and one of a dry run, before any request.

``not_before`` is when each rollout PUT was about to be sent: the rollback's first read of that service must prove
itself newer (``_target``), so that a stale read from before the rollout never makes it look already rolled back.
The rollback journal's header records it (``rollback``), so a resumed rollback keeps the rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import attrs

from aiodataops.fleet._diff import is_secret, leaves, nest
from aiodataops.fleet._journal import JournalError
from aiodataops.fleet._plan import Plan, PlanError, parse_plan

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiodataops.fleet._journal import Intent, JournalState

__all__ = ["Inverse", "inverse_plan", "not_before_of", "rollback_journal_path"]


@attrs.frozen
class Inverse:
    """A rollback to run: its ``plan`` (``None``: nothing to roll back), each service's ``not_before``, and
    ``warnings`` naming what cannot be put back."""

    plan: Plan | None
    not_before: dict[str, dt.datetime]
    warnings: tuple[str, ...] = ()

    def header(self, of: str) -> dict[str, Any]:
        """What the rollback journal's header records (``rollback``), so that a resume keeps ``not_before``."""
        return {"rollback": {"of": of, "not_before": {sid: t.timestamp() for sid, t in self.not_before.items()}}}


def rollback_journal_path(journal: str) -> str:
    """The default journal of a rollback: next to the first, ``run.jsonl`` -> ``run.rollback.jsonl``."""
    return journal.removesuffix(".jsonl") + ".rollback.jsonl"


def not_before_of(header: Mapping[str, Any]) -> dict[str, dt.datetime]:
    """The ``not_before`` a rollback journal's header recorded (empty for any other journal)."""
    recorded = header.get("rollback")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("not_before"), dict):
        return {}
    return {
        str(sid): dt.datetime.fromtimestamp(t, tz=dt.UTC)
        for sid, t in recorded["not_before"].items()
        if isinstance(t, int | float) and not isinstance(t, bool)
    }


def inverse_plan(state: JournalState, name: str) -> Inverse:
    """The rollback of the run ``state`` holds; ``JournalError`` if it cannot be rolled back (see the docstring)."""
    header = state.header
    if not header.get("before_images"):
        raise JournalError(
            f"{name}: this journal holds no before-images (an older aiodataops wrote it), so there is nothing to "
            "roll back to"
        )
    if (header.get("options") or {}).get("dry_run"):
        raise JournalError(f"{name}: the journal of a dry run, which changed nothing; there is nothing to roll back")
    targets: list[dict[str, Any]] = []
    not_before: dict[str, dt.datetime] = {}
    left: defaultdict[str, list[str]] = defaultdict(list)
    for sid, intent in state.intents.items():
        if sid not in state.accepted and sid in state.ended:
            continue  # ended without acceptance: the server never took the update
        restore = _restore(sid, intent, name, left)
        if restore:
            targets.append({"data_ops_service_id": sid, "update": nest(restore)})
            not_before[sid] = dt.datetime.fromtimestamp(intent.at, tz=dt.UTC)
    warnings = tuple(
        f"{what}; left as is: {ids[0]}" + (f" and {len(ids) - 1} more" if len(ids) > 1 else "")
        for what, ids in left.items()
    )
    if not targets:
        return Inverse(None, {}, warnings)
    try:
        plan = parse_plan({"targets": targets}, path=f"{name} (rollback)")
    except PlanError as exc:
        raise JournalError(f"{name}: its before-images do not make a valid update: {exc}") from None
    return Inverse(plan, not_before, warnings)


def _restore(sid: str, intent: Intent, name: str, left: defaultdict[str, list[str]]) -> dict[str, Any]:
    """The fields of one service to put back (dotted paths); what cannot be put back is added to ``left``."""
    if intent.before is None:
        left["no before-image was recorded"].append(sid)
        return {}
    touched = leaves(intent.update)
    restore: dict[str, Any] = {}
    for path, value in intent.before.items():
        if path not in touched:
            raise JournalError(
                f"{name}: the before-image of {sid} names {path}, a field its update did not set; the journal "
                "was edited and cannot be trusted"
            )
        if is_secret(path):
            left[f"{path} is a secret, never recorded"].append(sid)
        elif value is None:
            left[f"{path} had no value before"].append(sid)
        else:
            restore[path] = value
    return restore
