"""What the emulator saw: requests by operation and status, concurrency, PUTs per service, a request log.

The log keeps the method, the path with its query, the operation and the status, and nothing else: no header, no
body, so no key, signature, token or password can ever be in it. A dropped connection is logged with status 0.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

__all__ = ["DROPPED", "Counters", "LogEntry"]

#: The status recorded for a request whose connection was dropped without an answer.
DROPPED = 0


class LogEntry(NamedTuple):
    """One request as the emulator answered it."""

    method: str
    path: str
    operation: str
    status: int


class Counters:
    """Live counters of one emulator; ``reset()`` clears them between phases of a test or benchmark."""

    def __init__(self, log_limit: int = 100_000) -> None:
        self._log_limit = log_limit
        self.requests: Counter[tuple[str, int]] = Counter()
        self.faults: Counter[tuple[str, str]] = Counter()
        self.puts_per_service: Counter[str] = Counter()
        self.accepted_puts_per_service: Counter[str] = Counter()
        self.log: list[LogEntry] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def reset(self) -> None:
        """Forget everything counted so far (``in_flight`` keeps counting the requests still running)."""
        self.requests.clear()
        self.faults.clear()
        self.puts_per_service.clear()
        self.accepted_puts_per_service.clear()
        self.log.clear()
        self.max_in_flight = self.in_flight

    def started(self) -> None:
        """Count a request coming in."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self, method: str, path: str, operation: str, status: int) -> None:
        """Count a request answered (or dropped: status 0)."""
        self.in_flight -= 1
        self.requests[operation, status] += 1
        if self._log_limit:
            log = self.log
            log.append(LogEntry(method, path, operation, status))
            if len(log) > self._log_limit:
                # Dropping the older half at once keeps appends amortised O(1).
                del log[: len(log) // 2]

    def total(self, operation: str | None = None, status: int | None = None) -> int:
        """Return how many requests matched ``operation`` and ``status`` (``None``: any)."""
        return sum(
            n
            for (op, st), n in self.requests.items()
            if (operation is None or op == operation) and (status is None or st == status)
        )

    def by_status(self) -> Counter[int]:
        """Return the request counts per status, over every operation."""
        result: Counter[int] = Counter()
        for (_, status), n in self.requests.items():
            result[status] += n
        return result

    def __repr__(self) -> str:
        return (
            f"Counters(requests={sum(self.requests.values())}, in_flight={self.in_flight}, "
            f"max_in_flight={self.max_in_flight}, puts={sum(self.puts_per_service.values())}, "
            f"accepted_puts={sum(self.accepted_puts_per_service.values())})"
        )
