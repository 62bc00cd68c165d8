"""``aiodataops demo``: a whole fleet run over the in-process emulator, its summary, files and exit status."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import attrs
import pytest

from aiodataops.cli import main
from aiodataops.cli._demo_run import DemoResult, DemoSettings, run_demo
from aiodataops.emulator import DEFAULT_CREDENTIALS, PASSWORD_MARK
from aiodataops.fleet import ErrorInfo, FleetReport, ItemReport, Outcome, read_journal

if TYPE_CHECKING:
    from pathlib import Path

#: Twenty times faster than the real demo: a 30-service run takes well under two seconds.
QUICK = ["--services", "30", "--time-scale", "0.05"]


def demo(tmp_path: Path, *args: str) -> int:
    return main(["demo", *QUICK, "--dir", str(tmp_path), "--progress", "plain", *args])


def test_demo_runs_a_small_fleet_and_exits_0_as_designed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 30-service demo exits 0 and its summary counts every service, per outcome, with the files it wrote."""
    status = demo(tmp_path)
    out, err = capsys.readouterr()
    assert status == 0
    head = re.search(r"^fleet: 30 services in [\d.]+s: (.*)$", out, re.MULTILINE)
    assert head is not None
    counts = {outcome: int(n) for n, outcome in re.findall(r"(\d+) (\w+)", head.group(1))}
    assert set(counts) <= {str(o) for o in Outcome}
    assert sum(counts.values()) == 30
    assert "exit status 0: as designed" in out
    assert re.search(r"emulator: [\d,]+ requests: .*\d+ x 202", out)
    assert "updates accepted: 30, one per service" in out
    assert f"written to {tmp_path}" in out
    # Progress went to standard error as plain lines, one per service.
    assert len(re.findall(r"^\s*[\d.]+s  (?:succeeded|failed)\s+DOPS_SERVICE-", err, re.MULTILINE)) == 30
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["total"] == 30
    assert report["summary"]["counts"] == {str(o): counts.get(str(o), 0) for o in Outcome}
    assert len(read_journal(tmp_path / "journal.jsonl").ended) == 30
    assert "data_ops_service_id" in (tmp_path / "plan.yaml").read_text()


def test_demo_json_output_is_one_document_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With ``--output json`` standard output holds one JSON document (verdict, emulator counts, files, report)."""
    status = demo(tmp_path, "--output", "json")
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert status == data["exit_status"] == 0
    assert data["as_designed"] is True
    assert data["problems"] == []
    assert data["report"]["summary"]["total"] == 30
    assert sum(data["report"]["summary"]["counts"].values()) == 30
    assert data["emulator"]["accepted_updates"] == 30
    assert data["emulator"]["requests_by_status"]["202"] == 30
    assert data["files"]["journal"] == str(tmp_path / "journal.jsonl")
    assert data["demo"]["services"] == 30
    assert "DOPS_SERVICE-" in err  # the progress, on standard error


def test_no_secret_in_the_demo_output_or_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Neither the output nor the journal, report or plan holds the emulator's secret key or a password."""
    demo(tmp_path, "--output", "json")
    out, err = capsys.readouterr()
    texts = [out, err, *(p.read_text() for p in tmp_path.iterdir())]
    for text in texts:
        assert DEFAULT_CREDENTIALS.secret_key not in text
        assert PASSWORD_MARK not in text


@pytest.mark.anyio
async def test_injected_failures_exit_0_unless_strict(tmp_path: Path) -> None:
    """Failures the emulator injected leave the verdict "as designed" (exit 0); ``--strict`` makes them exit 1."""
    settings = DemoSettings(services=20, time_scale=0.05, error_rate=0.3, seed=2, failure_budget=20)
    result = await run_demo(settings, tmp_path)
    failed = {i.data_ops_service_id for i in result.report.items if i.outcome is Outcome.FAILED}
    assert failed
    assert result.injected == failed
    assert result.problems() == []
    assert result.exit_status() == 0
    assert result.exit_status(strict=True) == 1
    assert result.report.total == 20


def test_a_failure_the_demo_did_not_inject_exits_1(tmp_path: Path) -> None:
    """A timed-out service, a missing service or a second update is not as designed: exit 1, naming each problem."""
    items = (
        ItemReport("DOPS_SERVICE-a", Outcome.SUCCEEDED, final_state="RUNNING"),
        ItemReport("DOPS_SERVICE-b", Outcome.TIMED_OUT, final_state="UPDATING", error=ErrorInfo("wait_timeout", "x")),
    )
    result = DemoResult(
        settings=DemoSettings(services=3),
        report=FleetReport(items=items),
        endpoint="http://127.0.0.1:1",
        requests={200: 5},
        faults={},
        accepted_puts={"DOPS_SERVICE-a": 2, "DOPS_SERVICE-b": 1},
        injected=frozenset(),
        directory=tmp_path,
    )
    problems = " / ".join(result.problems())
    assert "2 lines for 2 services, not the fleet's 3" in problems
    assert "1 service got the update twice" in problems
    assert "1 service did not succeed for a reason the demo did not inject" in problems
    assert result.exit_status() == 1
    assert attrs.evolve(result, interrupted=True).exit_status() == 130


def test_a_used_directory_is_refused_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ``--dir`` that already holds a journal is refused (exit 2) rather than appended to."""
    (tmp_path / "journal.jsonl").write_text('{"type": "header"}\n')
    assert demo(tmp_path) == 2
    assert "journal.jsonl" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--services", "0"], "expected at least 1"),
        (["--time-scale", "0"], "expected more than 0"),
        (["--concurrency", "many"], "expected a whole number"),
        (["--concurrency", "1000000"], "argument --concurrency: expected at most 4096, got 1000000"),
    ],
)
def test_bad_flags_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad flag value is a usage error (exit 2) that says what was expected."""
    with pytest.raises(SystemExit) as exc:
        main(["demo", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_dir_whose_files_cannot_be_written_is_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``--dir`` where the report cannot be written (a directory holds its name) exits 2 before the run starts."""
    (tmp_path / "report.json").mkdir()
    assert demo(tmp_path) == 2
    out, err = capsys.readouterr()
    assert f"aiodataops demo: --dir {tmp_path / 'report.json'}: is a directory, not a file" in err
    assert out == ""
    assert not (tmp_path / "plan.yaml").exists()
