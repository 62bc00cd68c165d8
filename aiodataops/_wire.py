"""The one cattrs converter between the models and the wire JSON; every quirk of the API lives here.

Quirks handled (``../shared/reference/dataops-documented.md``; API.md, "Models"):

- ``host_alias.enabled`` is a bool in Python, sent as ``"true"``/``"false"``, read from a JSON bool or either
  string (any casing); any other value is an error, so ``"false"`` can never become ``True``.
- ``service_workload`` in a service is read from an object, from ``""`` (meaning none) or from a string holding JSON.
- Datetimes are ISO 8601; they are written with milliseconds and ``Z``; one read without a zone is UTC (as SCP's
  Go SDK reads it).
- ``http_port``/``https_port`` are read from strings or integers (their type is not known); both become strings.
- Responses are read tolerantly, as the reference's examples write them: ``""`` for an optional boolean, number or
  datetime means "not set" (``None``); a count may be a string of digits (``"3"``); a boolean may also be ``"Y"`` or
  ``"N"`` (``is_active_image``). Requests stay strict: none of this is accepted in a request body.
- Unknown fields of a response, nested parts included, go to the model's ``extra``; they are never sent back. A
  request model has no ``extra``, and an unknown key anywhere in a request body is an error.
- ``account_password`` is a secret: an error about it names its path and type, never its value.
- ``None`` fields are never sent: an update sends only the fields that were set.

cattrs' stock hooks are lax (``bool("false")``, ``str(5)``, a string iterated into a tuple of characters); the
strict hooks below replace them, and every failure becomes a ``ResponseShapeError`` that names the field path.
"""

from __future__ import annotations

import datetime as dt
import reprlib
import types
import typing
from collections.abc import Callable, Iterator  # noqa: TC003 -- cattrs inspects hook signatures at run time
from typing import Any, Final, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from aiodataops._errors import ResponseShapeError
from aiodataops._models import Account, DataOps, HostAlias, Service, ServiceWorkload

__all__ = [
    "Step",
    "WireValueError",
    "converter",
    "describe",
    "dumps",
    "format_datetime",
    "format_path",
    "iter_problems",
    "loads",
    "parse_datetime",
    "problem_text",
    "structure",
    "unstructure",
]

T = TypeVar("T")

_DESCRIBE_MAX: Final = 40


def _short_repr() -> reprlib.Repr:
    # Python 3.11's Repr takes no keyword arguments: set the limits one by one.
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict = 2, 4, 4
    short.maxstring = short.maxother = _DESCRIBE_MAX
    return short


_SHORT_REPR = _short_repr()
_TRUE: Final = frozenset({"true"})
_FALSE: Final = frozenset({"false"})
#: What a response may also write for a boolean (``is_active_image``: "Y"/"N").
_TRUE_READ: Final = frozenset({"true", "y"})
_FALSE_READ: Final = frozenset({"false", "n"})
#: Types whose "not set" a response example writes as ``""``.
_BLANK_IS_NONE: Final = frozenset({bool, int, float, dt.datetime})


