"""``structure`` tries a converter without cattrs' detailed validation first: it must accept and refuse the same
bodies as the detailed one, whose error (with its path) is the one raised."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from aiodataops._errors import ResponseShapeError
from aiodataops._models import DataOps, Service
from aiodataops._wire import _fast_converter, converter, structure
from tests.test_wire import SEED_202_BODY

_SEED: dict[str, Any] = orjson.loads(SEED_202_BODY)
#: A wrong value for every kind of field a service has (each is tried at every field).
_MISFITS: tuple[Any, ...] = (None, 5, "x", True, [], {}, [1], {"a": 1}, "", 1.5)


def _variants() -> list[tuple[str, Any]]:
    """The seed body with one field (top level or one level down) replaced or removed, as (label, body) pairs."""
    out: list[tuple[str, Any]] = []
    for key, value in _SEED.items():
        out.append((f"-{key}", {k: v for k, v in _SEED.items() if k != key}))
        out.extend((f"{key}={misfit!r}", {**_SEED, key: misfit}) for misfit in _MISFITS)
        if isinstance(value, dict):
            out.extend(
                (f"{key}.{sub}={misfit!r}", {**_SEED, key: {**value, sub: misfit}})
                for sub in value
                for misfit in _MISFITS
            )
    return out


def _accepts(conv: Any, body: Any, cls: type) -> Any:
    try:
        return True, conv.structure(body, cls)
    except Exception:  # any refusal counts: only whether both refuse is compared
        return False, None


@pytest.mark.parametrize(("label", "body"), _variants(), ids=[label for label, _ in _variants()])
def test_fast_and_detailed_converters_agree(label: str, body: Any) -> None:
    """Both converters accept the same bodies as the same models and refuse the same ones, errors naming a path."""
    fast = _accepts(_fast_converter, body, Service)
    detailed = _accepts(converter, body, Service)
    assert fast == detailed, label
    if not detailed[0]:
        with pytest.raises(ResponseShapeError) as caught:
            structure(body, Service)
        assert caught.value.path is not None
        assert caught.value.path.startswith("$")
    else:
        assert structure(body, Service) == detailed[1]


def test_a_misfit_still_names_its_field() -> None:
    """A misfit deep in a body raises the detailed converter's error, naming the exact path."""
    body = {**_SEED, "host_alias": {"enabled": "maybe", "host_alias_list": []}}
    with pytest.raises(ResponseShapeError) as caught:
        structure(body, Service)
    assert caught.value.path == "$.host_alias.enabled"
    with pytest.raises(ResponseShapeError) as caught:
        structure({"data_ops_id": 5}, DataOps)
    assert caught.value.path == "$.data_ops_id"
