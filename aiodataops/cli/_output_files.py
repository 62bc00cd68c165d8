"""Files the commands write besides the journal: the JSON report, created private (mode 0600)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiodataops.fleet import FleetReport

__all__ = ["write_report"]


def write_report(report: FleetReport, path: str) -> None:
    """Write the JSON report to ``path``, created mode 0600 (it lists the fleet's ids and states)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(report.to_json(indent=True) + b"\n")
    finally:
        os.close(fd)
