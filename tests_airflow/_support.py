"""Helpers of the Airflow tests: the connection as an environment variable, an emulator served from a thread."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "airflow"


def connection_json(base_url: str, access_key: str, secret_key: str, **extra: Any) -> str:
    """An ``AIRFLOW_CONN_*`` value for the ``scp_dataops`` connection type pointing at an emulator."""
    return json.dumps(
        {"conn_type": "scp_dataops", "host": base_url, "login": access_key, "password": secret_key, "extra": extra}
    )


def use_emulator(monkeypatch: pytest.MonkeyPatch, emu: Emulator, conn_id: str = "scp_dataops_default") -> None:
    """Point the connection ``conn_id`` (an environment variable) at ``emu``."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        connection_json(emu.base_url, emu.credentials.access_key, emu.credentials.secret_key),
    )


class ThreadedEmulator:
    """An emulator served from a thread of its own, for tests whose own thread blocks (``dag.test()``)."""

    def __init__(self, **config: Any) -> None:
        self.emu = Emulator(**config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="emulator", daemon=True)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in the emulator's loop (a plain call or a coroutine function) and return its result."""

        async def run() -> Any:
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def __enter__(self) -> Emulator:
        self._thread.start()
        self.call(self.emu.start)
        return self.emu

    def __exit__(self, *exc: object) -> None:
        self.call(self.emu.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
