"""Transport security through the client and the command line, against the emulator's own application.

tests/test_transport.py proves the transport alone: a CA bundle path verifies a local TLS server, ``ssl=False`` and
plain http to a remote host are refused, and a redirect to another port is not followed. Here the same promises
are checked where users meet them: ``--ca-bundle``, the host name check, ``--insecure-http``, and redirects that
change only the scheme or the host's spelling, for a PUT carrying a body.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import TYPE_CHECKING

import orjson
import pytest
import trustme
from aiohttp import web

from aiodataops._client import DataOpsClient
from aiodataops._errors import TransportError
from aiodataops._models import ServiceUpdate
from aiodataops._signing import Credentials
from aiodataops.emulator import Emulator
from tests.reliability._support import Witness, emulator_in_thread, in_thread, run_cli, serve_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path


@pytest.fixture(autouse=True)
def no_scp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SCP_* variable of the machine running the tests leaks into them."""
    for name in ("SCP_ACCESS_KEY", "SCP_SECRET_KEY", "SCP_AUTH_TOKEN", "SCP_DATAOPS_ENDPOINT", "SCP_REGION", "SCP_ENV"):
        monkeypatch.delenv(name, raising=False)


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server TLS context with a certificate from ``ca`` for ``names``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@contextlib.contextmanager
def tls_emulator(context: ssl.SSLContext, witness: Witness) -> Iterator[tuple[Emulator, str]]:
    """The emulator's application served over TLS from a thread; yields it and its https base URL."""
    emu = Emulator(data_ops=1, services_per_data_ops=3)
    witness.attach(emu)

    @contextlib.asynccontextmanager
    async def serving() -> AsyncIterator[tuple[Emulator, str]]:
        async with serve_app(emu.app, ssl_context=context) as base:
            yield emu, base

    with in_thread(serving) as served:
        yield served


def connection(emu: Emulator, endpoint: str, secret: Path) -> list[str]:
    secret.write_text(emu.credentials.secret_key)
    return ["--endpoint", endpoint, "--access-key", emu.credentials.access_key, "--secret-key-file", str(secret)]


def test_cli_refuses_an_untrusted_certificate_and_trusts_it_with_ca_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --ca-bundle the test CA's certificate is refused before any request; with it, the calls succeed."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    witness = Witness()
    with tls_emulator(server_context(ca, "127.0.0.1"), witness) as (emu, base):
        conn = connection(emu, base, tmp_path / "secret")
        status, out, err = run_cli(capsys, "services", "list", *conn)
        assert status == 1
        assert "TLS failed" in err
        assert "CERTIFICATE_VERIFY_FAILED" in err
        assert witness.signatures == []

        status, out, err = run_cli(capsys, "services", "list", "-o", "json", "--ca-bundle", str(bundle), *conn)
        assert status == 0, err
        assert sorted(item["data_ops_service_id"] for item in orjson.loads(out)) == sorted(emu.service_ids())
        plan = tmp_path / "plan.json"
        plan.write_bytes(orjson.dumps({"update": {"description": "x"}, "targets": emu.service_ids()}))
        status, out, err = run_cli(capsys, "fleet", "apply", str(plan), "--dry-run", "--ca-bundle", str(bundle), *conn)
        assert status == 0, err
        assert "dry run: 3 targets" in out
    # The emulator checked each signature over the https URL it received.
    assert emu.counters.total(status=401) == 0
    assert emu.counters.total("get_service", 200) == 3


def test_the_certificate_must_name_the_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trusted certificate for another name (localhost, not 127.0.0.1) is refused: host names are checked."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    witness = Witness()
    with tls_emulator(server_context(ca, "localhost"), witness) as (emu, base):
        conn = connection(emu, base, tmp_path / "secret")
        status, _, err = run_cli(capsys, "services", "list", "--ca-bundle", str(bundle), *conn)
        assert status == 1
        assert "TLS failed" in err
        assert "IP address mismatch" in err or "doesn't match" in err or "hostname" in err.lower()
        by_name = connection(emu, base.replace("127.0.0.1", "localhost"), tmp_path / "secret")
        status, _, err = run_cli(capsys, "services", "list", "--ca-bundle", str(bundle), *by_name)
        assert status == 0, err
    assert len(witness.signatures) == 1


