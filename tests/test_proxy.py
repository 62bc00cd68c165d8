"""Proxies: ``proxy=``, ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` read once, and real requests through a real proxy.

The end-to-end tests send the client to ``api.dataops.test`` (a name that resolves nowhere): only the test's
forwarding proxy (``_forward_proxy``) knows it is the emulator on 127.0.0.1, so an answer proves the request went
through the proxy, and over https the client still checked the API's certificate for that name.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import ssl
from typing import TYPE_CHECKING

import pytest
import trustme
from _forward_proxy import ForwardProxy
from _loopback import CREDS, free_port, serve
from yarl import URL

from aiodataops._client import DataOpsClient
from aiodataops._errors import ConfigurationError, ConnectError
from aiodataops._proxy import FROM_ENVIRONMENT, Proxy, bypasses_proxy, environment_proxy, parse_proxy, resolve_proxy
from aiodataops._retry import RetryPolicy
from aiodataops.cli._connection import client_from_args, connection_parent
from aiodataops.emulator import Emulator
from tests.reliability._support import in_thread, run_cli

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

API_HOST = "api.dataops.test"
PROXY_USER, PROXY_PASSWORD = "corp-user", "proxy-hunter2"
ONE_ATTEMPT = RetryPolicy(max_attempts=1)


# -- choosing the proxy ------------------------------------------------------------------------------------------

HTTPS_TARGET = URL("https://data-ops.kr-west1.e.samsungsdscloud.com")
HTTP_TARGET = URL("http://data-ops.internal.example:8080")


@pytest.mark.parametrize(
    ("environ", "target", "expected"),
    [
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, HTTPS_TARGET, ("http://proxy.corp:3128", "HTTPS_PROXY")),
        (
            {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"},
            HTTPS_TARGET,
            ("http://lower:1", "https_proxy"),
        ),
        ({"https_proxy": "", "HTTPS_PROXY": "http://upper:2"}, HTTPS_TARGET, ("http://upper:2", "HTTPS_PROXY")),
        ({"HTTP_PROXY": "http://plain:80"}, HTTPS_TARGET, None),
        ({"HTTP_PROXY": "http://plain:8080"}, HTTP_TARGET, ("http://plain:8080", "HTTP_PROXY")),
        ({"HTTP_PROXY": "http://plain:8080", "REQUEST_METHOD": "GET"}, HTTP_TARGET, None),
        (
            {"http_proxy": "http://plain:8080", "REQUEST_METHOD": "GET"},
            HTTP_TARGET,
            ("http://plain:8080", "http_proxy"),
        ),
        ({"ALL_PROXY": "http://every:1"}, HTTPS_TARGET, ("http://every:1", "ALL_PROXY")),
        ({"HTTPS_PROXY": "proxy.corp:3128"}, HTTPS_TARGET, ("http://proxy.corp:3128", "HTTPS_PROXY")),
        ({}, HTTPS_TARGET, None),
    ],
)
def test_the_environment_names_the_proxy_for_the_endpoints_scheme(
    environ: dict[str, str], target: URL, expected: tuple[str, str] | None
) -> None:
    """https uses https_proxy/HTTPS_PROXY (lower case first), http uses HTTP_PROXY (not under CGI), then ALL_PROXY."""
    proxy = environment_proxy(target, environ)
    assert (None if proxy is None else (str(proxy.url), proxy.source)) == expected


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypassed"),
    [
        ("data-ops.kr-west1.e.samsungsdscloud.com", 443, "samsungsdscloud.com", True),
        ("data-ops.kr-west1.e.samsungsdscloud.com", 443, ".samsungsdscloud.com", True),
        ("data-ops.kr-west1.e.samsungsdscloud.com", 443, "*.samsungsdscloud.com", True),
        ("samsungsdscloud.com", 443, ".samsungsdscloud.com", True),
        ("notsamsungsdscloud.com", 443, "samsungsdscloud.com", False),
        ("data-ops.kr-west1.e.samsungsdscloud.com", 443, "other.example, samsungsdscloud.com:443", True),
        ("data-ops.kr-west1.e.samsungsdscloud.com", 443, "samsungsdscloud.com:8443", False),
        ("10.1.2.3", 443, "10.0.0.0/8", True),
        ("10.1.2.3", 443, "10.1.2.3", True),
        ("11.1.2.3", 443, "10.0.0.0/8,example.com", False),
        ("fd00::5", 443, "fd00::/8", True),
        ("fd00::5", 443, "[fd00::5]:443", True),
        ("anything.example", 443, "*", True),
        ("anything.example", 443, "", False),
    ],
)
def test_no_proxy_covers_names_domains_addresses_blocks_and_ports(
    host: str, port: int, no_proxy: str, bypassed: bool
) -> None:
    """NO_PROXY entries: a domain covers itself and what is under it; IPs, CIDR blocks, ``:port`` and ``*`` work."""
    assert bypasses_proxy(host, port, no_proxy) is bypassed


def test_a_socks_all_proxy_is_skipped_with_a_warning_but_a_socks_https_proxy_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ALL_PROXY=socks5://... (for other tools; Go and aiohttp ignore ALL_PROXY) means direct, with a warning."""
    caplog.set_level(logging.WARNING, logger="aiodataops.config")
    assert environment_proxy(HTTPS_TARGET, {"ALL_PROXY": "socks5://user:all-hunter2@127.0.0.1:1080"}) is None
    assert "ALL_PROXY names a socks5:// proxy" in caplog.text
    assert "hunter2" not in caplog.text
    with pytest.raises(ConfigurationError, match=r"HTTPS_PROXY: socks5:// .*--no-proxy"):
        environment_proxy(HTTPS_TARGET, {"HTTPS_PROXY": "socks5://127.0.0.1:1080"})


