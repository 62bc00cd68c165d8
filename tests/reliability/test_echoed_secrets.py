"""Secrets a server repeats back: an error that echoes the request (or the account it holds) shows no password.

The emulator serves the API; a middleware of this module, outside its own, answers the writes with errors that
repeat what they were sent, in the shapes servers use: a JSON ``message`` holding Python's ``repr`` of the request,
an ``errors[].detail`` list naming the rejected value and quoting the raw body, a stringified Python list, and a
plain-text 503 (retried, so the retry is logged too). The password holds quotes, a backslash, markup and a
non-ASCII letter, so that every way of escaping it is exercised. Searched: ``str``, ``repr``, ``message``, ``body``
and ``details`` of the error, every log record at DEBUG, and for the fleet its report and journal.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from aiohttp import web

from aiodataops import DataOpsClient
from aiodataops._errors import APIStatusError, ServerError
from aiodataops._models import (
    Account,
    DataOpsUpdate,
    HostAlias,
    ServiceCreate,
    ServiceUpdate,
    ServiceWorkload,
    Workload,
)
from aiodataops._retry import RetryPolicy
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

pytestmark = pytest.mark.anyio

#: The part no masking may leave visible, and the whole password around it.
CORE = "Adm1nCore"
PASSWORD = f"{CORE} \"q\" 'p' <&> \u00e9 \\ end"
SHAPES = ["json_message", "list_detail", "stringified_list", "text_503"]
FAST = RetryPolicy(max_attempts=2, first_delay=0.0, max_delay=0.0)


def _echo(shape: str, sent: bytes, request: bytes) -> web.Response:
    """An error answer repeating ``sent`` (the request, with what the server holds) and naming the request's
    passwords as rejected values, in the given shape."""
    data = orjson.loads(sent)
    as_repr = str(data)  # Python's repr of the request: 'account_password': '...'
    passwords = _passwords(orjson.loads(request))
    rejected = ", ".join(f"rejected value [{p}]" for p in passwords) or "rejected"
    if shape == "json_message":
        body: Any = {"code": "ValidationError", "message": f"invalid request {as_repr}", "status": 400}
    elif shape == "list_detail":
        body = {"errors": [{"code": "ValidationError", "detail": [rejected, sent.decode()], "status": 400}]}
    elif shape == "stringified_list":
        body = {"errors": [{"code": "ValidationError", "detail": str([rejected, as_repr]), "status": 400}]}
    else:
        return web.Response(status=503, text=f"{rejected} in {sent.decode()}", content_type="text/plain")
    return web.json_response(body, status=400)


def _passwords(data: Any) -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "account_password" and isinstance(value, str):
                found.append(value)
            else:
                found += _passwords(value)
    elif isinstance(data, list):
        for item in data:
            found += _passwords(item)
    return found


class Echo:
    """Answers every POST and PUT with an error repeating the request body, or for a service PUT (the fleet's,
    which carries no password) the service as the server holds it, account and password included."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.shape = "json_message"
        self.answered = 0
        emu.app.middlewares.insert(0, self.middleware)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method not in {"POST", "PUT"}:
            return await handler(request)
        self.answered += 1
        sent = await request.read()
        prefix = "/v1/data-ops-services/"
        if request.method == "PUT" and request.path.startswith(prefix):
            held = self.emu.service_body(request.path.removeprefix(prefix))
            return _echo(self.shape, orjson.dumps({"request": orjson.loads(sent), "service": held}), sent)
        return _echo(self.shape, sent, sent)


def everything_about(exc: BaseException) -> str:
    """Every string an error shows: str, repr, and for an API error its message, body, details, code, request id."""
    parts = [str(exc), repr(exc), repr(exc.args)]
    if isinstance(exc, APIStatusError):
        parts += [exc.message, exc.body, repr(exc.details), str(exc.code), str(exc.request_id)]
    return "\n".join(parts)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join([caplog.text, *(f"{r.msg} {r.args!r}" for r in caplog.records)])


def assert_no_password(text: str, *passwords: str) -> None:
    for password in passwords:
        for part in (password, password.split(" ", 1)[0]):
            at = text.find(part)
            assert at < 0, f"a password shows: ...{text[max(at - 100, 0) : at + 60]}..."


def service_create(data_ops_id: str) -> ServiceCreate:
    return ServiceCreate(
        data_ops_id=data_ops_id,
        data_ops_service_name="echo-svc",
        domain="echo.example.com",
        host_alias=HostAlias(enabled=False),
        service_workload=ServiceWorkload(worker=Workload(cpu="1", memory="2", replica="1")),
        storage_class_name="standard",
        worker_type="CELERY",
        account=Account("admin", PASSWORD),
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("operation", ["create_service", "update_data_ops"])
async def test_an_error_repeating_the_request_shows_no_password(
    shape: str, operation: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A create or an update carrying account.account_password, echoed back in any shape, shows no password."""
    caplog.set_level(logging.DEBUG)
    emu = Emulator(data_ops=1, services_per_data_ops=1)
    echo = Echo(emu)
    echo.shape = shape
    async with emu, DataOpsClient(emu.base_url, emu.credentials, retry=FAST) as client:
        did = emu.data_ops_ids()[0]
        if operation == "create_service":
            call = client.services.create(service_create(did))
        else:
            call = client.data_ops.update(did, DataOpsUpdate(account=Account("admin", PASSWORD)))
        with pytest.raises(APIStatusError) as caught:
            await call
    exc = caught.value
    retried = shape == "text_503" and operation == "update_data_ops"
    assert echo.answered == (2 if retried else 1)
    assert isinstance(exc, ServerError) == (shape == "text_503")
    shown = everything_about(exc)
    assert "***" in shown  # masked where it stood, not dropped
    assert "rejected" in exc.message or "invalid request" in exc.message
    if retried:
        assert "retry PUT" in caplog.text
    assert "send " in caplog.text
    assert_no_password(shown + logged(caplog), PASSWORD)


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_fleet_run_against_an_echoing_server_writes_no_password(
    shape: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """fleet.apply whose PUTs are answered with the service's account repeated back: report and journal hold none."""
    caplog.set_level(logging.DEBUG)
    emu = Emulator(data_ops=1, services_per_data_ops=3)
    echo = Echo(emu)
    echo.shape = shape
    journal = tmp_path / "run.jsonl"
    update = ServiceUpdate(description="echo me")
    async with emu, DataOpsClient(emu.base_url, emu.credentials, retry=FAST) as client:
        held = [emu.service_body(sid)["account"]["account_password"] for sid in emu.service_ids()]
        # timeout=2: after each 503 the engine looks for proof the PUT did not land before sending it again, for up
        # to half the service's timeout; the default (a minute per look) would only make the test slow.
        report = await client.fleet.apply(
            [(sid, update) for sid in emu.service_ids()], journal=journal, max_failures=None, timeout=2.0
        )
    assert all(held)
    assert report.counts["failed"] == 3
    written = report.to_json().decode() + journal.read_text()
    assert "HTTP 400" in written or "HTTP 503" in written
    assert_no_password(written + logged(caplog), *held)
