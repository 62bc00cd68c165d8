"""``fleet apply|resume|rollback --learned-polling/--no-learned-polling``: the flag reaches the run's options."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from aiodataops.cli import build_parser
from tests.fleet.test_cli import _plan, run_fleet

if TYPE_CHECKING:
    from pathlib import Path

    from aiodataops.emulator import Emulator


@pytest.mark.anyio
@pytest.mark.parametrize(("flags", "expected"), [((), True), (("--no-learned-polling",), False)])
async def test_apply_records_learned_polling_on_by_default_and_off_with_the_flag(
    emu: Emulator, tmp_path: Path, flags: tuple[str, ...], expected: bool
) -> None:
    """Learned polling is on unless ``--no-learned-polling`` is given, and the journal records which the run used."""
    code, _, err = await run_fleet(emu, tmp_path, "apply", str(_plan(tmp_path)), *flags, "--journal", "run.jsonl")
    assert code == 0, err
    header = orjson.loads((tmp_path / "run.jsonl").read_bytes().splitlines()[0])
    assert header["options"]["learned_polling"] is expected


def test_resume_and_rollback_keep_the_recorded_choice_unless_the_flag_is_given() -> None:
    """On ``resume`` and ``rollback`` the flag is an override: absent, the journal's choice stands."""
    parser = build_parser()
    for action in ("resume", "rollback"):
        assert not hasattr(parser.parse_args(["fleet", action, "run.jsonl"]), "learned_polling")
        given = parser.parse_args(["fleet", action, "run.jsonl", "--no-learned-polling"])
        assert given.learned_polling is False
    assert parser.parse_args(["fleet", "apply", "plan.yaml", "--learned-polling"]).learned_polling is True