def test_no_proxy_and_loopback_endpoints_go_direct() -> None:
    """A NO_PROXY host, and any loopback endpoint (the emulator), bypass the environment's proxy."""
    environ = {"HTTPS_PROXY": "http://proxy.corp:3128", "HTTP_PROXY": "http://proxy.corp:3128"}
    assert environment_proxy(HTTPS_TARGET, {**environ, "no_proxy": ".samsungsdscloud.com"}) is None
    for loopback in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2", "https://127.0.0.2"):
        assert environment_proxy(URL(loopback), environ) is None


def test_an_explicit_proxy_wins_and_none_forces_a_direct_connection() -> None:
    """``proxy="..."`` is used even for loopback and NO_PROXY hosts; ``proxy=None`` ignores the environment."""
    environ = {"HTTPS_PROXY": "http://env-proxy:3128", "NO_PROXY": "*"}
    explicit = resolve_proxy("https://127.0.0.1", "http://mine:8080", environ=environ)
    assert explicit is not None
    assert str(explicit.url) == "http://mine:8080"
    assert resolve_proxy(str(HTTPS_TARGET), None, environ={"HTTPS_PROXY": "http://env-proxy:3128"}) is None
    chosen = resolve_proxy(str(HTTPS_TARGET), FROM_ENVIRONMENT, environ={"HTTPS_PROXY": "http://env-proxy:3128"})
    assert chosen is not None
    assert chosen.source == "HTTPS_PROXY"
    assert resolve_proxy(str(HTTPS_TARGET), FROM_ENVIRONMENT, environ={"HTTPS_PROXY": "  "}) is None  # blank: unset
    with pytest.raises(ConfigurationError, match="proxy=: the proxy URL is empty"):
        resolve_proxy(str(HTTPS_TARGET), " ", environ={})


def test_the_client_decides_its_proxy_once_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client built without ``proxy=`` takes HTTPS_PROXY when built; a later change of the environment is ignored."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = DataOpsClient(str(HTTPS_TARGET), CREDS)
    assert client._transport.proxy is not None
    assert (str(client._transport.proxy.url), client._transport.proxy.source) == (
        "http://proxy.corp:3128",
        "HTTPS_PROXY",
    )
    monkeypatch.setenv("HTTPS_PROXY", "http://another:1")
    assert str(client._transport.proxy.url) == "http://proxy.corp:3128"
    assert DataOpsClient("http://127.0.0.1:9", CREDS)._transport.proxy is None  # the emulator: direct
    assert DataOpsClient(str(HTTPS_TARGET), CREDS, proxy=None)._transport.proxy is None
    from_env = DataOpsClient.from_env(
        environ={"SCP_ACCESS_KEY": "AK", "SCP_SECRET_KEY": "sk", "SCP_DATAOPS_ENDPOINT": str(HTTPS_TARGET)}
    )
    assert from_env._transport.proxy is None  # environ= replaces the whole environment, proxies included


# -- parsing, and keeping the proxy's credentials secret -----------------------------------------------------------


def test_proxy_credentials_are_kept_apart_and_never_shown() -> None:
    """``user:password@`` becomes Basic credentials (percent-decoded); the URL, repr and display carry no password."""
    proxy = parse_proxy("http://corp-user:p%40ss-hunter2@proxy.corp:3128")
    assert str(proxy.url) == "http://proxy.corp:3128"
    assert proxy.authorization == "Basic " + base64.b64encode(b"corp-user:p@ss-hunter2").decode()
    for shown in (repr(proxy), proxy.display):
        assert "hunter2" not in shown
        assert "corp-user" not in shown
        assert "proxy.corp:3128" in shown
    client = DataOpsClient(str(HTTPS_TARGET), CREDS, proxy="http://corp-user:p%40ss-hunter2@proxy.corp:3128")
    assert "hunter2" not in repr(client)
    assert "hunter2" not in repr(client._transport)
    assert "proxy.corp:3128" in repr(client)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("socks5://user:socks-secret@proxy.corp:1080", "socks5:// proxies are not supported"),
        ("http://user:path-secret@proxy.corp:3128/some/path", "without a path"),
        ("http://", "names no proxy host"),
        ("http://user:port-secret@proxy.corp:notaport", "not a proxy URL"),
    ],
)
def test_an_unusable_proxy_is_a_configuration_error_naming_the_setting_not_the_password(
    value: str, problem: str
) -> None:
    """A bad proxy URL: ``ConfigurationError`` naming where it came from, never echoing the password."""
    with pytest.raises(ConfigurationError, match=problem) as caught:
        resolve_proxy(str(HTTPS_TARGET), FROM_ENVIRONMENT, environ={"HTTPS_PROXY": value})
    assert "HTTPS_PROXY" in str(caught.value)
    assert "secret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="proxy=") as caught:
        DataOpsClient(str(HTTPS_TARGET), CREDS, proxy=value)  # type: ignore[arg-type]
    assert "secret" not in str(caught.value)


# -- requests through a real proxy ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def tls_emulator(ca: trustme.CA, *names: str) -> AsyncIterator[tuple[Emulator, int]]:
    """The emulator's application over TLS on 127.0.0.1, with a certificate for ``names``; yields it and its port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    emu = Emulator(data_ops=1, services_per_data_ops=3)
    async with serve(emu.app, ssl_context=context) as base:
        yield emu, URL(base).port or 0


def ca_bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.mark.anyio
async def test_https_goes_through_the_environments_proxy_in_a_tunnel_and_still_verifies_the_api(
    tmp_path: Path,
) -> None:
    """With HTTPS_PROXY set, every request is a CONNECT tunnel through the proxy, and TLS checks the API's name."""
    ca = trustme.CA()
    async with tls_emulator(ca, API_HOST) as (emu, port), ForwardProxy(hosts={API_HOST: "127.0.0.1"}) as proxy:
        environ = {
            "HTTPS_PROXY": proxy.url,
            "SCP_DATAOPS_ENDPOINT": f"https://{API_HOST}:{port}",
            "SCP_ACCESS_KEY": emu.credentials.access_key,
            "SCP_SECRET_KEY": emu.credentials.secret_key,
        }
        async with DataOpsClient.from_env(environ=environ, ssl=ca_bundle(ca, tmp_path)) as client:
            assert client._transport.proxy is not None
            assert client._transport.proxy.source == "HTTPS_PROXY"
            services = [s async for s in client.services.list()]
            first = await client.services.get(services[0].id)
    assert len(services) == 3
    assert first.id == services[0].id
    assert proxy.seen
    assert {(seen.method, seen.target) for seen in proxy.seen} == {("CONNECT", f"{API_HOST}:{port}")}
    for seen in proxy.seen:  # the proxy learns where the tunnel goes, not who is calling
        assert not seen.header_names & {"scp-accesskey", "scp-signature", "x-auth-token", "authorization"}
    assert emu.counters.total() >= 2  # the emulator answered them, signatures checked


@pytest.mark.anyio
async def test_a_wrong_certificate_behind_the_proxy_is_refused(tmp_path: Path) -> None:
    """Through the tunnel, a certificate for another name fails TLS: nothing reaches the API, and no retry."""
    ca = trustme.CA()
    async with (
        tls_emulator(ca, "someone-else.test") as (emu, port),
        ForwardProxy(hosts={API_HOST: "127.0.0.1"}) as proxy,
    ):
        client = DataOpsClient(
            f"https://{API_HOST}:{port}", emu.credentials, proxy=proxy.url, ssl=ca_bundle(ca, tmp_path)
        )
        async with client:
            with pytest.raises(ConnectError, match="TLS failed"):
                await client.services.get("DOPS_SERVICE-x")
    assert len(proxy.seen) == 1
    assert emu.counters.total() == 0


@pytest.mark.anyio
async def test_plain_http_is_forwarded_with_the_proxys_credentials_which_never_reach_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``proxy="http://user:password@..."`` sends Basic credentials to the proxy; logs, reprs and errors hide them."""
    caplog.set_level(logging.DEBUG, logger="aiodataops")
    async with (
        Emulator(data_ops=1, services_per_data_ops=2) as emu,
        ForwardProxy(hosts={API_HOST: "127.0.0.1"}, credentials=(PROXY_USER, PROXY_PASSWORD)) as proxy,
    ):
        proxy_url = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
        endpoint = f"http://{API_HOST}:{emu.port}"
        async with DataOpsClient(endpoint, emu.credentials, proxy=proxy_url, allow_insecure_http=True) as client:
            services = [s async for s in client.services.list()]
            assert PROXY_PASSWORD not in repr(client)
    assert len(services) == 2
    assert proxy.seen
    assert all(seen.method == "GET" and seen.target.startswith(f"{endpoint}/v1/") for seen in proxy.seen)
    assert all(seen.proxy_authorization == proxy.expected_authorization for seen in proxy.seen)
    assert any("go through http://***:***@127.0.0.1" in record.getMessage() for record in caplog.records)
    assert proxy.expected_authorization is not None
    for secret in (PROXY_PASSWORD, PROXY_USER, proxy.expected_authorization.removeprefix("Basic ")):
        assert secret not in caplog.text


@pytest.mark.anyio
async def test_a_proxy_asking_for_credentials_is_a_clear_error_that_shows_none(tmp_path: Path) -> None:
    """A 407 on CONNECT (missing or wrong credentials) is a ``ConnectError`` naming the proxy and 407, not retried."""
    ca = trustme.CA()
    async with (
        tls_emulator(ca, API_HOST) as (emu, port),
        ForwardProxy(hosts={API_HOST: "127.0.0.1"}, credentials=(PROXY_USER, PROXY_PASSWORD)) as proxy,
    ):
        for proxy_url in (proxy.url, f"http://{PROXY_USER}:wrong-secret@127.0.0.1:{proxy.port}"):
            proxy.seen.clear()
            client = DataOpsClient(
                f"https://{API_HOST}:{port}", emu.credentials, proxy=proxy_url, ssl=ca_bundle(ca, tmp_path)
            )
            async with client:
                with pytest.raises(ConnectError, match="407") as caught:
                    await client.services.get("DOPS_SERVICE-x")
            message = str(caught.value)
            assert f"127.0.0.1:{proxy.port}" in message
            assert ("refused the credentials given" in message) is ("wrong" in proxy_url)
            assert "wrong-secret" not in message
            assert "wrong-secret" not in repr(caught.value)
            assert len(proxy.seen) == 1  # a refusal does not heal by retrying
    assert emu.counters.total() == 0


@pytest.mark.anyio
async def test_an_unreachable_proxy_is_named_without_its_credentials() -> None:
    """Nothing listening at the proxy's port: ``ConnectError`` says the proxy could not be reached, password hidden."""
    port = free_port()
    client = DataOpsClient(
        str(HTTPS_TARGET), CREDS, proxy=f"http://user:gone-secret@127.0.0.1:{port}", retry=ONE_ATTEMPT
    )
    async with client:
        with pytest.raises(ConnectError, match="could not connect to the proxy") as caught:
            await client.services.get("DOPS_SERVICE-x")
    assert f"http://***:***@127.0.0.1:{port}" in str(caught.value)
    assert "gone-secret" not in str(caught.value)


