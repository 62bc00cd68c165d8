"""Fleet updates: change many Data Ops services at once, bounded, batched, budgeted, journaled and resumable.

``report = await client.fleet.apply(load_plan("plan.yaml"), concurrency=32, batches=[1, 10, "25%"])``; see
``Fleet.apply`` for every option, ``_plan`` for the plan format, ``_engine`` for how a run works, ``_target`` for
one target's life (read first and converge, PUT, look before a resend, wait) and how it resumes, ``_rollback`` for
``client.fleet.rollback(journal)`` (the inverse plan from the journal's before-images).
"""

from aiodataops.fleet._amount import Amount
from aiodataops.fleet._batches import Batches, parse_batches
from aiodataops.fleet._events import (
    Baking,
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    EventCallback,
    FleetEnded,
    FleetEvent,
    FleetStarted,
    PaceChanged,
    Stopping,
    TargetAccepted,
    TargetEnded,
    TargetsResolved,
    TargetStarted,
    TargetStateChanged,
)
from aiodataops.fleet._fleet import Fleet
from aiodataops.fleet._journal import JournalError, JournalInUseError, JournalState, JournalWriteError, read_journal
from aiodataops.fleet._plan import Plan, PlanError, ResolvedTarget, Selector, Target, load_plan, parse_plan
from aiodataops.fleet._report import Change, ErrorInfo, ErrorKind, FleetReport, ItemReport, Outcome, StopReason

__all__ = [
    "Amount",
    "Baking",
    "BatchEnded",
    "BatchStarted",
    "Batches",
    "BudgetExceeded",
    "Change",
    "ErrorInfo",
    "ErrorKind",
    "EventCallback",
    "Fleet",
    "FleetEnded",
    "FleetEvent",
    "FleetReport",
    "FleetStarted",
    "ItemReport",
    "JournalError",
    "JournalInUseError",
    "JournalState",
    "JournalWriteError",
    "Outcome",
    "PaceChanged",
    "Plan",
    "PlanError",
    "ResolvedTarget",
    "Selector",
    "StopReason",
    "Stopping",
    "Target",
    "TargetAccepted",
    "TargetEnded",
    "TargetStarted",
    "TargetStateChanged",
    "TargetsResolved",
    "load_plan",
    "parse_batches",
    "parse_plan",
    "read_journal",
]
