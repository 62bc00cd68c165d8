"""Checks of request values beyond their JSON types (those are the converter's job), as the real API makes them.

Each problem is ``(location, message, type)`` with the location in FastAPI's form (``["body", "field", ...]``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aiodataops._models import (
        HostAlias,
        HostAliasGroup,
        ServiceCreate,
        ServiceUpdate,
        ServiceWorkload,
        Workload,
    )

__all__ = [
    "NAME_PATTERN",
    "Problem",
    "check_host_alias",
    "check_host_alias_groups",
    "check_name",
    "check_not_empty",
    "check_service_create",
    "check_service_update",
    "check_workload",
    "cpu_demand",
]

Problem = tuple[tuple[str | int, ...], str, str]

#: Service names (API.md); data ops names are held to the same rule (a guess).
NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
NAME_MIN: Final = 3
NAME_MAX: Final = 15

_NUMBER: Final = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_INTEGER: Final = re.compile(r"^[0-9]+$")
#: The roles a create must size (the userguide: web server, scheduler and worker are mandatory).
_ROLES: Final = ("scheduler", "web_server", "worker")
#: Every role a workload may size: Airflow's DAG processor is optional (the 1.2 create model).
_ALL_ROLES: Final = (*_ROLES, "dag_processor")
_FIELDS: Final = ("cpu", "memory", "replica", "version")


def check_name(value: str, loc: tuple[str | int, ...]) -> list[Problem]:
    """A name must be 3-15 characters matching ``^[a-z][a-z0-9-]*[a-z0-9]$``."""
    if not NAME_MIN <= len(value) <= NAME_MAX:
        return [
            (loc, f"must be {NAME_MIN} to {NAME_MAX} characters long, got {len(value)}", "value_error.any_str.length")
        ]
    if not NAME_PATTERN.match(value):
        message = f"must match {NAME_PATTERN.pattern} (lowercase letters, digits and '-', starting with a letter)"
        return [(loc, message, "value_error.str.regex")]
    return []


def check_not_empty(value: str, loc: tuple[str | int, ...]) -> list[Problem]:
    """A required string must not be empty or blank."""
    if not value.strip():
        return [(loc, "must not be empty", "value_error.missing")]
    return []


def check_workload(workload: ServiceWorkload, loc: tuple[str | int, ...], *, complete: bool) -> list[Problem]:
    """Check every role's values; with ``complete`` every role and field must be present (a create)."""
    problems: list[Problem] = []
    for role in _ALL_ROLES:
        part: Workload | None = getattr(workload, role)
        if part is None:
            if complete and role in _ROLES:
                problems.append(((*loc, role), "Field required", "value_error.missing"))
            continue
        for field in _FIELDS:
            value: str | None = getattr(part, field)
            where = (*loc, role, field)
            if value is None:
                if complete:
                    problems.append((where, "Field required", "value_error.missing"))
            else:
                problems.extend(_check_workload_value(field, value, where))
    return problems


def _check_workload_value(field: str, value: str, where: tuple[str | int, ...]) -> list[Problem]:
    if field == "version":
        return check_not_empty(value, where)
    if field == "replica":
        if not _INTEGER.match(value) or int(value) < 1:
            return [(where, f"must be a whole number of at least 1 as a string, got {value!r}", "value_error.number")]
        return []
    if not _NUMBER.match(value) or float(value) <= 0:
        return [(where, f"must be a positive number as a string, got {value!r}", "value_error.number")]
    return []


def _check_ip(ip: str, loc: tuple[str | int, ...]) -> list[Problem]:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return [(loc, f"must be an IP address, got {ip!r}", "value_error.ipvanyaddress")]
    return []


def check_host_alias(alias: HostAlias, loc: tuple[str | int, ...]) -> list[Problem]:
    """Each entry needs a hostname and an IP address."""
    problems: list[Problem] = []
    for index, entry in enumerate(alias.host_alias_list):
        problems.extend(check_not_empty(entry.hostname, (*loc, "host_alias_list", index, "hostname")))
        problems.extend(_check_ip(entry.ip, (*loc, "host_alias_list", index, "ip")))
    return problems


def check_host_alias_groups(groups: Iterable[HostAliasGroup], loc: tuple[str | int, ...]) -> list[Problem]:
    """Each data ops host alias group needs an IP address and at least one hostname."""
    problems: list[Problem] = []
    for index, group in enumerate(groups):
        if not group.hostnames:
            problems.append(((*loc, index, "hostnames"), "must not be empty", "value_error.list.min_items"))
        problems.extend(_check_ip(group.ip, (*loc, index, "ip")))
    return problems


def check_service_create(request: ServiceCreate) -> list[Problem]:
    """Every value problem of a service create request."""
    problems = check_name(request.data_ops_service_name, ("body", "data_ops_service_name"))
    problems += check_not_empty(request.storage_class_name, ("body", "storage_class_name"))
    problems += check_not_empty(request.domain, ("body", "domain"))
    problems += check_workload(request.service_workload, ("body", "service_workload"), complete=True)
    problems += check_host_alias(request.host_alias, ("body", "host_alias"))
    if request.tags:
        for index, tag in enumerate(request.tags):
            problems += check_not_empty(tag.tag_key, ("body", "tags", index, "tag_key"))
    return problems


def check_service_update(request: ServiceUpdate) -> list[Problem]:
    """Every value problem of a service update request (absent fields are not checked: they do not change)."""
    problems: list[Problem] = []
    if request.service_workload is not None:
        problems += check_workload(request.service_workload, ("body", "service_workload"), complete=False)
    if request.host_alias is not None:
        problems += check_host_alias(request.host_alias, ("body", "host_alias"))
    if request.domain is not None:
        problems += check_not_empty(request.domain, ("body", "domain"))
    return problems


def cpu_demand(workload: dict[str, dict[str, str]] | ServiceWorkload | None) -> float:
    """Return the vCores a workload asks for: the sum over roles of cpu times replicas."""
    if workload is None or isinstance(workload, str):
        return 0.0
    total = 0.0
    for role in _ALL_ROLES:
        part = workload.get(role) if isinstance(workload, dict) else getattr(workload, role)
        if part is None:
            continue
        cpu = part.get("cpu") if isinstance(part, dict) else part.cpu
        replica = part.get("replica") if isinstance(part, dict) else part.replica
        if cpu and replica and _NUMBER.match(cpu) and _INTEGER.match(replica):
            total += float(cpu) * int(replica)
    return total
