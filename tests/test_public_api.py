"""The public surface: names under ``aiodataops`` (not its private modules), a light import, aliases that work."""

from __future__ import annotations

import inspect
import subprocess
import sys
import traceback
import typing

import pytest

import aiodataops
from aiodataops import RequestTimeoutError, TimeoutError_, TransportError
from aiodataops._wire import structure, unstructure


def test_every_exported_class_and_function_reports_itself_under_aiodataops() -> None:
    """``aiodataops.NotFoundError``, not ``aiodataops._errors.NotFoundError``: for every exported name."""
    assert aiodataops.__all__ == sorted(aiodataops.__all__)
    for name in aiodataops.__all__:
        value = getattr(aiodataops, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == "aiodataops", name
    assert repr(aiodataops.NotFoundError) == "<class 'aiodataops.NotFoundError'>"
    error = aiodataops.NotFoundError("x", status=404, method="GET", url="u")
    assert traceback.format_exception_only(error)[0].startswith("aiodataops.NotFoundError: GET u -> HTTP 404")


def test_type_hints_and_the_wire_converter_still_resolve_after_the_rename() -> None:
    """Exported classes' string annotations resolve (their module changed), and models still go to and from JSON."""
    for name in aiodataops.__all__:
        value = getattr(aiodataops, name)
        if inspect.isclass(value):
            typing.get_type_hints(value)
    service = structure(
        {"data_ops_service_id": "DOPS_SERVICE-1", "modified_dt": "2025-01-01T00:00:00Z"}, aiodataops.Service
    )
    assert unstructure(service)["modified_dt"].startswith("2025-01-01T00:00:00")


def test_import_aiodataops_leaves_the_fleet_layer_and_yaml_unloaded_until_used() -> None:
    """``import aiodataops`` loads no fleet module and no PyYAML; the first fleet name loads them."""
    script = (
        "import sys, aiodataops\n"
        "print(sorted(m for m in sys.modules if m.startswith('aiodataops.fleet') or m == 'yaml'))\n"
        "aiodataops.Fleet\n"
        "print('aiodataops.fleet._engine' in sys.modules, 'yaml' in sys.modules, 'Plan' in dir(aiodataops))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "True True True"]


def test_fleet_names_are_the_fleet_packages_own_and_unknown_names_raise() -> None:
    """``aiodataops.Plan`` is ``aiodataops.fleet.Plan``; a name that does not exist is an AttributeError."""
    from aiodataops import fleet  # noqa: PLC0415 -- loaded here on purpose

    assert aiodataops.Plan is fleet.Plan
    assert aiodataops.load_plan is fleet.load_plan
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        aiodataops.Nope  # noqa: B018 -- the attribute access is the test


def test_request_timeout_error_has_a_catchable_name_and_keeps_its_old_one() -> None:
    """``RequestTimeoutError`` is the timeout's name; ``TimeoutError_`` is the same class; neither is the builtin."""
    assert TimeoutError_ is RequestTimeoutError
    assert issubclass(RequestTimeoutError, TransportError)
    assert not issubclass(RequestTimeoutError, TimeoutError)
    with pytest.raises(TimeoutError_):
        raise RequestTimeoutError("slow", method="GET", url="https://example.com/")


def test_the_client_keeps_its_transport_private() -> None:
    """The transport lives in ``_transport``; the old public ``transport`` name still answers, with a warning."""
    client = aiodataops.DataOpsClient("https://example.com", aiodataops.Credentials("AK", "SK"))
    with pytest.warns(DeprecationWarning, match="internal"):
        assert client.transport is client._transport
    assert "transport" not in vars(client)
    assert not hasattr(client._transport, "request_json")
    assert not hasattr(client._transport, "closed")
    assert not hasattr(aiodataops.PageIterator(lambda page, size: None), "pages_fetched")  # type: ignore[arg-type,return-value]


def test_the_version_is_the_distribution_s() -> None:
    """``aiodataops.__version__`` is the installed distribution's version, one source for both."""
    import importlib.metadata  # noqa: PLC0415 -- only this test needs it

    assert aiodataops.__version__ == importlib.metadata.version("aiodataops")
    assert aiodataops.__version__.count(".") >= 2
