"""The Airflow integration stays optional: the SDK never imports Airflow, and the integration says how to get it."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (so no test has imported anything yet) and capture what it prints."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_aiodataops_does_not_import_airflow() -> None:
    """``import aiodataops`` (and its fleet and emulator) loads no ``airflow`` module, installed or not."""
    done = run_python(
        """
        import sys
        import aiodataops, aiodataops.fleet, aiodataops.emulator
        loaded = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
        print(loaded)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_importing_the_integration_without_airflow_says_how_to_install_it() -> None:
    """Without Airflow, importing the integration raises an ImportError naming ``pip install 'aiodataops[airflow]'``."""
    done = run_python(
        """
        import sys
        sys.modules["airflow"] = None  # as if Airflow were not installed, even in an environment that has it
        try:
            import aiodataops.airflow
        except ImportError as exc:
            print(type(exc).__name__, exc)
        else:
            print("imported")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ImportError ")
    assert "pip install 'aiodataops[airflow]'" in done.stdout