class WireValueError(ValueError):
    """A value of the wrong type or form; its message is the problem, cattrs adds the path.

    ``expected`` names what was expected (``"string"``, ``"integer"``...) and ``got`` the type found, so that a
    caller can add a hint without matching the message's words (the value itself is not kept: it may be a secret).
    """

    def __init__(self, message: str, *, expected: str | None = None, got: type | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


def _strict_str(value: Any, _: type) -> str:
    if type(value) is str:
        return value
    raise WireValueError(f"expected a string, got {describe(value)}", expected="string", got=type(value))


def _strict_int(value: Any, _: type) -> int:
    if type(value) is int:  # bool is an int subclass and must not pass as one
        return value
    raise WireValueError(f"expected an integer, got {describe(value)}")


def _count(value: Any, _: type) -> int:
    """Read an integer from a response: a JSON integer, or a string of digits (``total_count: "3"``)."""
    if type(value) is int:
        return value
    if type(value) is str and value.strip().isdigit():
        return int(value.strip())
    raise WireValueError(f"expected an integer or a string of digits, got {describe(value)}", expected="integer")


def _strict_float(value: Any, _: type) -> float:
    if type(value) in (int, float):
        return float(value)
    raise WireValueError(f"expected a number, got {describe(value)}")


def _lenient_bool(value: Any, _: type) -> bool:
    """Read a JSON bool or the strings ``"true"``/``"false"``; everything else is an error, never truthiness."""
    if type(value) is bool:  # exact type: 0 and 1 are not booleans here
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise WireValueError(f'expected a boolean or "true"/"false", got {describe(value)}', expected="boolean")


def _read_bool(value: Any, _: type) -> bool:
    """A response's boolean: a JSON bool, ``"true"``/``"false"`` or ``"Y"``/``"N"`` (any casing); nothing else."""
    if type(value) is bool:
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE_READ:
            return True
        if lowered in _FALSE_READ:
            return False
    raise WireValueError(f'expected a boolean, "true"/"false" or "Y"/"N", got {describe(value)}', expected="boolean")


def _secret_str(value: Any, _: type) -> str | None:
    if value is None or type(value) is str:
        return value
    raise WireValueError(f"expected a string, got {type(value).__name__} (value not shown: it is a secret)")


def _port(value: Any, _: type) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise WireValueError(f"expected a port as a string or integer, got {describe(value)}")


def parse_datetime(value: Any) -> dt.datetime:
    """Read an ISO 8601 datetime; one without a zone (``Z`` or an offset) is UTC."""
    if not isinstance(value, str):
        raise WireValueError(f"expected an ISO 8601 datetime string, got {describe(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise WireValueError(f"expected an ISO 8601 datetime, got {value!r}") from None
    if parsed.tzinfo is None:
        # Without a zone the time is UTC, as SCP's Go SDK reads it.
        return parsed.replace(tzinfo=dt.UTC)
    return parsed


def format_datetime(value: dt.datetime) -> str:
    """Write a datetime as the API does: UTC, milliseconds, ``Z``."""
    if value.tzinfo is None:
        raise ValueError(f"datetime {value!r} has no time zone; the API needs an absolute time")
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe(value: Any) -> str:
    """A short description of a misfit value for an error message: its type and a capped repr."""
    # reprlib stops after a few items and levels, so describing a huge misfit costs little.
    text = _SHORT_REPR.repr(value)
    if len(text) > _DESCRIBE_MAX:
        text = text[: _DESCRIBE_MAX - 3] + "..."
    return f"{type(value).__name__} {text}"


def _is_tuple_seq(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) is tuple and args[1:] == (Ellipsis,)


def _is_dict(t: Any) -> bool:
    return t is dict or get_origin(t) is dict


def _tuple_factory(t: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    base = homogenous_tuple_structure_factory(t, conv)

    def structure_tuple(value: Any, cls: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise WireValueError(f"expected a list, got {describe(value)}")
        return base(value, cls)

    return structure_tuple


def _dict_hook(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireValueError(f"expected an object, got {describe(value)}")
    # A copy: the model is frozen, and must not change when the caller reuses the parsed JSON.
    return dict(value)


def _service_workload(value: Any, _: Any) -> ServiceWorkload | None:
    """Read ``service_workload`` from an object, ``""``, ``null`` or a string holding a JSON object."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise WireValueError(f"expected an object or a JSON string of one, got {describe(value)}") from None
        if not isinstance(decoded, dict):
            raise WireValueError(f"expected a JSON object in the string, got {describe(decoded)}")
        value = decoded
    if not isinstance(value, dict):
        raise WireValueError(f"expected an object, got {describe(value)}")
    return converter.structure(value, ServiceWorkload)


def _is_optional(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args  # noqa: PLR2004 -- X | None


def _optional_factory(*, blank_is_none: bool) -> Callable[[Any, cattrs.Converter], Callable[[Any, Any], Any]]:
    """``X | None`` with X's hook looked up once: cattrs' own optional hook dispatches on every value, which was
    the largest single cost of reading a service (most of its fields are optional). With ``blank_is_none`` (the
    response converter), ``""`` for an optional boolean, number or datetime is ``None``, as the examples write it.
    """

    def factory(t: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
        inner = next(a for a in get_args(t) if a is not type(None))
        hook = conv.get_structure_hook(inner)
        if blank_is_none and inner in _BLANK_IS_NONE:

            def structure_blankable(value: Any, _: Any) -> Any:
                return None if value is None or value == "" else hook(value, inner)

            return structure_blankable

        if hook is _strict_str:
            # Most of a service's fields: a string passes without a further call (a misfit still gets its error).

            def structure_optional_str(value: Any, _: Any) -> Any:
                if value is None or type(value) is str:
                    return value
                return _strict_str(value, inner)

            return structure_optional_str

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else hook(value, inner)

        return structure_optional

    return factory


def _is_attrs(t: Any) -> bool:
    return attrs.has(get_origin(t) or t)


def _has_extra(cls: Any) -> bool:
    return attrs.has(cls) and "extra" in attrs.fields_dict(cls)


def _field_overrides(origin: Any) -> dict[str, Any]:
    """The fields of a model read by a hook of their own (secrets, ``service_workload``, ports)."""
    overrides: dict[str, Any] = {}
    if origin is Account:
        overrides["account_password"] = override(struct_hook=_secret_str)
    if origin is Service:
        overrides["service_workload"] = override(struct_hook=_service_workload)
    if origin in (Service, DataOps):
        overrides["http_port"] = override(struct_hook=_port)
        overrides["https_port"] = override(struct_hook=_port)
    if _has_extra(origin):
        overrides["extra"] = override(omit=True)
    return overrides


def _attrs_structure_factory(*, keep_unknown: bool) -> Callable[[Any, cattrs.Converter], Callable[[Any, Any], Any]]:
    """Make the hook factory for attrs classes: keeping unknown keys in ``extra``, or refusing them."""

    def factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
        origin = get_origin(cls) or cls
        keeps_extra = keep_unknown and _has_extra(origin)
        if keep_unknown and not keeps_extra:
            # A request model. Its parts (HostAlias, Workload...) keep unknown keys when a response nests them,
            # but a request must refuse them at any depth: the request converter's hooks do, raising cattrs' own
            # ForbiddenExtraKeysError at the right path, which callers walking the error tree rely on.
            return _request_converter.get_structure_hook(cls)
        overrides = _field_overrides(origin)
        base = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=not keeps_extra, **overrides)
        known = frozenset(a.name for a in attrs.fields(origin) if a.name != "extra")

        def structure_object(value: Any, target: Any) -> Any:
            if not isinstance(value, dict):
                raise WireValueError(f"expected an object, got {describe(value)}")
            obj = base(value, target)
            # issuperset allocates nothing: bodies without unknown fields (nearly all) skip building the set.
            if keeps_extra and not known.issuperset(value):
                unknown = value.keys() - known
                if unknown:
                    # Frozen classes still allow object.__setattr__; this is how attrs itself initialises them.
                    object.__setattr__(obj, "extra", {k: value[k] for k in unknown})
            return obj

        return structure_object

    return factory


def _attrs_unstructure_factory(cls: Any, conv: cattrs.Converter) -> Callable[[Any], Any]:
    origin = get_origin(cls) or cls
    overrides: dict[str, Any] = {}
    if _has_extra(origin):
        overrides["extra"] = override(omit=True)
    if origin is HostAlias:
        overrides["enabled"] = override(unstruct_hook=lambda b: "true" if b else "false")
    base = make_dict_unstructure_fn(cls, conv, **overrides)

    def unstructure_without_none(obj: Any) -> dict[str, Any]:
        return {k: v for k, v in base(obj).items() if v is not None}

    return unstructure_without_none


def _make_converter(*, keep_unknown: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)
    conv.register_structure_hook(str, _strict_str)
    # A response is read tolerantly (counts as digit strings, "Y"/"N" booleans); a request strictly.
    conv.register_structure_hook(int, _count if keep_unknown else _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(bool, _read_bool if keep_unknown else _lenient_bool)
    conv.register_structure_hook(dt.datetime, lambda v, _: parse_datetime(v))
    conv.register_unstructure_hook(dt.datetime, format_datetime)
    conv.register_structure_hook_func(_is_dict, _dict_hook)
    conv.register_structure_hook_factory(_is_tuple_seq, _tuple_factory)
    conv.register_structure_hook_factory(_is_optional, _optional_factory(blank_is_none=keep_unknown))
    conv.register_structure_hook_factory(_is_attrs, _attrs_structure_factory(keep_unknown=keep_unknown))
    conv.register_unstructure_hook_factory(_is_attrs, _attrs_unstructure_factory)
    return conv


#: Refuses unknown keys at every depth; the request models' hooks in ``converter`` come from here.
_request_converter: Final = _make_converter(keep_unknown=False)
converter: Final = _make_converter(keep_unknown=True)


def loads(data: bytes | str) -> Any:
    """Parse JSON text; raises ``ResponseShapeError`` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ResponseShapeError(f"not valid JSON ({exc})", body=_text(data)) from None


def dumps(obj: Any) -> bytes:
    """Serialise a model (or plain JSON data) to JSON bytes."""
    if attrs.has(type(obj)):
        obj = converter.unstructure(obj)
    return orjson.dumps(obj)


def unstructure(obj: Any) -> Any:
    """Turn a model into wire JSON data (dicts, lists, strings), leaving out every ``None`` field."""
    return converter.unstructure(obj)


def structure(data: Any, cls: type[T] | Any, *, raw: bytes | str = b"") -> T:
    """Build ``cls`` from wire JSON data; any misfit raises ``ResponseShapeError`` naming the field path."""
    try:
        return typing.cast("T", converter.structure(data, cls))
    except (cattrs.BaseValidationError, WireValueError, KeyError, TypeError, ValueError) as exc:
        path, problem = _first_problem(exc)
        raise ResponseShapeError(problem, path=path, body=_text(raw)) from None


# -- the one walker of cattrs' validation errors (the plan checker and the emulator use it too) ------------------

#: One step of a path into a body: a field name, or a list index.
Step = str | int


def iter_problems(exc: BaseException, steps: tuple[Step, ...] = ()) -> Iterator[tuple[tuple[Step, ...], BaseException]]:
    """Walk cattrs' nested validation errors: yield each leaf error with the steps that lead to it.

    A leaf is a ``WireValueError`` (a value of the wrong type or form), a ``KeyError`` (a required field is
    missing), a ``cattrs.ForbiddenExtraKeysError`` (unknown keys of a request) or any other exception a hook
    raised. Anything that is not a cattrs error is one leaf at ``steps``.
    """
    if isinstance(exc, cattrs.IterableValidationError | cattrs.ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            step: Step = note.index if isinstance(note, cattrs.IterableValidationNote) else note.name
            yield from iter_problems(sub, (*steps, step))
        for sub in without:
            yield from iter_problems(sub, steps)
    else:
        yield steps, exc


def format_path(steps: tuple[Step, ...], root: str = "$") -> str:
    """Write steps as a path: ``$.contents[3].state`` (an index is bracketed, a name follows a dot)."""
    return root + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def problem_text(exc: BaseException) -> str:
    """Say what is wrong at a leaf of ``iter_problems``, in words (never a secret value)."""
    if isinstance(exc, WireValueError):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field is missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown field(s): {', '.join(sorted(map(str, exc.extra_fields)))}"
    return f"{type(exc).__name__}: {exc}"


def _first_problem(exc: BaseException) -> tuple[str, str]:
    leaves = list(iter_problems(exc))
    if not leaves:  # a validation error with no sub-errors: nothing better to say than its own message
        return "$", problem_text(exc)
    steps, leaf = leaves[0]
    more = f" (and {len(leaves) - 1} more)" if len(leaves) > 1 else ""
    return format_path(steps), problem_text(leaf) + more


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
