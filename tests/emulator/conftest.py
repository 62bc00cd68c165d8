"""Fixtures for the emulator's own tests: a virtual-clock emulator and a signed HTTP caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import pytest
from yarl import URL

from aiodataops._clock import VirtualClock
from aiodataops._signing import Credentials, now_ms, signed_headers
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from multidict import CIMultiDict


#: The creates, documented at API version 1.2 only; every other operation is sent at 1.1.
_CREATES = {("POST", "/v1/data-ops"): "create_data_ops", ("POST", "/v1/data-ops-services"): "create_service"}


class Caller:
    """Sends signed requests to one emulator and returns ``(status, parsed body, headers)``."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        credentials: Credentials | None = None,
        timestamp_ms: int | None = None,
        sign_path: str | None = None,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> tuple[int, Any, CIMultiDict[str]]:
        url = URL(self.emu.base_url + path, encoded=True)
        signed_url = URL(self.emu.base_url + sign_path, encoded=True) if sign_path else url
        all_headers = signed_headers(
            method,
            str(signed_url),
            timestamp_ms or now_ms(),
            credentials or self.emu.credentials,
            operation=_CREATES.get((method, path)),  # a create is sent at its own version (1.2)
        )
        all_headers.update(headers or {})
        data = raw_body if raw_body is not None else (orjson.dumps(body) if body is not None else None)
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        async with self.session.request(method, url, data=data, headers=all_headers) as response:
            raw = await response.read()
            parsed: Any = raw.decode()
            if response.content_type == "application/json":
                parsed = orjson.loads(raw)
            return response.status, parsed, response.headers.copy()


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
