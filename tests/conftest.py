"""Shared pytest set-up: anyio's plugin alone, on asyncio (aiohttp ties the runtime to asyncio)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run every ``pytest.mark.anyio`` test on asyncio."""
    return "asyncio"
