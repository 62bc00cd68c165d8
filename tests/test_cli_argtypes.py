"""The shared argument types of the command line."""

from __future__ import annotations

import argparse

import pytest

from aiodataops.cli._argtypes import (
    MAX_CONCURRENCY,
    concurrency,
    count,
    positive_int,
    positive_seconds,
    seconds_or_zero,
    service_id,
)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        (positive_int, "3", 3),
        (count, "0", 0),
        (positive_seconds, "0.5", 0.5),
        (seconds_or_zero, "0", 0.0),
        (concurrency, "4096", 4096),
        (service_id, "DOPS_SERVICE-8a3c0a52", "DOPS_SERVICE-8a3c0a52"),
    ],
)
def test_a_good_value_is_read(kind: object, text: str, expected: float) -> None:
    """Each type turns a valid flag text into its number."""
    assert kind(text) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (positive_int, "0", "at least 1"),
        (positive_int, "two", "whole number"),
        (count, "-1", "0 or more"),
        (positive_seconds, "0", "more than 0"),
        (positive_seconds, "inf", "finite"),
        (positive_seconds, "nan", "finite"),
        (seconds_or_zero, "-0.1", "0 or more"),
        (seconds_or_zero, "soon", "number of seconds"),
        (concurrency, "0", "at least 1"),
        (concurrency, "1000000", "at most 4096"),
        (service_id, "", "expected a service id"),
        (service_id, ".", "expected a service id"),
        (service_id, "..", "expected a service id"),
        (service_id, "a/b", "expected a service id"),
        (service_id, "../DOPS_SERVICE-x", "expected a service id"),
        (service_id, "DOPS_SERVICE-x\n", "expected a service id"),
        (service_id, "DOPS SERVICE", "expected a service id"),
    ],
)
def test_a_bad_value_is_a_usage_error_that_says_why(kind: object, text: str, message: str) -> None:
    """A bad flag value raises argparse's type error with what was expected and what was given."""
    with pytest.raises(argparse.ArgumentTypeError, match=message) as info:
        kind(text)  # type: ignore[operator]
    assert repr(text) in str(info.value) or text.lstrip("-").replace(".", "").isdigit()


def test_the_concurrency_bound_is_4096() -> None:
    """The bound is the one the issue names, and the flag's help and error say it."""
    assert MAX_CONCURRENCY == 4096
