"""Where ``fleet apply`` keeps its journal when no ``--journal`` is given, so that a run can always be resumed
and rolled back.

``$AIODATAOPS_STATE_DIR`` if set (tests point it at a temporary directory), else the user's state directory as
``platformdirs.user_state_dir("aiodataops")`` would name it (``$XDG_STATE_HOME/aiodataops``, by default
``~/.local/state/aiodataops``; ``~/Library/Application Support/aiodataops`` on macOS), without the dependency.
Journals go to its ``journals`` folder (created mode 0700), named after the command and the time.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Final

__all__ = ["STATE_DIR_ENV", "default_journal", "state_dir"]

#: The environment variable that overrides the state directory.
STATE_DIR_ENV: Final = "AIODATAOPS_STATE_DIR"


def state_dir() -> Path:
    """The directory aiodataops keeps its state in (not created here)."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "aiodataops"
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "aiodataops"


def default_journal(command: str, *, now: dt.datetime | None = None) -> Path:
    """A new journal path for ``command`` (``apply``) in the state directory's ``journals`` folder (created, 0700):
    ``apply-20261130T130501Z-4242.jsonl``."""
    folder = state_dir() / "journals"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"{command}-{stamp}-{os.getpid()}.jsonl"
