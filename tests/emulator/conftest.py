"""Fixtures for the emulator's own tests: a virtual-clock emulator and a signed HTTP caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest
from _emulator_helpers import Caller

from aiodataops._clock import VirtualClock
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
def clock() -> VirtualClock:
    """A clock the test moves by hand."""
    return VirtualClock()


@pytest.fixture
async def emu(clock: VirtualClock) -> AsyncIterator[Emulator]:
    """A small seeded emulator on the virtual clock: 2 data ops with 5 services each."""
    async with Emulator(
        data_ops=2,
        services_per_data_ops=5,
        seed=7,
        clock=clock,
        update_duration=(1.0, 2.0),
        create_duration=(3.0, 4.0),
        delete_duration=(1.0, 2.0),
    ) as e:
        yield e


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def call(session: aiohttp.ClientSession, emu: Emulator) -> Caller:
    """A signed caller bound to the ``emu`` fixture."""
    return Caller(session, emu)
