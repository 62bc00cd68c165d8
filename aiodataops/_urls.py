"""Request URLs as SCP's gateway signs them: path segments percent-encoded whole, query keys sorted.

The signature covers the exact URL sent, so it is built once, here, already encoded, and handed to aiohttp as
``yarl.URL(..., encoded=True)`` so that nothing re-encodes it on the way (``_transport``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["encode_path", "encode_query"]

_BAD_SEGMENTS: Final = frozenset({"", ".", ".."})


def encode_path(*segments: str) -> str:
    """Join path segments, percent-encoding each one completely (a ``/`` inside an id stays inside it).

    An empty, ``.`` or ``..`` segment is refused: ``get("")`` would otherwise read the collection and ``..``
    would address another resource than the one named.
    """
    for segment in segments:
        if segment in _BAD_SEGMENTS or not isinstance(segment, str):
            raise ValueError(f"{segment!r} is not a usable id or name (empty, '.' and '..' address something else)")
    return "".join([_quoted(segment) for segment in segments])


@functools.lru_cache(maxsize=4096)
def _quoted(segment: str) -> str:
    # Cached: a wait builds the same path on every poll, and ``quote`` was ~3% of a fleet's CPU (benchmarks/README).
    # Bounded, so a 10,000-service fleet keeps memory flat; its constant segments ("v1", the collection) always hit.
    return "/" + quote(segment, safe="-_.~")


def encode_query(params: Mapping[str, str | int | bool | None]) -> str:
    """Encode query parameters as SCP's Go SDK does: keys sorted, values form-encoded, ``None`` left out."""
    parts = []
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        parts.append(f"{quote_plus(key)}={quote_plus(text)}")
    return "&".join(parts)
