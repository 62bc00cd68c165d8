"""``Timeouts.read`` (the longest silence between two reads of an answer) at the cost of a clock reading per read.

aiohttp bounds a silence by cancelling its timer and scheduling a new one (``loop.call_later``) at the start of
every answer and on every chunk received, and cancels it at the end of the body: two or three timer handles per
request, each a push on the event loop's heap (compared in Python, ``TimerHandle.__lt__``) and a cancelled handle
for the loop to pop later. Measured with callgrind, that was about 46 k instructions per request (~9% of what raw
aiohttp spends on one), most of ``fleet.apply``'s CPU per poll above it (issue 13 item 4).

``LazyReadTimer`` keeps aiohttp's protocol and meaning and only changes the timer's bookkeeping: a read notes the
time; one timer per connection stays scheduled while it is in use, and when it fires before the silence reached
``read_timeout`` (something was read since) it is set again for the moment it would. The timeout fires at the same
moment as aiohttp's would, with the same error (aiohttp's own ``_on_read_timeout``); between answers the timer is
only marked idle, and a connection's timer is cancelled when it closes. When aiohttp's protocol no longer has the
methods this relies on, ``install`` leaves the connector as it is (aiohttp's own timer, the same behaviour).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from aiohttp.client_proto import ResponseHandler

if TYPE_CHECKING:
    import aiohttp

__all__ = ["LazyReadTimer", "install"]

#: The protocol methods ``LazyReadTimer`` overrides or calls: without them it is not installed.
_NEEDS = ("_reschedule_timeout", "_drop_timeout", "_on_read_timeout", "connection_lost")


class LazyReadTimer(ResponseHandler):
    """aiohttp's response protocol, its read timeout kept by one timer per connection (see the module docstring)."""

    _last_read = 0.0
    _reading = False

    def _reschedule_timeout(self) -> None:
        timeout = self._read_timeout
        if not timeout:
            self._reading = False
            return
        loop = self._loop
        now = loop.time()
        self._last_read = now
        self._reading = True
        handle = self._read_timeout_handle
        due = now + timeout
        if handle is not None and handle.when() > due:
            handle.cancel()  # set for a longer timeout (an earlier answer's): this one must not fire later
            handle = None
        if handle is None:
            self._read_timeout_handle = loop.call_at(due, self._read_timer_fired)

    def _drop_timeout(self) -> None:
        # Between answers (or paused for flow control): nothing is awaited, so a silence is no timeout. The timer
        # stays scheduled, to be reused by the next answer on this connection.
        self._reading = False

    def _read_timer_fired(self) -> None:
        self._read_timeout_handle = None
        timeout = self._read_timeout
        if not self._reading or not timeout:
            return
        due = self._last_read + timeout
        if self._loop.time() >= due:
            self._on_read_timeout()
        else:
            self._read_timeout_handle = self._loop.call_at(due, self._read_timer_fired)

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        handle, self._read_timeout_handle = self._read_timeout_handle, None
        self._reading = False
        if handle is not None:
            handle.cancel()


def install(connector: aiohttp.TCPConnector) -> bool:
    """Make ``connector``'s new connections use ``LazyReadTimer``; False (nothing changed) when this aiohttp's
    connector or protocol is not shaped as expected."""
    factory: Any = getattr(connector, "_factory", None)
    if not (isinstance(factory, functools.partial) and factory.func is ResponseHandler and not factory.args):
        return False
    if not all(name in ResponseHandler.__dict__ for name in _NEEDS):
        return False
    connector._factory = functools.partial(LazyReadTimer, **factory.keywords)  # type: ignore[assignment] # noqa: SLF001 -- no public hook for the protocol class; a subclass fits wherever the base does
    return True
