"""Argument types shared by the sub-commands: each turns a flag's text into a value or a clear usage error."""

from __future__ import annotations

import argparse
import math

__all__ = ["count", "positive_int", "positive_seconds", "seconds_or_zero"]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a concurrency, a page size)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def count(text: str) -> int:
    """A whole number of 0 or more (a number of retries)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds above 0 (a timeout, a rate)."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected more than 0, got {text!r}")
    return value


def seconds_or_zero(text: str) -> float:
    """A finite number of seconds, 0 included (a bake time)."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value
