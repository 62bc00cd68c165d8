"""What every sub-command shares: the exit statuses and the way a usage error is reported."""

from __future__ import annotations

import enum
import sys

__all__ = ["ExitCode", "usage_error"]


class ExitCode(enum.IntEnum):
    """The exit status of every sub-command (the README's list; 141 is what a shell reports for a closed pipe)."""

    OK = 0
    #: Some of the work failed (an update, a wait, a read).
    FAILED = 1
    #: Bad input or usage: flags, plans, settings, journals, output paths, or credentials the server refuses.
    USAGE = 2
    #: Ctrl-C or SIGTERM (128 + SIGINT).
    INTERRUPTED = 130
    #: Standard output was closed early, as by ``| head`` (128 + SIGPIPE).
    BROKEN_PIPE = 141


def usage_error(command: str, message: str) -> ExitCode:
    """Print ``aiodataops COMMAND: MESSAGE`` to standard error and return ``ExitCode.USAGE``."""
    print(f"aiodataops {command}: {message}", file=sys.stderr)
    return ExitCode.USAGE
