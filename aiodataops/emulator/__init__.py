"""A local Data Ops API for tests, demos and benchmarks.

It serves the 17 operations of API.md in memory with the package's own wire models, checks signatures as the
gateway does, moves resources through their lifecycle in (injectable) time, answers stale reads after a change,
injects seeded faults and latency, and counts everything it sees. ``aiodataops emulator`` serves one from the shell.

In a test (a shared ``VirtualClock`` makes the client's poll sleeps move the emulator's time: no real waiting)::

    clock = VirtualClock()
    async with Emulator(seed=0, clock=clock, stale_read_seconds=0.5,
                        faults=[FaultRule("update_service", "429", rate=0.3, retry_after=1)]) as emu, \\
            DataOpsClient(emu.base_url, emu.credentials, clock=clock) as client:
        service_id = emu.service_ids()[0]
        settled = await client.services.update_and_wait(service_id, ServiceUpdate(description="nightly"))
        assert settled.state == "RUNNING"
        assert emu.counters.accepted_puts_per_service[service_id] == 1
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