def test_a_missing_or_unreadable_ca_bundle_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--ca-bundle naming no file, or a file that is no certificate, exits 2 naming the file."""
    conn = ["--endpoint", "https://data-ops.kr-west1.e.samsungsdscloud.com", "--access-key", "AK"]
    (tmp_path / "secret").write_text("sk")
    (tmp_path / "junk.pem").write_text("not a certificate")
    for bundle, problem in ((tmp_path / "none.pem", "is not a readable file"), (tmp_path / "junk.pem", "could not")):
        status, _, err = run_cli(
            capsys, "services", "list", "--ca-bundle", str(bundle), *conn, "--secret-key-file", str(tmp_path / "secret")
        )
        assert status == 2
        assert str(bundle) in err
        assert problem in err


def test_plain_http_to_a_host_that_is_not_loopback_needs_insecure_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """http://0.0.0.0 (not a loopback address) is refused, from a flag or the environment, unless --insecure-http."""
    witness = Witness()
    with emulator_in_thread(witness, data_ops=1, services_per_data_ops=2) as emu:
        # 0.0.0.0 reaches this machine on Linux, but it is not a loopback address: the rule must apply to it.
        endpoint = emu.base_url.replace("127.0.0.1", "0.0.0.0")
        conn = connection(emu, endpoint, tmp_path / "secret")
        status, _, err = run_cli(capsys, "services", "list", *conn)
        assert status == 2
        assert "plain http to a non-loopback host" in err
        assert "--insecure-http" in err
        monkeypatch.setenv("SCP_DATAOPS_ENDPOINT", endpoint)
        status, _, err = run_cli(capsys, "services", "list", *conn[2:])
        assert status == 2
        assert "plain http to a non-loopback host" in err
        assert witness.signatures == []

        status, out, err = run_cli(capsys, "services", "list", "--insecure-http", "-o", "json", *conn)
        assert status == 0, err
        assert len(orjson.loads(out)) == 2
    assert len(witness.signatures) == 1


# -- redirects ----------------------------------------------------------------------------------------------


def redirecting_app(target: dict[str, str], hits: list[str]) -> web.Application:
    """An app answering every request with a 307 to the same path under ``target["base"]``."""

    async def redirect(request: web.Request) -> web.Response:
        hits.append(f"{request.host} {request.method} {request.path}")
        raise web.HTTPTemporaryRedirect(location=f"{target['base']}{request.path_qs}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    return app


@pytest.mark.anyio
@pytest.mark.parametrize("hop", ["localhost", "http_downgrade"])
async def test_a_put_redirected_to_another_origin_is_not_followed(tmp_path: Path, hop: str) -> None:
    """A PUT (or GET) redirected to the same server under another host name, or from https to http, is refused."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    context = server_context(ca, "127.0.0.1") if hop == "http_downgrade" else None
    target: dict[str, str] = {}
    hits: list[str] = []
    credentials = Credentials("AK-REDIRECT", "sk-redirect-secret", "tok-redirect")
    async with serve_app(redirecting_app(target, hits), ssl_context=context) as front:
        # The very same server, reached as another origin: if the hop were followed, it would see a second request.
        port = front.rsplit(":", 1)[1]
        target["base"] = f"http://localhost:{port}" if hop == "localhost" else f"http://127.0.0.1:{port}"
        async with DataOpsClient(front, credentials, ssl=str(bundle) if context else None) as client:
            with pytest.raises(TransportError, match="refusing to follow a redirect to another origin"):
                await client.services.update("DOPS_SERVICE-1", ServiceUpdate(description="moved"))
            with pytest.raises(TransportError, match="another origin"):
                await client.services.get("DOPS_SERVICE-1")
    assert hits == [
        f"127.0.0.1:{port} PUT /v1/data-ops-services/DOPS_SERVICE-1",
        f"127.0.0.1:{port} GET /v1/data-ops-services/DOPS_SERVICE-1",
    ]
