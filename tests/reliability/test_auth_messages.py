"""What a refused signature tells the user, through the client against the emulator: the key, or the clock."""

from __future__ import annotations

import pytest

from aiodataops._client import DataOpsClient
from aiodataops._errors import AuthenticationError
from aiodataops._signing import Credentials, now_ms
from aiodataops.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_a_wrong_secret_says_check_the_key_and_not_the_clock() -> None:
    """A signature made with another secret is refused with a hint about the keys, never about the clock."""
    async with Emulator(data_ops=1, services_per_data_ops=1) as emu:
        wrong = Credentials(emu.credentials.access_key, "another-secret")
        async with DataOpsClient(emu.base_url, wrong) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.services.get(emu.service_ids()[0])
    message = str(caught.value)
    assert "AUTH_INVALID_SIGNATURE" in message
    assert "check the access key, the secret key" in message
    assert "clock" not in message


@pytest.mark.parametrize("minutes", [-20, 20])
async def test_a_clock_20_minutes_off_says_check_your_clock(minutes: int) -> None:
    """A request signed 20 minutes behind or ahead is refused with 'check your clock' and this machine's time."""

    def skewed() -> int:
        return now_ms() + minutes * 60_000

    async with (
        Emulator(data_ops=1, services_per_data_ops=1) as emu,
        DataOpsClient(emu.base_url, emu.credentials, wall_clock=skewed) as client,
    ):
        with pytest.raises(AuthenticationError) as caught:
            await client.services.get(emu.service_ids()[0])
    message = str(caught.value)
    assert "20.0 minutes" in message
    assert "check your clock (this machine reads 20" in message
    assert "signatures are valid for 15 minutes" in message
