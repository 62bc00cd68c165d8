"""Shared pytest set-up: anyio's plugin alone, on asyncio (aiohttp ties the runtime to asyncio)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run every ``pytest.mark.anyio`` test on asyncio."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_personal_scp_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point SCP's config directory at an empty one: a developer's own ``~/.scp`` must never reach a test."""
    monkeypatch.setenv("SCP_CONFIG_DIR", str(tmp_path_factory.mktemp("no-scp-files")))


@pytest.fixture(autouse=True)
def _state_dir_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point aiodataops' state directory (default fleet journals) at a temporary one, never the user's own."""
    monkeypatch.setenv("AIODATAOPS_STATE_DIR", str(tmp_path_factory.mktemp("state")))
