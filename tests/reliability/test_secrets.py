"""Secrets: every command and failure path at DEBUG, with everything it wrote searched for anything secret.

The credentials carry an auth token; the emulator checks it. A server-side witness collects every ``Scp-Signature``
the client sent, and every ``account_password`` the emulator holds (and so returns) is read from it. Searched:
standard output and error, every log record (message, arguments and traceback, at DEBUG from every logger),
reports and journals. Commands run in this process (``main(argv)``) so that log records can be captured, and once
more as subprocesses with ``--log-level debug`` to search what really reaches the terminal.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import anyio
import orjson
import pytest

from aiodataops._signing import Credentials, now_ms
from aiodataops.emulator import PASSWORD_MARK, Emulator, FaultRule
from tests.reliability._support import (
    EVERY_SERVICE,
    WORKER_UPDATE,
    Corruptor,
    Witness,
    cli_signs_with,
    emulator_in_thread,
    run_cli,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CREDENTIALS = Credentials(
    access_key="RELIABILITY-ACCESS-KEY",
    secret_key="reliability-secret-key-5f1c9e",
    auth_token="reliability-auth-token-77d02b",
)


class Served:
    """The module's emulator (its own thread), its witness and corruptor, and the files the commands use."""

    def __init__(self, emu: Emulator, witness: Witness, corruptor: Corruptor, files: Path) -> None:
        self.emu = emu
        self.witness = witness
        self.corruptor = corruptor
        self.files = files
        self.secret_file = files / "secret"
        self.secret_file.write_text(CREDENTIALS.secret_key + "\n")
        self.token_file = files / "token"
        self.token_file.write_text(f"{CREDENTIALS.auth_token}\n")
        self.wrong_secret = files / "wrong-secret"
        self.wrong_secret.write_text("reliability-wrong-secret-0000\n")

    def connection(self, *, secret: Path | None = None) -> list[str]:
        return [
            "--endpoint", self.emu.base_url,
            "--access-key", CREDENTIALS.access_key,
            "--secret-key-file", str(secret or self.secret_file),
            "--auth-token-file", str(self.token_file),
        ]  # fmt: skip

    def plan(self, name: str, data: dict[str, Any]) -> str:
        path = self.files / name
        path.write_bytes(orjson.dumps(data))
        return str(path)

    def secrets(self) -> list[str]:
        """Everything that must never be shown: keys, token, every signature sent, every password held."""
        passwords = [self.emu.service_body(sid)["account"]["account_password"] for sid in self.emu.service_ids()]
        passwords += [self.emu.data_ops_body(did)["account"]["account_password"] for did in self.emu.data_ops_ids()]
        found = [
            CREDENTIALS.secret_key,
            "reliability-wrong-secret-0000",
            str(CREDENTIALS.auth_token),
            PASSWORD_MARK,
            *passwords,
            *self.witness.signatures,
        ]
        assert all(found)
        return found

    def assert_nothing_secret(self, *texts: str | bytes) -> None:
        """No secret in any of ``texts``; the witness must have seen signed, token-bearing requests."""
        assert self.witness.signatures, "no signed request reached the emulator"
        assert set(self.witness.tokens) == {CREDENTIALS.auth_token}
        haystack = "\n".join(t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in texts)
        assert haystack.strip()
        leaked = [secret for secret in self.secrets() if secret in haystack]
        assert not leaked, f"{len(leaked)} secret(s) shown, e.g. {leaked[0][:12]}..."


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """An emulator that demands the token, with fast updates and a witness of every signature."""
    witness, corruptor = Witness(), Corruptor(huge_size=1024)
    config = {"data_ops": 2, "services_per_data_ops": 4, "update_duration": (0.02, 0.05), "credentials": CREDENTIALS}
    with emulator_in_thread(witness, corruptor, **config) as emu:
        yield Served(emu, witness, corruptor, tmp_path_factory.mktemp("secrets"))


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG, captured; no SCP_* variable of the machine around; files created under umask 0."""
    for name in ("SCP_ACCESS_KEY", "SCP_SECRET_KEY", "SCP_AUTH_TOKEN", "SCP_DATAOPS_ENDPOINT", "SCP_REGION", "SCP_ENV"):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets every file be world-readable unless the code asks for less."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: formatted line (with traceback), raw message, and the repr of its arguments."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(str(record.msg))
        parts.append(repr(record.args))
    return "\n".join(parts)


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


# -- services -----------------------------------------------------------------------------------------------


def test_services_commands_at_debug_show_no_secret(
    served: Served, debug_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """services list/get/update (waiting, refused, wrongly signed, clock-skewed, broken) leak nothing at DEBUG."""
    sid = served.emu.service_ids()[0]
    outputs: list[str] = []
    runs = [
        (0, ["services", "list", *served.connection()]),
        (0, ["services", "list", "-o", "json", *served.connection()]),
        (0, ["services", "get", sid, *served.connection()]),
        (0, ["services", "get", sid, "-o", "json", *served.connection()]),
        (0, ["services", "update", sid, "--description", "nightly", "--wait", "-o", "json", *served.connection()]),
        (0, ["services", "update", sid, "--description", "no wait", *served.connection()]),
        (2, ["services", "update", sid, "--worker", "cpu=lots", *served.connection()]),
        (1, ["services", "get", "DOPS_SERVICE-missing", *served.connection()]),
        (2, ["services", "get", sid, *served.connection(secret=served.wrong_secret)]),
    ]
    for expected, argv in runs:
        status, out, err = run_cli(capsys, *argv)
        assert status == expected, (argv, err)
        outputs += [out, err]
    assert "***" in "".join(outputs)  # the password is masked, not dropped silently

    with pytest.MonkeyPatch.context() as patch:
        cli_signs_with(patch, lambda: now_ms() - 20 * 60 * 1000)
        status, out, err = run_cli(capsys, "services", "get", sid, *served.connection())
    assert status == 2
    assert "check your clock" in err
    outputs += [out, err]

    served.corruptor.breakage["get"] = "cut_json"
    try:
        status, out, err = run_cli(capsys, "services", "get", sid, *served.connection())
    finally:
        served.corruptor.breakage.clear()
    assert status == 1
    outputs += [out, err]

    assert "send GET" in debug_logs.text
    served.assert_nothing_secret(*outputs, logged(debug_logs))


def test_an_error_answer_holding_a_password_shows_no_password(
    served: Served, debug_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 400 whose body carries the account (and its password) is reported without the password."""
    sid = served.emu.service_ids()[1]
    served.corruptor.breakage["update"] = "leaky_400"
    try:
        status, out, err = run_cli(capsys, "services", "update", sid, "--description", "x", *served.connection())
        plan = served.plan("leaky.json", {"update": WORKER_UPDATE, "targets": [sid]})
        report = served.files / "leaky-report.json"
        fleet_status, fleet_out, fleet_err = run_cli(
            capsys, "fleet", "apply", plan, *served.connection(), "--report", str(report)
        )
    finally:
        served.corruptor.breakage.clear()
    assert status == 2
    assert "HTTP 400" in err
    assert fleet_status == 1
    served.assert_nothing_secret(out, err, fleet_out, fleet_err, report.read_bytes(), logged(debug_logs))


