"""What every sub-command shares: the exit statuses, errors turned into a message and a status, Ctrl-C handling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aiodataops._errors import AuthenticationError, ConfigurationError, DataOpsError, ServerError
from aiodataops.cli._common import ExitCode, error_exit, usage_error
from aiodataops.cli._interrupts import run_interruptibly
from aiodataops.fleet import JournalError, PlanError

if TYPE_CHECKING:
    import anyio


def test_exit_codes_are_the_documented_ones() -> None:
    """The statuses are the README's: 0, 1, 2, 130 and 141, and they compare equal to plain ints."""
    assert [int(code) for code in ExitCode] == [0, 1, 2, 130, 141]
    assert ExitCode.USAGE == 2
    assert f"{ExitCode.INTERRUPTED}" == "130"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigurationError("SCP_ACCESS_KEY is not set"), ExitCode.USAGE),
        (PlanError([("targets[0]", "bad")]), ExitCode.USAGE),
        (JournalError("j.jsonl: already holds a run"), ExitCode.USAGE),
        (AuthenticationError("refused", status=401, method="GET", url="http://h/x"), ExitCode.USAGE),
        (ServerError("down", status=503, method="GET", url="http://h/x"), ExitCode.FAILED),
        (DataOpsError("something else"), ExitCode.FAILED),
    ],
)
def test_error_exit_maps_what_the_user_must_fix_to_2(
    capsys: pytest.CaptureFixture[str], error: DataOpsError, status: ExitCode
) -> None:
    """Settings, plans, journals and refused credentials are usage errors (2); other failures exit 1."""
    assert error_exit("fleet", error) is status
    assert capsys.readouterr().err == f"aiodataops fleet: {error}\n"


def test_usage_error_and_the_last_net_name_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    """A usage error names its sub-command; the top-level net says just ``aiodataops``."""
    assert usage_error("demo", "--dir x: no such directory") is ExitCode.USAGE
    assert error_exit(None, DataOpsError("boom")) is ExitCode.FAILED
    assert capsys.readouterr().err == "aiodataops demo: --dir x: no such directory\naiodataops: boom\n"


@pytest.mark.anyio
async def test_run_interruptibly_returns_the_result_and_raises_errors_unwrapped() -> None:
    """Work that ends returns its result (not interrupted); an error it raises comes out as itself, not a group."""

    async def work(stop: anyio.Event, abort: anyio.Event) -> str:
        assert not stop.is_set()
        assert not abort.is_set()
        return "done"

    assert await run_interruptibly(work) == ("done", False)

    async def failing(_stop: anyio.Event, _abort: anyio.Event) -> str:
        raise JournalError("in use")

    with pytest.raises(JournalError, match="in use"):
        await run_interruptibly(failing)
