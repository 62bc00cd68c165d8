"""Flags every command shares, defined once: ``-o/--output``, and ``--log-level`` with its ``--debug`` alias,
accepted before or after the sub-command (``aiodataops --debug services list`` = ``aiodataops services list
--debug``); and the walk over every sub-parser that puts them there (the completion command walks it too)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["LOG_LEVELS", "add_logging_options", "add_output_option", "sub_parsers"]

LOG_LEVELS: Final = ("debug", "info", "warning", "error")


def add_output_option(parser: argparse.ArgumentParser, choices: tuple[str, ...], help_text: str) -> None:
    """Add ``-o/--output`` with ``choices``, the first being the default."""
    parser.add_argument("-o", "--output", choices=choices, default=choices[0], help=help_text)


def add_logging_options(parser: argparse.ArgumentParser, *, default: str) -> None:
    """Add ``--log-level`` and ``--debug``; a sub-parser passes ``argparse.SUPPRESS`` so that, when neither is
    given after the sub-command, the value given before it (or the top-level default) stands."""
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=default,
        help="log to stderr from this level (default warning); no level ever shows a secret",
    )
    parser.add_argument(
        "--debug",
        dest="log_level",
        action="store_const",
        const="debug",
        default=default,
        help="the same as --log-level debug",
    )


def sub_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser below ``parser`` (``fleet``, ``fleet apply``, ...), each once, parents before children."""
    for action in parser._actions:  # noqa: SLF001 -- argparse has no public way to list a parser's sub-commands
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001 -- the same: the class is not public
            seen: set[int] = set()
            for child in action.choices.values():
                if id(child) not in seen:  # an alias maps a second name to the same parser
                    seen.add(id(child))
                    yield child
                    yield from sub_parsers(child)
