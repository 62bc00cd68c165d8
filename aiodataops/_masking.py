"""Masking of secrets in what a server said: by key, and by the values this client sent.

Two rules, applied to every string that leaves the SDK from a server's answer (an error's message, details, body,
code and request id, and so its ``str`` and ``repr``, the logs, a fleet report and its journal):

- **by key**: the value after an ``account_password`` key is masked wherever the key shows, in JSON
  (``"account_password": "pw"``), in a Python ``repr`` inside a message (``'account_password': 'pw'``), in JSON
  quoted inside a JSON string (``\\"account_password\\": \\"pw\\"``) and as ``account_password=pw``;
- **by value**: the passwords of the request (every ``*password*`` key of its JSON body, at any depth) are masked
  wherever they appear, with no key beside them (``rejected value [pw]``), also as JSON, ``repr``, HTML and URL
  escaping would write them. A server that repeats the request back can then show none of them.

Masking happens before anything is cut short, so no prefix of a secret survives a truncated message.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote, quote_plus

import orjson

__all__ = ["MASK", "NO_SECRETS", "Secrets", "mask_text", "mask_value", "redact_body", "secrets_in_body"]

MASK: Final = "***"
_MAX_BODY: Final = 4096
_SECRET_KEY_WORD: Final = "password"  # noqa: S105 -- the word a secret's key holds, not a secret
# The key (quoted, or quoted inside a JSON string) and ``:`` or ``=``, or the bare key and ``=`` (a bare key and a
# colon is prose: "account.account_password: too short" names a field, not a value), then the value: a JSON
# string, a Python string, an escaped JSON string, or any bare scalar (a number, true, null): a password never
# shows, whatever its type. Quoted values are looked for up to 1 KiB ahead, so that a hostile body of many keys and
# no closing quote costs linear time (and runs of backslashes or spaces are bounded for the same reason).
_PASSWORD_RE: Final = re.compile(
    r"""((?:\\{0,8}["'])account_password(?:\\{0,8}["'])\s{0,8}[:=]\s{0,8}|\baccount_password\s{0,8}=\s{0,8})"""
    r"""("(?:[^"\\]|\\.){0,1024}"|'(?:[^'\\]|\\.){0,1024}'|(?P<q>\\{1,8}["'])(?:.{0,1024}?[^\\])?(?P=q)"""
    r"""|[^,;}\]\s]+)""",
    re.DOTALL,
)


def _masked_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if (delimiter := match.group("q")) is not None:  # a quote escaped once or more: masked up to its twin
        return f"{match.group(1)}{delimiter}{MASK}{delimiter}"
    if value[:1] in {'"', "'"}:
        return f"{match.group(1)}{value[0]}{MASK}{value[0]}"
    return f'{match.group(1)}"{MASK}"'


_ESCAPES: Final[tuple[Callable[[str], str], ...]] = (
    lambda text: json.dumps(text)[1:-1],  # JSON, non-ASCII as \\uXXXX
    lambda text: orjson.dumps(text).decode()[1:-1],  # JSON, UTF-8 kept
    lambda text: repr(text)[1:-1],  # Python's repr, as str(dict) writes it
    html.escape,
    lambda text: quote(text, safe=""),
    quote_plus,
)


class Secrets:
    """The secret values of one request, and every way a server could write them back; empty is allowed."""

    __slots__ = ("_pattern", "values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: frozenset[str] = frozenset(v for v in values if v)
        # Each value as written, and as up to three layers of escaping would write it (a repr inside a JSON string
        # inside a JSON body, say): a server repeating a request may quote it any number of ways.
        forms: set[str] = set(self.values)
        layer = set(self.values)
        for _ in range(3):
            layer = {escaped for form in layer for escape in _ESCAPES if (escaped := escape(form)) not in forms}
            forms |= layer
        forms.discard("")
        # Longest first, so that a secret holding another one is masked whole.
        self._pattern = (
            re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))) if forms else None
        )

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:
        return f"Secrets(<{len(self.values)} masked>)"

    def scrub(self, text: str) -> str:
        """Replace every written form of every secret in ``text`` with ``***``."""
        return text if self._pattern is None else self._pattern.sub(MASK, text)


NO_SECRETS: Final = Secrets()


def _password_values(data: Any, found: set[str]) -> None:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and _SECRET_KEY_WORD in key.lower() and not isinstance(item, Mapping | list):
                    if item is not None and item != "":
                        found.add(item if isinstance(item, str) else orjson.dumps(item).decode())
                else:
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)


def secrets_in_body(body: bytes | None) -> Secrets:
    """The passwords a JSON request body carries (every ``*password*`` key, at any depth); none if not JSON."""
    if not body or _SECRET_KEY_WORD.encode() not in body.lower():
        return NO_SECRETS
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return NO_SECRETS
    found: set[str] = set()
    _password_values(data, found)
    return Secrets(found)


def mask_text(text: str, secrets: Secrets = NO_SECRETS) -> str:
    """Mask ``account_password`` values by key, then every value in ``secrets`` wherever it shows."""
    return secrets.scrub(_PASSWORD_RE.sub(_masked_value, text))


def mask_value(value: Any, secrets: Secrets = NO_SECRETS) -> Any:
    """A copy of decoded JSON with every ``*password*`` key's value masked and every string passed to ``mask_text``."""
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, Mapping):
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            secret_key = isinstance(key, str) and _SECRET_KEY_WORD in key.lower()
            masked[key] = MASK if secret_key and item is not None and item != "" else mask_value(item, secrets)
        return masked
    if isinstance(value, list | tuple):
        return [mask_value(item, secrets) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and secrets:
        return MASK if orjson.dumps(value).decode() in secrets.values else value
    return value


def redact_body(text: str, secrets: Secrets = NO_SECRETS) -> str:
    """Mask every password in a raw body (see ``mask_text``) and cut it to a size fit for an exception."""
    masked = mask_text(text, secrets)
    if len(masked) > _MAX_BODY:
        return masked[:_MAX_BODY] + f"... [{len(masked) - _MAX_BODY} more characters]"
    return masked
