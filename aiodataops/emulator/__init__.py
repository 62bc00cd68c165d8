"""A local Data Ops API for tests, demos and benchmarks: ``async with Emulator() as emu: ... emu.base_url ...``.

It serves the 17 operations of API.md in memory with the package's own wire models, checks signatures as the
gateway does, moves resources through their lifecycle in (injectable) time, answers stale reads after a change,
injects seeded faults and latency, and counts everything it sees. ``aiodataops emulator`` serves one from the shell.
"""

from __future__ import annotations

from aiodataops.emulator._config import DEFAULT_CREDENTIALS, QUIRKS, EmulatorConfig
from aiodataops.emulator._counters import Counters, LogEntry
from aiodataops.emulator._faults import FAULT_KINDS, FaultRule, Latency
from aiodataops.emulator._operations import OPERATIONS
from aiodataops.emulator._seed import PASSWORD_MARK
from aiodataops.emulator._server import Emulator

__all__ = [
    "DEFAULT_CREDENTIALS",
    "FAULT_KINDS",
    "OPERATIONS",
    "PASSWORD_MARK",
    "QUIRKS",
    "Counters",
    "Emulator",
    "EmulatorConfig",
    "FaultRule",
    "Latency",
    "LogEntry",
]
