"""Update a fleet of services in canary batches and follow it with an ``on_event`` callback, against the emulator.

Run it: ``python examples/fleet_with_progress.py``. Import it: ``await examples.fleet_with_progress.main()`` returns
the ``FleetReport``. To run against the real API instead, build the client with ``DataOpsClient.from_env()`` (SCP_*
variables) and pass a plan: ``client.fleet.apply(load_plan("plan.yaml"), ...)``.

The callback below prints one line per batch and per service that did not succeed, and a count every tenth
service; ``aiodataops demo`` shows the same events as a live panel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from aiodataops import Clock, DataOpsClient, PollPolicy, ServiceUpdate, ServiceWorkload, SystemClock, Workload
from aiodataops.emulator import Emulator
from aiodataops.fleet import (
    BatchEnded,
    BatchStarted,
    BudgetExceeded,
    FleetEvent,
    FleetReport,
    FleetStarted,
    Outcome,
    TargetEnded,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# The emulator finishes an update in well under a second; poll it often so the example is quick.
QUICK_POLLS = PollPolicy(first_delay=0.2, growth=1.5, max_delay=1.0, min_delay=0.1, deadline=60.0)


class Progress:
    """An ``on_event`` callback: a plain function (or coroutine function) of one event would do as well."""

    def __init__(self, say: Callable[[str], None] = print) -> None:
        self.say = say
        self.total: int | None = None
        self.ended = 0

    def __call__(self, event: FleetEvent) -> None:
        """Called by the fleet for every event, in the worker that made it: keep it quick."""
        match event:
            case FleetStarted(total=total):
                self.total = total
                self.say(f"updating {total} service{'' if total == 1 else 's'}, {event.concurrency} at a time")
            case BatchStarted(index=index, size=size):
                self.say(f"batch {index + 1} starts ({size} service{'' if size == 1 else 's'} at most)")
            case BatchEnded(index=index, counts=counts):
                self.say(f"batch {index + 1} done: {', '.join(f'{n} {o}' for o, n in counts.items() if n)}")
            case BudgetExceeded(failures=failures, limit=limit):
                self.say(f"{failures} failed, more than the {limit} allowed: no new service starts")
            case TargetEnded(item=item):
                self.ended += 1
                if item.outcome is not Outcome.SUCCEEDED:
                    reason = item.error.message if item.error else ""
                    self.say(f"  {item.outcome}: {reason}")
                if self.ended % 10 == 0:
                    self.say(f"  {self.ended}/{self.total} ended")


async def main(clock: Clock | None = None, *, services: int = 40) -> FleetReport:
    """Give every service of a 40-service fleet one more worker, in batches of 1, 5, then half the fleet."""
    clock = clock or SystemClock()
    async with (
        Emulator(
            data_ops=4, services=services, update_duration=(0.2, 0.8), error_rate=0.05, seed=1, clock=clock
        ) as emu,
        DataOpsClient(emu.base_url, emu.credentials, poll=QUICK_POLLS, clock=clock) as client,
    ):
        update = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(replica="4")))
        # Any iterable (or async iterable) of (service id, update) pairs works; so does a plan with selectors.
        targets = [(service.id, update) async for service in client.services.list()]
        report = await client.fleet.apply(
            targets, concurrency=8, batches=[1, 5, "50%"], max_failures="20%", on_event=Progress()
        )
    print(f"{report.total} service{'' if report.total == 1 else 's'} in {report.elapsed_seconds:.1f}s: {report.counts}")
    return report


if __name__ == "__main__":
    anyio.run(main)
