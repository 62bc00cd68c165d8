"""The light read a poll needs: ``state`` and ``modified_dt`` now, the full model only once the wait ends.

A wait polls a resource many times and looks at two fields of each read; building the whole typed model on every
poll was most of the SDK's CPU cost over hand-written aiohttp (see ``benchmarks/README.md``). A ``Peek`` checks
those two fields as strictly as the converter would and keeps the decoded JSON; ``full()`` builds the model when
somebody needs it (the settled read, or the last body of a failed wait). A body whose id, state or modified_dt
does not fit is structured at once, so the error names the field exactly as ``get`` would. A body that carries
another id than the one asked for is a ``ResponseShapeError``: a read of another resource must never settle a wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiodataops._errors import ResponseShapeError
from aiodataops._wire import parse_datetime, structure

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

__all__ = ["Peek", "check_id", "peek"]

D = TypeVar("D")


class Peek(Generic[D]):
    """One poll's read: ``state`` and ``modified_dt`` checked, the rest kept as decoded JSON until ``full()``."""

    __slots__ = ("_cls", "_data", "_full", "_id_field", "_raw", "modified_dt", "state")

    def __init__(
        self,
        state: str | None,
        modified_dt: dt.datetime | None,
        data: dict[str, Any],
        raw: bytes,
        cls: type[D],
        *,
        id_field: str = "",
    ) -> None:
        self.state = state
        self.modified_dt = modified_dt
        self._data = data
        self._raw = raw
        self._cls = cls
        self._id_field = id_field
        self._full: D | None = None

    def full(self) -> D:
        """The whole typed model (``ResponseShapeError`` naming the field if the body does not fit).

        Built once: a settled read is checked for the update's fields and then handed back, and the models are
        frozen, so both may share it.
        """
        if self._full is None:
            self._full = structure(self._data, self._cls, raw=self._raw)
        return self._full

    def part(self, names: Iterable[str]) -> D:
        """The model built from the id and the named top-level fields only (the others as the model defaults them).

        For a reader that looks at a few fields of a body and never hands the model out (``fleet.apply``'s reads
        of a 202 body and of the settled service: ``_resource``'s ``_put_light``/``_wait_light``): those fields go
        through the same converter as ``full()``, so a misfit among them is the same ``ResponseShapeError`` naming
        the same path; a misfit in a field not named is not looked at (``full()`` would name it).
        """
        if self._full is not None:
            return self._full
        data = self._data
        picked = {name: data[name] for name in names if name in data}
        picked[self._id_field] = data[self._id_field]
        return structure(picked, self._cls, raw=self._raw)

    def __repr__(self) -> str:
        # Never the body: it may hold account_password.
        return f"Peek(state={self.state!r}, modified_dt={self.modified_dt!r})"


def check_id(data: Any, raw: bytes, id_field: str, expected: str | None) -> None:
    """Raise ``ResponseShapeError`` when a detail body carries another id than ``expected`` (``None``: any)."""
    if expected is None or type(data) is not dict:
        return
    found = data.get(id_field)
    if type(found) is str and found != expected:
        raise ResponseShapeError(
            f"asked for {expected!r}, the answer is about {found!r}",
            path=f"$.{id_field}",
            body=raw.decode("utf-8", "replace"),
        )


def peek(data: Any, raw: bytes, cls: type[D], id_field: str, expected_id: str | None = None) -> Peek[D] | D:
    """A ``Peek`` of a detail body, or the full model when one of the fields a wait reads does not fit.

    ``expected_id``: the id asked for; a body about another one raises ``ResponseShapeError``.
    """
    check_id(data, raw, id_field, expected_id)
    if type(data) is dict and type(data.get(id_field)) is str:
        state = data.get("state")
        modified = data.get("modified_dt")
        if (state is None or type(state) is str) and (modified is None or type(modified) is str):
            try:
                parsed = None if modified is None else parse_datetime(modified)
            except ValueError:
                pass  # fall through to the full structure, whose error names the field
            else:
                return Peek(state, parsed, data, raw, cls, id_field=id_field)
    return structure(data, cls, raw=raw)
