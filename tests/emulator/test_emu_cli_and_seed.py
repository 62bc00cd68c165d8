"""``aiodataops emulator`` parses its options and serves; seeded fleets have real formats and valid names."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys

import aiohttp
import pytest

from aiodataops._signing import Credentials, now_ms, signed_headers
from aiodataops.cli import build_parser, main
from aiodataops.cli._emulator import config_from_args, parse_fault, parse_latency, parse_seconds_range
from aiodataops.emulator import Emulator, EmulatorConfig, FaultRule, Latency
from aiodataops.emulator._validate import NAME_PATTERN


def test_parse_fault() -> None:
    """OP:KIND:RATE[:RETRY_AFTER] becomes a FaultRule."""
    assert parse_fault("update_service:429:0.1:2") == FaultRule("update_service", "429", 0.1, retry_after=2.0)
    assert parse_fault("*:503_text:0.05") == FaultRule("*", "503_text", 0.05)


@pytest.mark.parametrize(
    "text",
    ["update_service:429", "get_thing:500:0.1", "get_service:418:0.1", "get_service:500:lots", "get_service:500:2"],
)
def test_parse_fault_refuses_bad_text(text: str) -> None:
    """A fault that is malformed or names an unknown operation or kind, or a rate above 1, is refused."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_fault(text)


def test_parse_latency_and_seconds() -> None:
    """Latency and MIN,MAX options become Latency objects and (min, max) pairs."""
    assert parse_latency("uniform:0.01,0.05") == ("*", Latency.uniform(0.01, 0.05))
    assert parse_latency("get_service=lognormal:0.02,0.6") == ("get_service", Latency.lognormal(0.02, 0.6))
    assert parse_seconds_range("1,3") == (1.0, 3.0)
    assert parse_seconds_range("2") == (2.0, 2.0)
    for bad in ("3,1", "x", "1,2,3"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_seconds_range(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_latency("normal:1")


def test_options_become_config() -> None:
    """Every option lands in the EmulatorConfig the command serves."""
    args = build_parser().parse_args(
        [
            "emulator",
            "--port",
            "0",
            "--data-ops",
            "3",
            "--services",
            "100",
            "--seed",
            "9",
            "--update-seconds",
            "1,2",
            "--stale-read",
            "0.5",
            "--error-rate",
            "0.1",
            "--state-case",
            "title",
            "--fault",
            "get_service:500:0.2",
            "--latency",
            "uniform:0,0.01",
        ]
    )
    config = config_from_args(args)
    assert (config.data_ops, config.services, config.seed, config.update_duration) == (3, 100, 9, (1.0, 2.0))
    assert (config.stale_read_seconds, config.error_rate, config.state_case) == (0.5, 0.1, "title")
    assert config.faults == (FaultRule("get_service", "500", 0.2),)
    assert config.latency == {"*": Latency.uniform(0.0, 0.01)}
    assert config.service_counts() == [34, 33, 33]


def test_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --fault ends with exit status 2 and says what is wrong."""
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "--fault", "get_service:teapot:1"])
    assert exit_info.value.code == 2
    assert "unknown fault kind" in capsys.readouterr().err


@pytest.mark.anyio
async def test_command_serves_until_terminated() -> None:
    """The command prints its base URL and credentials, serves signed requests, and exits 0 on SIGTERM."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(  # noqa: ASYNC220 -- a child process read line by line, briefly
        [sys.executable, "-m", "aiodataops", "emulator", "--port", "0", "--services", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        fields = {k.strip(): v.strip() for k, v in (line.split(": ", 1) for line in lines[1:4])}
        credentials = Credentials(fields["access key"], fields["secret key"])
        url = fields["base URL"] + "/v1/data-ops-services"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers=signed_headers("GET", url, now_ms(), credentials)) as response,
        ):
            body = await response.json()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
    assert lines[0].startswith("aiodataops emulator: 2 data ops, 4 services")
    assert (response.status, body["total_count"]) == (200, 4)


def test_big_fleet_names_and_ids() -> None:
    """A 10,000-service fleet has unique valid names and ids in the real formats, spread over its data ops."""
    emu = Emulator(data_ops=7, services=10_000, seed=4)
    bodies = [emu.store.services[s].body for s in emu.service_ids()]
    names = [b["data_ops_service_name"] for b in bodies]
    assert len(bodies) == 10_000
    assert len(set(names)) == 10_000
    assert all(NAME_PATTERN.match(n) and 3 <= len(n) <= 15 for n in names)
    assert all(re.fullmatch(r"DOPS_SERVICE-[0-9a-f-]{36}", b["data_ops_service_id"]) for b in bodies)
    assert all(re.fullmatch(r"[0-9a-f]{32}", b["cluster_id"]) for b in bodies)
    assert {len(emu.store.data_ops_table.members[d]) for d in emu.data_ops_ids()} == {1428, 1429}


def test_same_seed_same_fleet() -> None:
    """The same seed seeds the same ids and names; another seed, other ids."""
    assert Emulator(seed=1).service_ids() == Emulator(seed=1).service_ids()
    assert Emulator(seed=1).service_ids() != Emulator(seed=2).service_ids()


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"update_duration": (2.0, 1.0)}, "update_duration"),
        ({"error_rate": 2.0}, "error_rate"),
        ({"state_case": "lower"}, "state_case"),
        ({"data_ops": -1}, "data_ops"),
        ({"data_ops": 0, "services": 3}, "services"),
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, object], problem: str) -> None:
    """Contradictory or out-of-range settings are refused with a message naming the setting."""
    with pytest.raises(ValueError, match=problem):
        EmulatorConfig(**kwargs).service_counts()  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_base_url_needs_a_started_emulator() -> None:
    """base_url before start (or after close) raises, saying how to start it."""
    emu = Emulator()
    with pytest.raises(RuntimeError, match="not started"):
        _ = emu.base_url
    async with emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = emu.base_url


def test_reprs_hide_the_secret_key() -> None:
    """Neither the config nor the emulator shows the secret key or a password in its repr."""
    config = EmulatorConfig(credentials=Credentials("AK-1", "sk-very-secret"))
    emu = Emulator(config=config)
    text = repr(config) + repr(emu) + repr(emu.credentials) + repr(emu.counters)
    assert "sk-very-secret" not in text
    assert "EMUPASS-" not in text
    assert emu.credentials.secret_key == "sk-very-secret"
