"""Every file in ``examples/`` runs: each is imported and its ``main()`` awaited on a virtual clock (no real waits)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aiodataops import Service, VirtualClock
from aiodataops.fleet import FleetReport, Outcome, StopReason

if TYPE_CHECKING:
    from types import ModuleType

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module, as ``python examples/<name>.py`` would find it."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"examples_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


async def run(name: str) -> Any:
    """Await the example's ``main()``, on a virtual clock when it takes one."""
    main = load(name).main
    if "clock" in inspect.signature(main).parameters:
        return await main(clock=VirtualClock())
    return await main()


def check_one_service(result: Any) -> None:
    assert isinstance(result, Service)
    assert result.state == "RUNNING"
    assert result.service_workload is not None
    worker = result.service_workload.worker
    assert worker is not None
    assert (worker.cpu, worker.memory, worker.replica) == ("4", "8", "3")


def check_fleet_with_progress(result: Any) -> None:
    assert isinstance(result, FleetReport)
    assert result.stopped is StopReason.COMPLETED
    assert result.total == 40
    assert len({i.data_ops_service_id for i in result.items}) == 40
    # Services whose worker already had 4 replicas converge: unchanged, no PUT.
    assert {i.outcome for i in result.items} <= {Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.FAILED}
    assert result.counts["succeeded"] + result.counts["unchanged"] >= 30
    assert [i.batch for i in result.items][:6] == [0, 1, 1, 1, 1, 1]


def check_aiohttp_app(result: Any) -> None:
    listed, scaled = result["listed"], result["scaled"]
    assert listed["count"] == len(listed["services"]) == 3
    assert all(s["data_ops"].startswith("prod-") and s["state"] == "RUNNING" for s in listed["services"])
    assert scaled == {"id": listed["services"][0]["id"], "state": "RUNNING", "worker_replica": "5"}


def check_otel_fleet(result: Any) -> None:
    spans, requests = result
    (run,) = [span for span in spans if span.name == "fleet update"]
    http = [span for span in spans if span is not run]
    assert run.attributes["fleet.total"] == 20
    assert len(http) == requests  # one client span per attempt the emulator answered
    assert {span.name for span in http} == {"GET", "PUT"}
    assert all(span.parent is not None and span.parent.span_id == run.context.span_id for span in http)


CHECKS = {
    "one_service": check_one_service,
    "fleet_with_progress": check_fleet_with_progress,
    "aiohttp_app": check_aiohttp_app,
    "otel_fleet": check_otel_fleet,
}

#: Examples that need an optional extra, with a module that shows the extra is installed.
EXTRAS = {"otel_fleet": ("opentelemetry.instrumentation.aiohttp_client", "aiodataops[otel]")}


def test_every_example_is_checked() -> None:
    """Each file in ``examples/`` has a check here, so a new example cannot go untested."""
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(CHECKS)


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(CHECKS))
async def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The example's ``main()`` runs against the emulator and returns what it says it returns."""
    if name in EXTRAS:
        module, extra = EXTRAS[name]
        pytest.importorskip(module, reason=f"{name} needs {extra} (pip install '.[otel]'; the dev extra has it)")
    CHECKS[name](await run(name))
    assert capsys.readouterr().out  # it tells the reader what happened


@pytest.mark.anyio
async def test_fleet_example_progress_callback_reports_batches_and_failures(capsys: pytest.CaptureFixture[str]) -> None:
    """The fleet example's callback prints each batch, every tenth service and each failure with its reason."""
    report = await run("fleet_with_progress")
    out = capsys.readouterr().out
    assert "updating 40 services, 8 at a time" in out
    assert "batch 1 starts (1 service at most)" in out
    assert "40/40 ended" in out
    for item in report.items:
        if item.outcome is Outcome.FAILED:
            assert item.error is not None
            assert f"  failed: {item.error.message}" in out
