"""Update one service's workers and wait until the change has settled, against the embedded emulator.

Run it: ``python examples/one_service.py``. Import it: ``await examples.one_service.main()`` returns the settled
service. To run against the real API instead, build the client with ``DataOpsClient.from_env()`` (SCP_* variables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from aiodataops import Clock, DataOpsClient, PollPolicy, Service, ServiceUpdate, ServiceWorkload, SystemClock, Workload
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from aiodataops._waiting import StateEvent

# The emulator finishes an update in well under a second; poll it often so the example is quick.
QUICK_POLLS = PollPolicy(first_delay=0.2, growth=1.5, max_delay=1.0, min_delay=0.1, deadline=60.0)


def show(event: StateEvent) -> None:
    """Print one step of the wait."""
    print(f"  {event.elapsed:5.2f}s  poll {event.polls}: {event.kind:<8} {event.old_state} -> {event.new_state}")


async def main(clock: Clock | None = None) -> Service:
    """Pick the first service, give it more and bigger workers, wait until it is RUNNING again, and return it."""
    clock = clock or SystemClock()
    async with (
        Emulator(
            data_ops=1, services_per_data_ops=3, stale_read_seconds=0.3, update_duration=(0.3, 0.6), clock=clock
        ) as emu,
        DataOpsClient(emu.base_url, emu.credentials, poll=QUICK_POLLS, clock=clock) as client,
    ):
        first = await client.services.list(page_size=1).collect(limit=1)
        service = await client.services.get(first[0].id)
        print(f"{service.data_ops_service_name} ({service.id}) is {service.state}")
        update = ServiceUpdate(service_workload=ServiceWorkload(worker=Workload(cpu="4", memory="8", replica="3")))
        final = await client.services.update_and_wait(service.id, update, on_event=show)
        worker = final.service_workload.worker if final.service_workload else None
        print(f"{final.data_ops_service_name} is {final.state} with worker {worker}")
        return final


if __name__ == "__main__":
    anyio.run(main)
