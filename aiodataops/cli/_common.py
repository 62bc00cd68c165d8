"""What every sub-command shares: the exit statuses, the way an error becomes a message and a status, and counted
nouns ("1 target", "2 targets")."""

from __future__ import annotations

import enum
import sys
from typing import Final

from aiodataops._errors import AuthenticationError, ConfigurationError, DataOpsError, PermissionDeniedError
from aiodataops._plural import plural
from aiodataops.fleet import JournalError, PlanError

__all__ = ["USAGE_ERRORS", "ExitCode", "error_exit", "plural", "usage_error"]

#: Errors that are the caller's to fix, like a bad flag (exit 2): settings, plans, journals, and credentials the
#: server refuses (401) or that may not do what was asked (403).
USAGE_ERRORS: Final = (ConfigurationError, PlanError, JournalError, AuthenticationError, PermissionDeniedError)


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


def error_exit(command: str | None, exc: DataOpsError) -> ExitCode:
    """Print ``aiodataops [COMMAND]: ERROR`` to standard error; ``USAGE`` for the ``USAGE_ERRORS``, else ``FAILED``."""
    print(f"aiodataops{f' {command}' if command else ''}: {exc}", file=sys.stderr)
    return ExitCode.USAGE if isinstance(exc, USAGE_ERRORS) else ExitCode.FAILED
