"""``aiodataops emulator``: serve a local Data Ops API until stopped, and print how to reach it.

It prints the base URL, the access key and (on purpose, only here) the secret key: they are the emulator's own
throwaway test credentials, which sign nothing anywhere else. It also prints them as ``export SCP_...=...`` lines to
paste into a shell (after an ``unset`` of the settings that would contradict or outlive them), and ``--env-file
PATH`` writes those lines to a file (mode 0600) to ``source``; ``--output json`` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
from typing import Any, Final

import orjson

from aiodataops._signing import Credentials
from aiodataops.cli._common import ExitCode, plural, usage_error
from aiodataops.cli._flags import add_output_option
from aiodataops.cli._output_files import unwritable
from aiodataops.emulator import DEFAULT_CREDENTIALS, Emulator, EmulatorConfig, FaultRule, Latency
from aiodataops.emulator._config import QUIRKS
from aiodataops.emulator._faults import FAULT_KINDS
from aiodataops.emulator._operations import OPERATIONS

__all__ = ["env_lines", "parse_fault", "parse_latency", "parse_seconds_range", "register"]

#: Settings of the shell that would contradict the emulator's endpoint (a region and env) or be sent along with
#: its keys (a temporary credential's token): the pasted lines unset them first.
_UNSET: Final = ("SCP_REGION", "SCP_ENV", "SCP_AUTH_TOKEN")


def parse_seconds_range(text: str) -> tuple[float, float]:
    """Read ``MIN,MAX`` (or one number for both) seconds."""
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX seconds, got {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or parts[0] < 0 or parts[1] < parts[0]:  # noqa: PLR2004 -- a pair
        raise argparse.ArgumentTypeError(f"expected MIN,MAX seconds with 0 <= MIN <= MAX, got {text!r}")
    return parts[0], parts[1]


def parse_fault(text: str) -> FaultRule:
    """Read ``OPERATION:KIND:RATE[:RETRY_AFTER]``, e.g. ``update_service:429:0.1:2`` or ``*:503_text:0.05``."""
    parts = text.split(":")
    if not 3 <= len(parts) <= 4:  # noqa: PLR2004 -- three or four fields
        raise argparse.ArgumentTypeError(f"expected OPERATION:KIND:RATE[:RETRY_AFTER], got {text!r}")
    operation, kind, rate_text = parts[:3]
    if operation != "*" and operation not in OPERATIONS:
        raise argparse.ArgumentTypeError(
            f"unknown operation {operation!r} in {text!r}; expected '*' or one of {', '.join(OPERATIONS)}"
        )
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown fault kind {kind!r} in {text!r}; expected one of {', '.join(sorted(FAULT_KINDS))}"
        )
    try:
        rate = float(rate_text)
        retry_after = float(parts[3]) if len(parts) == 4 else None  # noqa: PLR2004 -- the optional fourth field
        return FaultRule(operation=operation, kind=kind, rate=rate, retry_after=retry_after)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad fault {text!r}: {exc}") from None


def parse_latency(text: str) -> tuple[str, Latency]:
    """Read ``[OPERATION=]uniform:LO,HI`` or ``[OPERATION=]lognormal:MEDIAN[,SIGMA]`` (seconds)."""
    operation, _, spec = text.rpartition("=")
    operation = operation or "*"
    if operation != "*" and operation not in OPERATIONS:
        raise argparse.ArgumentTypeError(f"unknown operation {operation!r} in {text!r}")
    kind, _, numbers_text = spec.partition(":")
    try:
        numbers = [float(n) for n in numbers_text.split(",")]
        if kind == "uniform" and len(numbers) == 2:  # noqa: PLR2004 -- LO,HI
            return operation, Latency.uniform(numbers[0], numbers[1])
        if kind == "lognormal" and len(numbers) in (1, 2):
            return operation, Latency.lognormal(*numbers)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad latency {text!r}: {exc}") from None
    raise argparse.ArgumentTypeError(
        f"expected [OPERATION=]uniform:LO,HI or [OPERATION=]lognormal:MEDIAN[,SIGMA], got {text!r}"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``aiodataops emulator``."""
    parser = sub.add_parser(
        "emulator",
        help="serve a local Data Ops API (for tests, demos and benchmarks)",
        description="Serve a local, in-memory Data Ops API with signature checks, a timed lifecycle, stale reads "
        "and seeded faults. Prints its base URL and its throwaway test credentials.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on, 0 for any (default 8080)")
    parser.add_argument("--data-ops", type=int, default=2, metavar="N", help="seeded data ops (default 2)")
    parser.add_argument(
        "--services",
        type=int,
        default=10,
        metavar="N",
        help="seeded services in total, spread over the data ops (default 10)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fleet, timings and faults (default 0)")
    parser.add_argument(
        "--update-seconds",
        type=parse_seconds_range,
        default=(2.0, 6.0),
        metavar="MIN,MAX",
        help="how long an update stays UPDATING (default 2,6)",
    )
    parser.add_argument(
        "--create-seconds",
        type=parse_seconds_range,
        default=(5.0, 15.0),
        metavar="MIN,MAX",
        help="how long a create stays CREATING (default 5,15)",
    )
    parser.add_argument(
        "--delete-seconds",
        type=parse_seconds_range,
        default=(2.0, 6.0),
        metavar="MIN,MAX",
        help="how long a delete stays TERMINATING (default 2,6)",
    )
    parser.add_argument(
        "--stale-read",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds reads still show the old resource after a 202 (default 1)",
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, metavar="R", help="share of updates that end in ERROR (default 0)"
    )
    parser.add_argument(
        "--state-case", choices=("upper", "title"), default="upper", help="RUNNING or Running (default upper)"
    )
    parser.add_argument(
        "--fault",
        type=parse_fault,
        action="append",
        default=[],
        metavar="OP:KIND:RATE[:RA]",
        help="inject a fault, e.g. update_service:429:0.1:2 or '*:503_text:0.02' "
        f"(kinds: {', '.join(sorted(FAULT_KINDS))}); repeatable",
    )
    parser.add_argument(
        "--latency",
        type=parse_latency,
        action="append",
        default=[],
        metavar="[OP=]DIST",
        help="added latency, e.g. uniform:0.01,0.05 or get_service=lognormal:0.02,0.6; repeatable",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="R",
        help="allow R requests per second per access key (a token bucket), answer 429 with Retry-After beyond",
    )
    parser.add_argument(
        "--rate-burst",
        type=float,
        default=None,
        metavar="B",
        help="requests a key may send at once after a quiet spell (default: R, one second's worth)",
    )
    parser.add_argument(
        "--latency-per-in-flight",
        type=float,
        default=0.0,
        metavar="S",
        help="add S seconds to a request per other request in flight: latency that grows with load (default 0)",
    )
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        choices=sorted(QUIRKS),
        metavar="NAME",
        help="answer in an awkward wire form the real API may use; repeatable: "
        + "; ".join(f"{name}: {text}" for name, text in sorted(QUIRKS.items())),
    )
    parser.add_argument("--access-key", default=DEFAULT_CREDENTIALS.access_key, help="access key to accept")
    parser.add_argument(
        "--secret-key",
        default=DEFAULT_CREDENTIALS.secret_key,
        help="secret key to accept (a throwaway test value by default)",
    )
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help="also write the export lines here (mode 0600), for `. PATH` in another shell",
    )
    add_output_option(
        parser,
        ("text", "json"),
        "text: the URL, the credentials and export lines (default); json: one object with the same",
    )
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build the ``EmulatorConfig`` the command line describes."""
    latency: Any = dict(args.latency) if args.latency else None
    return EmulatorConfig(
        data_ops=args.data_ops,
        services=args.services,
        seed=args.seed,
        credentials=Credentials(args.access_key, args.secret_key),
        update_duration=args.update_seconds,
        create_duration=args.create_seconds,
        delete_duration=args.delete_seconds,
        stale_read_seconds=args.stale_read,
        error_rate=args.error_rate,
        state_case=args.state_case,
        latency=latency,
        faults=tuple(args.fault),
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        latency_per_in_flight=args.latency_per_in_flight,
        quirks=frozenset(args.quirk),
        host=args.host,
        port=args.port,
        log_limit=10_000,
    )


def env_lines(endpoint: str, credentials: Credentials) -> list[str]:
    """The shell lines that point the ``SCP_*`` settings at an emulator: an ``unset``, then three ``export``s."""
    values = {
        "SCP_DATAOPS_ENDPOINT": endpoint,
        "SCP_ACCESS_KEY": credentials.access_key,
        "SCP_SECRET_KEY": credentials.secret_key,
    }
    return [f"unset {' '.join(_UNSET)}", *(f"export {name}={shlex.quote(value)}" for name, value in values.items())]


class _EnvFileError(Exception):
    """``--env-file`` could not be written (it was checked before the start, so something changed since)."""


def _write_env_file(path: str, lines: list[str]) -> None:
    try:
        _write_private(path, "\n".join(lines) + "\n")
    except OSError as exc:
        raise _EnvFileError(f"--env-file {path}: {exc.strerror or exc}") from None


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: make it private too
        with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as f:
            f.write(text)
    finally:
        os.close(fd)


def _announce(emulator: Emulator, args: argparse.Namespace) -> None:
    """Say where the emulator listens and with which credentials, on stdout, and write ``--env-file``."""
    services, data_ops = len(emulator.store.services), len(emulator.store.data_ops)
    # Printed on purpose, here only: the emulator's own throwaway test key, accepted nowhere else.
    lines = env_lines(emulator.base_url, emulator.credentials)
    if args.env_file is not None:
        _write_env_file(args.env_file, lines)
    if args.output == "json":
        document = {
            "endpoint": emulator.base_url,
            "access_key": emulator.credentials.access_key,
            "secret_key": emulator.credentials.secret_key,
            "data_ops": data_ops,
            "services": services,
            "seed": emulator.config.seed,
        }
        print(orjson.dumps(document).decode(), flush=True)
        print("Serving until interrupted (Ctrl+C).", file=sys.stderr, flush=True)
        return
    print(f"aiodataops emulator: {data_ops} data ops, {plural(services, 'service')} (seed {emulator.config.seed})")
    print(f"  base URL:   {emulator.base_url}")
    print(f"  access key: {emulator.credentials.access_key}")
    print(f"  secret key: {emulator.credentials.secret_key}")
    written = f" (also written to {args.env_file})" if args.env_file is not None else ""
    print(f"To use it from a shell, paste{written}:")
    print("\n".join(lines))
    print("Serving until interrupted (Ctrl+C).", flush=True)


async def _serve(emulator: Emulator, args: argparse.Namespace) -> None:
    async with emulator:
        stop = asyncio.Event()
        # SIGTERM (a benchmark or a supervisor stopping it) ends the run as cleanly as Ctrl+C does; set up before
        # the announcement, so that whoever read it may stop the emulator at once.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        _announce(emulator, args)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 for bad settings, 1 when the address cannot be bound."""
    problem = unwritable([("--env-file", args.env_file)])
    if problem is not None:
        return usage_error("emulator", problem)
    try:
        emulator = Emulator(config_from_args(args))
    except (ValueError, TypeError) as exc:
        return usage_error("emulator", str(exc))
    try:
        asyncio.run(_serve(emulator, args))
    except _EnvFileError as exc:
        return usage_error("emulator", str(exc))
    except OSError as exc:
        print(f"aiodataops emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK
