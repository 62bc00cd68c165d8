"""The ``scp_dataops`` connection type: registered with Airflow's providers manager, and made into a client."""

from __future__ import annotations

import json
from typing import Any

import anyio
import certifi
import pytest

from aiodataops import ConfigurationError, ServiceUpdate
from aiodataops.airflow import DataOpsHook, service_data, to_service_update
from aiodataops.emulator import PASSWORD_MARK, Emulator
from aiodataops.fleet import PlanError
from tests_airflow._support import use_emulator

SECRET = "s3cr3t-value-that-must-not-show"


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "scp_dataops_default", **fields: Any) -> None:
    """Define a connection through its ``AIRFLOW_CONN_*`` variable (JSON)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "scp_dataops", **fields}))


def test_the_provider_registers_the_connection_type_and_its_form() -> None:
    """Through the entry point, Airflow knows the hook, the extra fields (the token as secret) and the labels."""
    from airflow.providers_manager import ProvidersManager  # noqa: PLC0415 -- the manager is heavy; only here

    manager = ProvidersManager()
    assert "aiodataops" in manager.providers
    # Airflow points task code at the task SDK's manager; the UI's connection form reads this one.
    with pytest.warns(Warning, match=r"ProvidersManager\.hooks is deprecated"):
        hook = manager.hooks["scp_dataops"]
    assert hook is not None
    assert (hook.hook_class_name, hook.connection_id_attribute_name) == (
        "aiodataops.airflow.DataOpsHook",
        "scp_conn_id",
    )
    widgets = manager.connection_form_widgets
    for name in ("region", "env", "auth_token", "ca_bundle", "proxy", "accept_language", "allow_insecure_http"):
        assert f"extra__scp_dataops__{name}" in widgets
    assert widgets["extra__scp_dataops__auth_token"].is_sensitive
    behaviour = manager.field_behaviours["scp_dataops"]
    assert behaviour["relabeling"] == {"login": "Access key", "password": "Secret key", "host": "Endpoint"}


def test_host_login_and_password_make_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host is the endpoint; login and password the key pair; a token in extra joins them."""
    set_conn(monkeypatch, host="https://data-ops.example.com/", login="AK", password=SECRET, extra={"auth_token": "T"})
    client = DataOpsHook().get_conn()
    assert client.endpoint == "https://data-ops.example.com"
    shown = repr(client._transport)  # the credentials show there, secrets masked
    assert "access_key='AK'" in shown
    assert "auth_token='***'" in shown
    assert SECRET not in shown


def test_a_bare_host_means_https_with_the_port_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host without a scheme (a URI-style connection) is reached over https, on the port field when set."""
    set_conn(monkeypatch, "dops", host="data-ops.example.com", port=8443, login="AK", password=SECRET)
    assert DataOpsHook("dops").get_conn().endpoint == "https://data-ops.example.com:8443"


def test_region_and_env_in_extra_give_the_published_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a host, ``region`` and ``env`` in extra name the endpoint; a CA bundle path is accepted."""
    extra = {"region": "kr-west1", "env": "e", "ca_bundle": certifi.where(), "accept_language": "ko-KR"}
    set_conn(monkeypatch, login="AK", password=SECRET, extra=extra)
    client = DataOpsHook().get_conn()
    assert client.endpoint == "https://data-ops.kr-west1.e.samsungsdscloud.com"


def test_a_proxy_in_extra_reaches_the_client_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """``proxy`` in extra becomes the client's proxy (its password hidden in the repr); unknown fields are named."""
    extra = {"region": "kr-west1", "env": "e", "proxy": "http://user:pw-secret@proxy:3128", "colour": "blue"}
    set_conn(monkeypatch, login="AK", password=SECRET, extra=extra)
    client = DataOpsHook().get_conn()
    assert "proxy:3128" in repr(client)
    assert "pw-secret" not in repr(client)
    output = capfd.readouterr()
    assert "unknown extra field(s): colour" in output.out + output.err
    assert "pw-secret" not in output.out + output.err


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "https://x.example.com", "login": "AK"}, "needs the access key as login and the secret key"),
        ({"login": "AK", "password": SECRET}, "missing the endpoint"),
        ({"login": "AK", "password": SECRET, "extra": {"region": "mars-1", "env": "e"}}, "not a Data Ops region"),
        (
            {"host": "https://x.example.com", "login": "AK", "password": SECRET, "extra": {"ca_bundle": "/no/such"}},
            "CA bundle",
        ),
    ],
)
def test_a_bad_connection_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], expected: str
) -> None:
    """Each problem of a connection raises ConfigurationError naming the connection, never showing the secret."""
    set_conn(monkeypatch, "broken", **fields)
    with pytest.raises(ConfigurationError) as caught:
        DataOpsHook("broken").get_conn()
    assert "connection 'broken'" in str(caught.value)
    assert expected in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.anyio
async def test_the_async_client_reads_a_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """``async with hook.client()`` gives an opened client; a service becomes JSON data without its password."""
    async with Emulator() as emu:
        use_emulator(monkeypatch, emu)
        with anyio.fail_after(20):
            async with DataOpsHook().client() as client:
                service = await client.services.get(emu.service_ids()[0])
    data = service_data(service)
    assert data["data_ops_service_id"] == service.id
    assert isinstance(data["modified_dt"], str)
    assert PASSWORD_MARK not in json.dumps(data)


def test_a_dict_update_is_checked_as_strictly_as_a_plan() -> None:
    """A dict update becomes a ServiceUpdate; a number where the API wants a string names its place."""
    update = to_service_update("DOPS_SERVICE-1", {"service_workload": {"worker": {"replica": "3"}}})
    assert isinstance(update, ServiceUpdate)
    assert update.service_workload is not None
    with pytest.raises(PlanError, match=r"update\.service_workload\.worker\.replica"):
        to_service_update("DOPS_SERVICE-1", {"service_workload": {"worker": {"replica": 3}}})
    with pytest.raises(TypeError):
        to_service_update("DOPS_SERVICE-1", ["not", "a", "dict"])  # type: ignore[arg-type]
