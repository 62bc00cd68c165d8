"""The ``aiodataops`` command: one sub-command per module in this package, each registering its own parser.

Exit status across every sub-command: 0 success, 1 some work failed, 2 bad input or usage, 130 interrupted
(141 when standard output was closed early, as by `| head`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence  # noqa: TC003 -- kept at run time for readers of the signature
from importlib.metadata import PackageNotFoundError, version

from aiodataops._errors import DataOpsError
from aiodataops.cli import _completion, _demo, _emulator, _fleet, _services
from aiodataops.cli._common import ExitCode, error_exit
from aiodataops.cli._flags import add_logging_options, sub_parsers

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="aiodataops",
        description="Samsung Cloud Platform Data Ops (managed Airflow): services, fleet updates, a local emulator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    add_logging_options(parser, default="warning")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (_demo, _fleet, _services, _emulator, _completion):
        module.register(sub)
    for child in sub_parsers(parser):
        # After the sub-command too: `aiodataops services list --debug` as well as `aiodataops --debug services list`.
        add_logging_options(child, default=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), handlers=[handler])
    try:
        status: int = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`aiodataops services list | head`): stop quietly, as a shell tool does, and keep
        # Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    except DataOpsError as exc:
        # Sub-commands report their own errors; this is the last net, so the user never sees a traceback.
        return error_exit(None, exc)
    return status


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # the stream type varies on purpose
    """Write to whatever ``sys.stderr`` is at the time: a live progress panel redirects it, so log lines land above
    the panel instead of tearing through it."""

    @property  # logging assigns .stream in __init__; this property reads the current one instead
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def _version() -> str:
    try:
        return version("aiodataops")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"
