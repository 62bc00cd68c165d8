"""Seeded draws that do not depend on the order requests arrive in.

Every random decision of the emulator (a fault, a latency, how long a change takes, whether it ends in ERROR) is a
hash of the seed and of *what* is being decided (an operation, a resource, the how-many-th time), never a draw from a
shared generator: concurrent clients interleave differently on every run, and a shared stream would give each run a
different outcome for the same seed.
"""

from __future__ import annotations

import hashlib
import math
from statistics import NormalDist

__all__ = ["between", "lognormal", "unit"]

_SCALE = float(1 << 64)
_NORMAL = NormalDist()


def unit(seed: int, *parts: object) -> float:
    """Return a number in ``[0, 1)`` fixed by the seed and the parts, uniformly spread."""
    key = "\x1f".join(str(p) for p in (seed, *parts)).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def between(low: float, high: float, u: float) -> float:
    """Map ``u`` in ``[0, 1)`` onto ``[low, high]``."""
    return low + (high - low) * u


def lognormal(median: float, sigma: float, u: float) -> float:
    """Map ``u`` in ``[0, 1)`` onto a log-normal distribution with this median and shape."""
    # inv_cdf needs an open interval; the clamp moves at most one value in 2**64.
    z = _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
    return median * math.exp(sigma * z)
