"""The one rule for what may be a resource id, shared by the plan, the CLI and (as a last guard) the URL builder.

An id such as ``DOPS_SERVICE-8a3c...`` is sent as one path segment. Empty, ``.`` and ``..`` would address the
collection or another resource; a ``/`` would be encoded and reach no resource; whitespace and control characters
are never part of an id and break headers, terminals and logs. Such an id is refused where it is written, naming
the problem, instead of failing later with a ``ValueError`` from the URL builder.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ID_RULE", "has_space", "id_problem"]

#: The rule in one line, for messages.
ID_RULE: Final = "no '/', spaces or control characters; not empty, '.' or '..'"
#: ``\s`` on a str pattern is ``str.isspace`` per character (both use Py_UNICODE_ISSPACE), searched in C: a plan of
#: thousands of ids is checked without a Python step per character.
_SPACE: Final = re.compile(r"\s")


def has_space(text: str) -> bool:
    """Whether ``text`` holds a whitespace character (``str.isspace``), found without a Python step per one."""
    return _SPACE.search(text) is not None


def id_problem(text: str) -> str | None:
    """Why ``text`` cannot be a resource id, or ``None`` when it can (``text`` must be a ``str``)."""
    if text == "":
        return "empty"
    if text in {".", ".."}:
        return f"{text!r} addresses another resource than the one named"
    if "/" in text:
        return f"{text!r} holds a '/'"
    if has_space(text):
        return f"{text!r} holds a space or another whitespace character"
    if not text.isprintable():
        return f"{text!r} holds a control character"
    return None
