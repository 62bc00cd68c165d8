"""The `aiodataops fleet` sub-command (not yet built)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register this sub-command's parser (nothing yet)."""
