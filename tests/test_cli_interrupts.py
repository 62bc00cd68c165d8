"""``unless_stopped``: a read before the work (listing the targets) ends the moment the first Ctrl-C sets ``stop``."""

from __future__ import annotations

import anyio
import pytest

from aiodataops._errors import ServerError
from aiodataops.cli._interrupts import unless_stopped

pytestmark = pytest.mark.anyio


async def test_a_stop_cancels_the_read_at_once_and_gives_none() -> None:
    """``stop`` set while the read waits: the read is cancelled there (it never goes on) and the result is ``None``."""
    stop, waiting = anyio.Event(), anyio.Event()
    went_on = False

    async def read() -> int:
        nonlocal went_on
        waiting.set()
        await anyio.sleep_forever()
        went_on = True
        return 1

    async def press_ctrl_c() -> None:
        await waiting.wait()
        stop.set()

    async with anyio.create_task_group() as group:
        group.start_soon(press_ctrl_c)
        with anyio.fail_after(10):
            assert await unless_stopped(stop, read) is None
    assert not went_on


async def test_a_read_is_not_started_after_a_stop_and_runs_to_its_end_without_one() -> None:
    """Already stopped: the read is not started; never stopped: its result comes back, its error unwrapped."""
    stop = anyio.Event()
    started: list[str] = []

    async def read() -> str:
        started.append("read")
        return "done"

    async def broken() -> str:
        raise ServerError("boom", status=503, method="GET", url="http://127.0.0.1/v1/data-ops-services")

    assert await unless_stopped(stop, read) == "done"
    with pytest.raises(ServerError):
        await unless_stopped(stop, broken)
    stop.set()
    assert await unless_stopped(stop, read) is None
    assert started == ["read"]