# -- fleet --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_fleet_apply_dry_run_and_resume_at_debug_show_no_secret_and_keep_files_private(
    served: Served, debug_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """fleet dry run, apply (through faults, to a budget stop) and resume leak nothing; report and journal are 0600."""
    served.emu.force_outcome(served.emu.service_ids()[2], "ERROR")
    faults = (
        FaultRule("list_services", "429", limit=1, retry_after=0),
        FaultRule("update_service", "503_text", limit=1),
        FaultRule("get_service", "drop", limit=1),
    )
    served.emu.reconfigure(faults=faults)
    plan = served.plan("all.json", {"update": {"description": "rolled"}, "targets": EVERY_SERVICE["targets"]})
    journal = served.files / "run.jsonl"
    report = served.files / "report.json"
    resumed_report = served.files / "resumed.json"
    # An existing, world-readable report file is made private when it is overwritten.
    report.write_text("{}")
    report.chmod(0o644)
    outputs: list[str] = []
    try:
        status, out, err = run_cli(capsys, "fleet", "apply", plan, "--dry-run", *served.connection())
        assert status == 0, err
        outputs += [out, err]
        status, out, err = run_cli(
            capsys, "fleet", "apply", plan, "--journal", str(journal), "--report", str(report),
            # After the injected 503 the engine looks before sending again, waiting for proof for up to half a
            # service's timeout: 4 s instead of the default 30 minutes' cap of a minute (updates take 50 ms here).
            "--concurrency", "4", "--timeout", "8", *served.connection(),
        )  # fmt: skip
        assert status == 1, err
        assert "stopped: budget_exceeded" in out
        outputs += [out, err]
        status, out, err = run_cli(
            capsys, "fleet", "resume", str(journal), "--max-failures", "5", "--report", str(resumed_report),
            *served.connection(),
        )  # fmt: skip
        assert status == 1, err  # the ERROR service stays failed; every other one succeeded
        outputs += [out, err]
    finally:
        served.emu.reconfigure(faults=())
    assert orjson.loads(resumed_report.read_bytes())["summary"]["counts"]["succeeded"] == 7
    assert sum(served.emu.counters.faults.values()) == len(faults)
    for path in (journal, report, resumed_report):
        assert private(path), f"{path.name} is not mode 0600"
    served.assert_nothing_secret(
        *outputs, journal.read_bytes(), report.read_bytes(), resumed_report.read_bytes(), logged(debug_logs)
    )


