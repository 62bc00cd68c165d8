"""Between Airflow's world (templated dicts, JSON XComs and trigger events) and the SDK's models.

``to_service_update`` validates a dict as strictly as a fleet plan's ``update`` (workload values are strings:
``{"replica": 3}`` is an error, not a silent conversion). ``service_data`` turns a ``Service`` into JSON data for
XCom: attribute names, datetimes as ISO 8601 strings, no ``None`` fields, no unknown server fields and never the
account password.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from aiodataops import Service, ServiceUpdate
from aiodataops.fleet import parse_plan

__all__ = ["service_data", "to_service_update"]

_LEFT_OUT = frozenset({"extra", "account_password"})


def to_service_update(service_id: str, update: ServiceUpdate | Mapping[str, Any]) -> ServiceUpdate:
    """A ``ServiceUpdate`` as given, or one validated from a dict; raises ``PlanError`` naming each bad field."""
    if isinstance(update, ServiceUpdate):
        return update
    if not isinstance(update, Mapping):
        raise TypeError(f"update: expected a dict or a ServiceUpdate, got {type(update).__name__}")
    plan = parse_plan({"update": dict(update), "targets": [service_id]})
    return plan.targets[0].update


def service_data(service: Service) -> dict[str, Any]:
    """JSON data of a service for XCom and trigger events (no secrets, no unknown fields)."""
    data = _plain(service)
    assert isinstance(data, dict)
    return data


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.name in _LEFT_OUT or item is None:
                continue
            out[field.name] = _plain(item)
        return out
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
