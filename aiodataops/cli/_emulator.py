"""``aiodataops emulator``: serve a local Data Ops API until stopped, and print how to reach it.

It prints the base URL, the access key and (on purpose, only here) the secret key: they are the emulator's own
throwaway test credentials, which sign nothing anywhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from aiodataops._signing import Credentials
from aiodataops.cli._common import ExitCode, usage_error
from aiodataops.emulator import DEFAULT_CREDENTIALS, Emulator, EmulatorConfig, FaultRule, Latency
from aiodataops.emulator._config import QUIRKS
from aiodataops.emulator._faults import FAULT_KINDS
from aiodataops.emulator._operations import OPERATIONS

__all__ = ["parse_fault", "parse_latency", "parse_seconds_range", "register"]


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
        quirks=frozenset(args.quirk),
        host=args.host,
        port=args.port,
        log_limit=10_000,
    )


async def _serve(emulator: Emulator) -> None:
    async with emulator:
        services, data_ops = len(emulator.store.services), len(emulator.store.data_ops)
        print(f"aiodataops emulator: {data_ops} data ops, {services} services (seed {emulator.config.seed})")
        print(f"  base URL:   {emulator.base_url}")
        print(f"  access key: {emulator.credentials.access_key}")
        # Printed on purpose: the emulator's own throwaway test key, accepted nowhere else.
        print(f"  secret key: {emulator.credentials.secret_key}")
        print("Serving until interrupted (Ctrl+C).", flush=True)
        stop = asyncio.Event()
        # SIGTERM (a benchmark or a supervisor stopping it) ends the run as cleanly as Ctrl+C does.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 for bad settings, 1 when the address cannot be bound."""
    try:
        emulator = Emulator(config_from_args(args))
    except (ValueError, TypeError) as exc:
        return usage_error("emulator", str(exc))
    try:
        asyncio.run(_serve(emulator))
    except OSError as exc:
        print(f"aiodataops emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK
