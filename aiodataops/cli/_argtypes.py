"""Argument types shared by the sub-commands: each turns a flag's text into a value or a clear usage error."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any, Final, Literal

import jmespath  # type: ignore[import-untyped]  # it ships no types; compile() is all this calls
from jmespath.exceptions import JMESPathError  # type: ignore[import-untyped]  # the same

from aiodataops._ids import ID_RULE, id_problem

__all__ = [
    "MAX_CONCURRENCY",
    "concurrency",
    "concurrency_or_auto",
    "count",
    "jmespath_expression",
    "positive_int",
    "positive_seconds",
    "seconds_or_zero",
    "service_id",
]

#: The most services one run may have in flight: each is a worker task and a pooled connection, and far more
#: than any API takes at once (a million started a million workers and the process died).
MAX_CONCURRENCY: Final = 4096


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


def concurrency_or_auto(text: str) -> int | Literal["auto"]:
    """``auto`` (the adaptive limit), or a whole number from 1 to ``MAX_CONCURRENCY`` (services in flight at most)."""
    if text.strip().lower() == "auto":
        return "auto"
    return concurrency(text)


def concurrency(text: str) -> int:
    """A whole number from 1 to ``MAX_CONCURRENCY`` (services in flight at most)."""
    value = positive_int(text)
    if value > MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_CONCURRENCY}, got {value}")
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


def service_id(text: str) -> str:
    """A service id as the API writes one (``DOPS_SERVICE-...``), by the rule plans follow too (``_ids``)."""
    if id_problem(text) is not None:
        raise argparse.ArgumentTypeError(f"expected a service id such as DOPS_SERVICE-..., got {text!r} ({ID_RULE})")
    return text


def jmespath_expression(text: str) -> Any:
    """A JMESPath expression (``--query``), compiled: a bad one is a usage error naming the flag and the problem."""
    try:
        return jmespath.compile(text)
    except JMESPathError as exc:
        # Its messages span lines (the expression, then a caret under the place); one line reads better here.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip().strip("^")]
        problem = re.sub(r"^invalid jmespath expression:\s*", "", " ".join(lines), flags=re.IGNORECASE)
        raise argparse.ArgumentTypeError(f"not a JMESPath expression: {problem}") from None
