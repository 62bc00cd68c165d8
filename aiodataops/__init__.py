"""aiodataops: an asyncio SDK and command-line tool for Samsung Cloud Platform's Data Ops API (managed Airflow).

The fleet layer (``Fleet``, ``Plan``, ``load_plan``, ...; with PyYAML) loads on first use of one of its names, so
``import aiodataops`` stays light for code that only talks to the API. Every exported name reports itself as
``aiodataops.X`` (its ``__module__``), as httpx does: the private module it lives in is nobody's business.
"""

import importlib.metadata
import inspect
import typing
from typing import TYPE_CHECKING, Any

import attrs

from aiodataops._accepted import Accepted
from aiodataops._client import DataOpsClient
from aiodataops._clock import Clock, SystemClock, VirtualClock
from aiodataops._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    DataOpsError,
    GatewayRejectedError,
    IdNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RequestRejectedError,
    RequestTimeoutError,
    ResponseShapeError,
    ServerError,
    ThrottledError,
    TimeoutError_,
    TransportError,
    UnsupportedVersionError,
    WaitEndedError,
    WaitError,
    WaitFailedError,
    WaitTimeoutError,
    WaitTransientError,
    WaitVanishedError,
)
from aiodataops._models import (
    Account,
    DataOps,
    DataOpsCreate,
    DataOpsSummary,
    DataOpsUpdate,
    DuplicationCheck,
    HostAlias,
    HostAliasEntry,
    HostAliasGroup,
    ImageVersion,
    Page,
    ResourceCheck,
    ResourceCheckRequest,
    Service,
    ServiceCreate,
    ServiceSummary,
    ServiceUpdate,
    ServiceWorkload,
    SubVersions,
    SubVersionSet,
    Tag,
    Workload,
)
from aiodataops._paging import ListingError, PageIterator
from aiodataops._polling import PollPolicy
from aiodataops._retry import RetryBudget, RetryPolicy
from aiodataops._signing import Credentials, sign, signed_headers
from aiodataops._states import StateClass, classify
from aiodataops._timeouts import Timeouts
from aiodataops._waiting import StateEvent, WaitToken, Watch, resume_wait, wait_settled, watch_settled

if TYPE_CHECKING:
    from aiodataops.fleet import (
        ErrorKind,
        Fleet,
        FleetEvent,
        FleetReport,
        ItemReport,
        Outcome,
        Plan,
        PlanError,
        load_plan,
        parse_plan,
    )

__all__ = [
    "APIStatusError",
    "Accepted",
    "Account",
    "AuthenticationError",
    "BadRequestError",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "Credentials",
    "DataOps",
    "DataOpsClient",
    "DataOpsCreate",
    "DataOpsError",
    "DataOpsSummary",
    "DataOpsUpdate",
    "DuplicationCheck",
    "ErrorKind",
    "Fleet",
    "FleetEvent",
    "FleetReport",
    "GatewayRejectedError",
    "HostAlias",
    "HostAliasEntry",
    "HostAliasGroup",
    "IdNotFoundError",
    "ImageVersion",
    "ItemReport",
    "ListingError",
    "NotFoundError",
    "Outcome",
    "Page",
    "PageIterator",
    "PermissionDeniedError",
    "Plan",
    "PlanError",
    "PollPolicy",
    "RequestRejectedError",
    "RequestTimeoutError",
    "ResourceCheck",
    "ResourceCheckRequest",
    "ResponseShapeError",
    "RetryBudget",
    "RetryPolicy",
    "ServerError",
    "Service",
    "ServiceCreate",
    "ServiceSummary",
    "ServiceUpdate",
    "ServiceWorkload",
    "StateClass",
    "StateEvent",
    "SubVersionSet",
    "SubVersions",
    "SystemClock",
    "Tag",
    "ThrottledError",
    "TimeoutError_",
    "Timeouts",
    "TransportError",
    "UnsupportedVersionError",
    "VirtualClock",
    "WaitEndedError",
    "WaitError",
    "WaitFailedError",
    "WaitTimeoutError",
    "WaitToken",
    "WaitTransientError",
    "WaitVanishedError",
    "Watch",
    "Workload",
    "classify",
    "load_plan",
    "parse_plan",
    "resume_wait",
    "sign",
    "signed_headers",
    "wait_settled",
    "watch_settled",
]

#: The installed distribution's version (pyproject.toml is its one source).
__version__: str = importlib.metadata.version("aiodataops")

#: Names of the fleet layer, imported from ``aiodataops.fleet`` on first access.
_FLEET_NAMES = frozenset(
    {
        "ErrorKind",
        "Fleet",
        "FleetEvent",
        "FleetReport",
        "ItemReport",
        "Outcome",
        "Plan",
        "PlanError",
        "load_plan",
        "parse_plan",
    }
)


def _claim(value: Any) -> Any:
    """Make a public class or function report itself as ``aiodataops.X`` (an alias shares its object).

    Type hints written as strings are resolved against a class's module globals, found through ``__module__``:
    resolve them first (for attrs, cattrs and ``typing.get_type_hints``), while it still names the right module.
    """
    if isinstance(value, type):
        own = inspect.get_annotations(value)
        if any(isinstance(hint, str) for hint in own.values()):
            hints = typing.get_type_hints(value, include_extras=True)
            value.__annotations__ = {name: hints[name] for name in own}
        if attrs.has(value):
            attrs.resolve_types(value)
    elif not inspect.isfunction(value):
        return value  # a type alias such as FleetEvent (a union) has no module of its own
    value.__module__ = "aiodataops"
    return value


def __getattr__(name: str) -> Any:
    """Load the fleet layer on first use of one of its names."""
    if name in _FLEET_NAMES:
        from aiodataops import fleet  # noqa: PLC0415 -- the point: the fleet layer loads only when used

        value = globals()[name] = _claim(getattr(fleet, name))
        return value
    raise AttributeError(f"module 'aiodataops' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _FLEET_NAMES)


for _name in __all__:
    if _name not in _FLEET_NAMES:
        _claim(globals()[_name])
del _name