def test_a_parsed_proxy_can_be_passed_as_is() -> None:
    """``proxy=`` also takes a ``Proxy`` (what ``resolve_proxy`` returns), used unchanged."""
    proxy = Proxy(URL("http://proxy.corp:3128"), source="--proxy")
    assert DataOpsClient(str(HTTPS_TARGET), CREDS, proxy=proxy)._transport.proxy is proxy


# -- the command line ------------------------------------------------------------------------------------------


def test_the_cli_goes_through_proxy_or_http_proxy_and_no_proxy_goes_direct(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--proxy URL`` and ``HTTP_PROXY`` both route ``services list`` through the proxy; ``--no-proxy`` ignores it."""
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCP_CONFIG_DIR", str(tmp_path))  # no file of the machine's user joins in

    @contextlib.asynccontextmanager
    async def serving() -> AsyncIterator[tuple[Emulator, ForwardProxy]]:
        async with (
            Emulator(data_ops=1, services_per_data_ops=2) as emu,
            ForwardProxy(hosts={API_HOST: "127.0.0.1"}) as proxy,
        ):
            yield emu, proxy

    with in_thread(serving) as (emu, proxy):
        secret = tmp_path / "secret"
        secret.write_text(emu.credentials.secret_key)
        endpoint = f"http://{API_HOST}:{emu.port}"
        conn = ["--endpoint", endpoint, "--insecure-http", "--access-key", emu.credentials.access_key]
        conn += ["--secret-key-file", str(secret)]
        status, out, err = run_cli(capsys, "services", "list", "-o", "json", *conn, "--proxy", proxy.url)
        assert (status, err) == (0, "")
        assert len(json.loads(out)) == 2
        through_flag = len(proxy.seen)
        assert through_flag >= 1
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        status, out, err = run_cli(capsys, "services", "list", "-o", "json", *conn)
        assert (status, err) == (0, "")
        assert len(proxy.seen) > through_flag
        assert all(seen.target.startswith(endpoint + "/v1/") for seen in proxy.seen)
        parser = argparse.ArgumentParser(parents=[connection_parent()])
        assert client_from_args(parser.parse_args([*conn, "--no-proxy"]))._transport.proxy is None  # HTTP_PROXY or not
        assert client_from_args(parser.parse_args(conn))._transport.proxy is not None
        status, _, err = run_cli(capsys, "services", "list", *conn, "--proxy", proxy.url, "--no-proxy")
        assert status == 2
        assert "--proxy and --no-proxy" in err
