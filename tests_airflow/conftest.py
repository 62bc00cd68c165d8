"""Set-up of the Airflow tests: a throwaway AIRFLOW_HOME (before Airflow is imported), anyio on asyncio, emulators.

Airflow reads its configuration when first imported, so the environment is set here, at import time of this
conftest (which tests must never import again: a second import would make a second home). ``airflow_db`` migrates
a SQLite metadata database once per session, for the tests that run ``dag.test()``; the trigger tests need none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Not imported from _support: Airflow must not be imported before this environment is set.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "airflow"
_HOME = Path(tempfile.mkdtemp(prefix="aiodataops-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
    }
)


def pytest_sessionfinish() -> None:
    """Remove the throwaway AIRFLOW_HOME."""
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture
def anyio_backend() -> str:
    """Run every ``pytest.mark.anyio`` test on asyncio (aiohttp ties the SDK to it)."""
    return "asyncio"


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The throwaway AIRFLOW_HOME of this session."""
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated metadata database with the example DAGs serialized, as ``dag.test()`` needs."""
    airflow = Path(sys.executable).parent / "airflow"
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([str(airflow), *command], capture_output=True, text=True, check=False, timeout=300)
        assert done.returncode == 0, f"airflow {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return airflow_home
