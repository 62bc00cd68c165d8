"""The names of the 17 operations: route names, counter keys and ``FaultRule.operation`` values."""

from __future__ import annotations

from typing import Final

__all__ = ["MUTATING", "OPERATIONS", "UNKNOWN"]

OPERATIONS: Final = (
    "list_data_ops",
    "get_data_ops",
    "create_data_ops",
    "update_data_ops",
    "delete_data_ops",
    "check_data_ops_name",
    "image_versions",
    "ingress_controllers",
    "list_services",
    "get_service",
    "create_service",
    "update_service",
    "delete_service",
    "check_service_name",
    "validate_resources_create",
    "validate_resources_update",
    "sub_versions",
)

#: Operations that change state (their faults fire before the change, except ``drop_after_apply``).
MUTATING: Final = frozenset(
    {"create_data_ops", "update_data_ops", "delete_data_ops", "create_service", "update_service", "delete_service"}
)

#: The operation name of a request that matched no route.
UNKNOWN: Final = "unknown"
