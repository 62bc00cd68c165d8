"""The `aiodataops demo` sub-command (not yet built)."""

from __future__ import annotations

import argparse  # noqa: TC003 -- sub-command modules build parsers at run time


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register this sub-command's parser (nothing yet)."""
