"""Fixtures of the fleet tests: an emulator with a fast lifecycle and a client with fast, deterministic polls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aiodataops._client import DataOpsClient
from aiodataops._polling import PollPolicy
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiodataops._clock import Clock

#: Polls every 10-40 ms: an emulated update (20-60 ms) settles in a handful of polls.
FAST_POLL = PollPolicy(first_delay=0.01, growth=1.5, max_delay=0.04, min_delay=0.005, jitter=False, deadline=10.0)


def fast_emulator(**overrides: object) -> Emulator:
    """An emulator whose updates take 20-60 ms."""
    settings: dict[str, object] = {"data_ops": 2, "services_per_data_ops": 10, "update_duration": (0.02, 0.06)}
    settings.update(overrides)
    return Emulator(**settings)


def client_for(emu: Emulator, *, clock: Clock | None = None, poll: PollPolicy = FAST_POLL) -> DataOpsClient:
    """A client of ``emu`` with fast polls, on the emulator's own clock.

    Client and emulator always share one clock: a virtual client clock against a real-time emulator (or the other
    way round) makes a test pass or fail with the machine's speed. ``clock``, when given, must be the emulator's.
    """
    if clock is not None and clock is not emu.clock:
        raise AssertionError("client_for: the client's clock must be the emulator's (pass it to fast_emulator)")
    return DataOpsClient(emu.base_url, emu.credentials, poll=poll, clock=emu.clock)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """A running emulator with 20 services and fast updates."""
    async with fast_emulator() as running:
        yield running


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[DataOpsClient]:
    """A client of the ``emu`` fixture."""
    async with client_for(emu) as opened:
        yield opened
