"""Flags every command shares: help on every argument, -o/--output, --log-level and --debug on either side of the
sub-command, and counted nouns ("1 target", never "1 targets")."""

from __future__ import annotations

import argparse
import io

import pytest

from aiodataops.cli import build_parser
from aiodataops.cli._common import plural
from aiodataops.cli._flags import sub_parsers
from aiodataops.cli._fleet_summary import print_summary
from aiodataops.cli._plain import PlainLines
from aiodataops.cli._tally import Tally
from aiodataops.fleet import BatchStarted, FleetReport, FleetStarted, ItemReport, Outcome, Stopping

#: Every command that runs, with the arguments it needs to parse (none of them is run here).
COMMANDS = {
    "demo": ["demo"],
    "fleet apply": ["fleet", "apply", "plan.yaml"],
    "fleet resume": ["fleet", "resume", "run.jsonl"],
    "fleet rollback": ["fleet", "rollback", "run.jsonl"],
    "services list": ["services", "list"],
    "services get": ["services", "get", "DOPS_SERVICE-x"],
    "services update": ["services", "update", "DOPS_SERVICE-x", "--description", "x"],
    "emulator": ["emulator"],
    "completion": ["completion", "bash"],
}

#: The commands whose output is a result (a summary, a report, a listing, a service, the emulator's address).
PRINTING = [
    "demo",
    "fleet apply",
    "fleet resume",
    "fleet rollback",
    "services list",
    "services get",
    "services update",
    "emulator",
]


def _every_parser() -> list[argparse.ArgumentParser]:
    root = build_parser()
    return [root, *sub_parsers(root)]


def test_the_walk_reaches_every_command() -> None:
    """The sub-parser walk (used to add the shared flags and the completions) finds every command and group."""
    progs = {parser.prog.removeprefix("aiodataops").strip() for parser in sub_parsers(build_parser())}
    assert progs == {*COMMANDS, "fleet", "services"}


@pytest.mark.parametrize("parser", _every_parser(), ids=lambda p: p.prog)
def test_every_argument_has_help(parser: argparse.ArgumentParser) -> None:
    """Every positional and every option of every command says what it is for in --help."""
    missing = [
        action.metavar or action.dest or "?"
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == [], f"{parser.prog}: no help for {missing}"


def test_fleet_resume_explains_its_journal(capsys: pytest.CaptureFixture[str]) -> None:
    """`fleet resume --help` says what JOURNAL is."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fleet", "resume", "--help"])
    assert "the journal of the run to continue" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("before", "after", "level"),
    [
        ([], [], "warning"),
        (["--debug"], [], "debug"),
        ([], ["--debug"], "debug"),
        (["--log-level", "info"], [], "info"),
        ([], ["--log-level", "error"], "error"),
        (["--log-level", "info"], ["--debug"], "debug"),
    ],
)
def test_log_level_and_debug_on_either_side(command: str, before: list[str], after: list[str], level: str) -> None:
    """--log-level and --debug work before the sub-command and after it; the later one wins; the default stands."""
    args = build_parser().parse_args([*before, *COMMANDS[command], *after])
    assert args.log_level == level


@pytest.mark.parametrize("command", PRINTING)
def test_every_printing_command_takes_o(command: str) -> None:
    """`-o json` (and `--output json`) is accepted by every command that prints a result."""
    assert build_parser().parse_args([*COMMANDS[command], "-o", "json"]).output == "json"
    assert build_parser().parse_args([*COMMANDS[command], "--output", "json"]).output == "json"


@pytest.mark.parametrize("command", ["services list", "services get", "services update"])
@pytest.mark.parametrize("output", ["table", "text", "json", "yaml"])
def test_services_output_formats(command: str, output: str) -> None:
    """`services` takes table (the default), its old name text, json and yaml."""
    assert build_parser().parse_args([*COMMANDS[command], "-o", output]).output == output
    assert build_parser().parse_args(COMMANDS[command]).output == "table"


def test_a_bad_query_exits_2_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """A --query that is not JMESPath is a usage error (exit 2) naming --query, before any request."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["services", "list", "--query", "[?state=="])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --query: not a JMESPath expression" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 targets"), (1, "1 target"), (2, "2 targets"), (1200, "1,200 targets")],
)
def test_plural(count: int, expected: str) -> None:
    """A count and its noun agree: one target, otherwise targets, with thousands grouped."""
    assert plural(count, "target") == expected
    assert plural(count, "entry", "entries").endswith("entry" if count == 1 else "entries")


def test_one_of_everything_is_singular() -> None:
    """Progress lines and the fleet summary say "1 target" and "1 service", never "1 targets" or "1 services"."""
    tally = Tally(1, clock=lambda: 0.0)
    lines = PlainLines(io.StringIO(), tally)
    events = [
        FleetStarted(total=1, concurrency=1, dry_run=False, resumed=0),
        BatchStarted(index=0, size=1),
        Stopping(reason="interrupted", in_flight=1),
    ]
    shown = []
    for event in events:
        tally.apply(event)
        shown.append(lines.line(event) or "")
    out = io.StringIO()
    print_summary(FleetReport(items=(ItemReport("DOPS_SERVICE-a", Outcome.SUCCEEDED),), elapsed_seconds=1.0), out)
    text = "\n".join([*shown, out.getvalue()])
    assert "1 target," in shown[0]
    assert "up to 1 service" in shown[1]
    assert "the 1 service in flight" in shown[2]
    assert "fleet: 1 target in 1.0s" in text
    assert "1 changed, 0 unchanged" in text
    assert "1 targets" not in text
    assert "1 services" not in text
