"""``aiodataops demo``: a canary-batched fleet update of a few hundred emulated services, in about half a minute.

It starts the emulator in this process with a seeded fleet (300 services in 30 data ops by default) that misbehaves
on purpose: a few percent of updates end in ERROR, some PUTs are answered 429 with ``Retry-After``, some reads 503,
and reads right after an update are stale for a moment. Then it writes a plan (every service: one more worker
replica), and applies it through the real stack (``DataOpsClient`` over HTTP, signed requests, retries, settle
polling, the fleet engine with batches ``1, 10, 25%``, a bake between batches, a failure budget and a journal),
showing live progress on standard error. At the end it prints the summary: counts per outcome, the failed services
with their reasons, timings, the requests the emulator served by status and the faults it injected, and where the
plan, journal and report were written (a new temporary directory unless ``--dir`` says where).

Exit status: 0 when the run behaved as designed: it completed, every service of the fleet is in the report exactly
once, no service was sent its update twice, and every service that did not succeed is one whose update the
emulator made fail on purpose (its true state is ERROR). The injected failures are the point of the demo, so they
do not make it "fail"; anything else does (1). ``--strict`` applies the ``fleet apply`` rule instead: 1 as soon as
any service did not succeed. 2 bad usage, 130 interrupted (Ctrl-C: the first lets what is in flight settle).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

import anyio
import orjson

from aiodataops import DataOpsError
from aiodataops.cli._argtypes import MAX_CONCURRENCY, concurrency, positive_int
from aiodataops.cli._common import error_exit, usage_error
from aiodataops.cli._demo_run import DemoResult, DemoSettings, run_demo
from aiodataops.cli._demo_summary import print_intro, print_summary
from aiodataops.cli._flags import add_output_option
from aiodataops.cli._interrupts import run_interruptibly
from aiodataops.cli._output_files import unwritable
from aiodataops.cli._progress import FleetProgress

if TYPE_CHECKING:
    from aiodataops.emulator import Emulator

__all__ = ["register"]


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 100:  # noqa: PLR2004 -- beyond a hundred times slower nobody watches a demo
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 100, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``aiodataops demo``."""
    parser = sub.add_parser(
        "demo",
        help="a fleet update of a few hundred emulated services, with live progress (no account needed)",
        description="Start the emulator in this process with a seeded, misbehaving fleet, update every service "
        "in canary batches through the real client, show the progress and the report. Exit status 0 when the run "
        "behaved as designed (only the injected failures failed), 1 otherwise.",
    )
    parser.add_argument("--services", type=positive_int, default=300, metavar="N", help="fleet size (default 300)")
    parser.add_argument("--seed", type=int, default=7, metavar="S", help="seeds the fleet and its faults (default 7)")
    parser.add_argument(
        "--concurrency", type=concurrency, default=50, metavar="C",
        help=f"services in flight at most, up to {MAX_CONCURRENCY} (default 50)",
    )  # fmt: skip
    parser.add_argument(
        "--time-scale", type=_scale, default=1.0, metavar="X",
        help="multiply every emulated duration and poll delay by X (0.1: ten times faster; default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--dir", metavar="DIR", help="write the plan, journal and report here (default: a new temporary directory)"
    )
    parser.add_argument(
        "--progress", choices=("auto", "live", "plain", "off"), default="auto",
        help="live panel, plain lines, or nothing on standard error (default: live on a terminal)",
    )  # fmt: skip
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any service did not succeed, as `fleet apply` does"
    )
    add_output_option(parser, ("text", "json"), "text: a summary (default); json: one JSON document")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        services=args.services, seed=args.seed, concurrency=args.concurrency, time_scale=args.time_scale
    )
    try:
        directory = _directory(args.dir)
    except OSError as exc:
        return usage_error("demo", f"--dir {args.dir}: {exc.strerror or exc}")
    # The plan, journal and report go there: found unwritable now, not once the emulator is up.
    problem = unwritable(("--dir", str(directory / name)) for name in ("plan.yaml", "journal.jsonl", "report.json"))
    if problem is not None:
        return usage_error("demo", problem)
    text = args.output == "text"
    out = sys.stdout if text else None
    progress = (
        None
        if args.progress == "off"
        else FleetProgress(
            sys.stderr, total=settings.services, live={"auto": None, "live": True, "plain": False}[args.progress]
        )
    )
    try:
        result, _ = anyio.run(
            run_interruptibly,
            lambda stop, abort: _run_shown(settings, directory, progress, out, stop=stop, abort=abort),
        )
    except DataOpsError as exc:
        return error_exit("demo", exc)
    if text:
        print_summary(result, sys.stdout, strict=args.strict)
    else:
        sys.stdout.buffer.write(orjson.dumps(result.to_dict(strict=args.strict), option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    return result.exit_status(strict=args.strict)


def _directory(given: str | None) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix="aiodataops-demo-"))
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _run_shown(
    settings: DemoSettings,
    directory: Path,
    progress: FleetProgress | None,
    out: IO[str] | None,
    *,
    stop: anyio.Event,
    abort: anyio.Event,
) -> DemoResult:
    with contextlib.ExitStack() as shown:

        def ready(emu: Emulator) -> None:
            if out is not None:
                print_intro(settings, emu.base_url, out)
            if progress is not None:
                shown.enter_context(progress)  # after the intro: a live panel must own the terminal's bottom

        return await run_demo(
            settings,
            directory,
            on_event=progress.on_event if progress is not None else None,
            on_ready=ready,
            stop=stop,
            abort=abort,
        )
