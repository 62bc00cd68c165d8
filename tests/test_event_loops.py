"""The client runs on asyncio, on the loop that opened it: anything else is a clear error, not aiohttp's internals."""

from __future__ import annotations

import asyncio

import anyio
import anyio.to_thread
import pytest

from aiodataops import ConfigurationError, Credentials, DataOpsClient


def _client() -> DataOpsClient:
    return DataOpsClient("http://127.0.0.1:9", Credentials("AK", "SK"))


def test_entering_a_client_without_asyncio_says_it_needs_asyncio() -> None:
    """Entered where no asyncio loop runs (as under trio), the client says it needs asyncio, naming what to do."""
    entering = _client().__aenter__()
    with pytest.raises(ConfigurationError, match=r"asyncio only .* not with trio"):
        entering.send(None)


@pytest.mark.anyio
async def test_a_client_used_from_another_event_loop_says_to_open_one_per_loop() -> None:
    """A request from a second event loop (another thread's) fails at once, saying to open one client per loop."""
    async with _client() as client:

        def in_another_loop() -> None:
            asyncio.run(client.services.get("DOPS_SERVICE-1"))

        with pytest.raises(ConfigurationError, match=r"opened on another event loop.*one client per event loop"):
            await anyio.to_thread.run_sync(in_another_loop)