def test_fleet_with_wrong_credentials_at_debug_shows_no_secret(
    served: Served, debug_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fleet run refused for its signature (and its report) shows neither the right nor the wrong secret."""
    ids = served.emu.service_ids()[:2]
    plan = served.plan("two.json", {"update": WORKER_UPDATE, "targets": ids})
    report = served.files / "refused.json"
    status, out, err = run_cli(
        capsys, "fleet", "apply", plan, "--report", str(report), *served.connection(secret=served.wrong_secret)
    )
    assert status == 2
    assert "HTTP 401" in out
    served.assert_nothing_secret(out, err, report.read_bytes(), logged(debug_logs))


# -- the real terminal --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_subprocess_with_log_level_debug_shows_no_secret(tmp_path: Path) -> None:
    """``aiodataops --log-level debug fleet apply`` then ``resume`` print DEBUG lines and no secret."""
    witness = Witness()
    emulator = Emulator(data_ops=1, services_per_data_ops=4, update_duration=(0.02, 0.05), credentials=CREDENTIALS)
    witness.attach(emulator)
    (tmp_path / "token").write_text(str(CREDENTIALS.auth_token))
    plan = tmp_path / "plan.json"
    plan.write_bytes(orjson.dumps(EVERY_SERVICE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCP_")}
    env |= {"SCP_ACCESS_KEY": CREDENTIALS.access_key, "SCP_SECRET_KEY": CREDENTIALS.secret_key}
    command = [sys.executable, "-m", "aiodataops", "--log-level", "debug", "fleet"]
    async with emulator as emu:
        connection = ["--endpoint", emu.base_url, "--auth-token-file", "token"]
        with anyio.fail_after(60):
            applied = await anyio.run_process(
                [*command, "apply", str(plan), "--journal", "run.jsonl", *connection],
                env=env, cwd=tmp_path, check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            resumed = await anyio.run_process(
                [*command, "resume", "run.jsonl", "--auth-token-file", "token"],
                env=env, cwd=tmp_path, check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        passwords = [emu.service_body(sid)["account"]["account_password"] for sid in emu.service_ids()]
    assert applied.returncode == 0, applied.stderr.decode()
    assert resumed.returncode == 0, resumed.stderr.decode()
    shown = b"\n".join(
        [applied.stdout, applied.stderr, resumed.stdout, resumed.stderr, (tmp_path / "run.jsonl").read_bytes()]
    ).decode()
    assert "DEBUG aiodataops.transport: send PUT" in shown
    assert set(witness.tokens) == {CREDENTIALS.auth_token}
    secrets = [CREDENTIALS.secret_key, str(CREDENTIALS.auth_token), PASSWORD_MARK, *passwords, *witness.signatures]
    assert len(witness.signatures) >= 8
    assert [s for s in secrets if s in shown] == []
