"""A plan file's text to data: JSON (``.json``) or YAML with a key repeated in one mapping refused."""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from aiodataops.fleet._plan_types import PlanError

__all__ = ["TOO_DEEP", "load_text"]

TOO_DEEP = "nested too deeply to be a plan"


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error (it silently wins otherwise)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_text(text: bytes | str, source: str) -> Any:
    try:
        return _load_text(text, source)
    except RecursionError:
        # PyYAML composes and constructs one Python frame per nesting level, so a few hundred levels exhaust the
        # stack; no plan is nested more than a handful deep, so this is a bad file, not a crash.
        raise PlanError([("", TOO_DEEP)], source=source) from None


def _load_text(text: bytes | str, source: str) -> Any:
    if source.endswith(".json"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PlanError([("", f"not valid JSON: {exc}")], source=source) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 -- _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "not valid YAML"
        if exc.context and exc.problem:
            problem = f"{problem} ({exc.context})"
        raise PlanError([(where, f"not valid YAML: {problem}")], source=source) from None
    except yaml.YAMLError as exc:
        raise PlanError([("", f"not valid YAML: {exc}")], source=source) from None
    except UnicodeDecodeError:
        raise PlanError([("", "not valid UTF-8 text")], source=source) from None
