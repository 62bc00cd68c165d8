"""The transport against real loopback servers: signing on the wire, retries, error mapping, limits, secrets."""

from __future__ import annotations

import contextlib
import functools
import gzip
import logging
import ssl
from typing import TYPE_CHECKING, Any

import anyio
import orjson
import pytest
import trustme
from _loopback import CREDS, Recorder, app_with, free_port, serve
from aiohttp import web

from aiodataops._clock import VirtualClock
from aiodataops._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    GatewayRejectedError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ResponseShapeError,
    ServerError,
    ThrottledError,
    TransportError,
)
from aiodataops._retry import RetryBudget, RetryPolicy
from aiodataops._timeouts import Timeouts
from aiodataops._transport import Transport
from aiodataops._urls import encode_path, encode_query

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_attempts=3, first_delay=0.1, max_delay=1.0, max_retry_after=30.0)


def json_response(data: Any, status: int = 200, **headers: str) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


@contextlib.asynccontextmanager
async def transport_for(
    routes: dict[str, Any], recorder: Recorder | None = None, **kwargs: Any
) -> AsyncIterator[tuple[Transport, Recorder, VirtualClock]]:
    recorder = recorder or Recorder()
    clock = VirtualClock()
    kwargs.setdefault("retry", FAST)
    async with (
        serve(app_with(recorder, routes)) as base,
        Transport(base, CREDS, clock=clock, **kwargs) as transport,
    ):
        yield transport, recorder, clock


def J(data: Any, status: int = 200, **headers: str) -> Callable[[], web.Response]:  # noqa: N802 -- reads as a literal
    """A factory of JSON answers (an aiohttp response object can be sent only once)."""
    return functools.partial(json_response, data, status, **headers)


def R(status: int = 200, **kwargs: Any) -> Callable[[], web.Response]:  # noqa: N802 -- reads as a literal
    """A factory of plain answers."""
    return functools.partial(web.Response, status=status, **kwargs)


def sequence(*responses: Callable[[], web.StreamResponse]) -> Any:
    """A handler answering each request with a fresh copy of the next of ``responses`` (the last one repeats)."""
    state = {"i": 0}

    async def handler(_: web.Request) -> web.StreamResponse:
        item = responses[min(state["i"], len(responses) - 1)]
        state["i"] += 1
        return item()

    return handler


# -- signing on the wire ------------------------------------------------------------------------------------


async def test_signature_covers_percent_encoded_path_and_query_as_sent() -> None:
    """A path with percent-encoded non-ASCII characters and a sort query is signed exactly as it goes out."""
    async with transport_for({"/{tail:.*}": sequence(J({"ok": True}))}) as (transport, rec, _):
        answer = await transport.request(
            "GET", encode_path("v1", "data-ops-services", "한글-svc"), params={"sort": "created_dt:desc", "page": 0}
        )
    assert answer.json() == {"ok": True}
    method, raw_path, ok = rec.hits[0]
    assert ok, "the server could not verify the signature over the raw request line"
    assert raw_path == "/v1/data-ops-services/%ED%95%9C%EA%B8%80-svc?page=0&sort=created_dt%3Adesc"
    assert method == "GET"


async def test_query_is_encoded_like_the_go_sdk() -> None:
    """Query keys are sorted, values form-encoded (space as +, colon as %3A) and None values left out."""
    assert encode_query({"sort": "created_dt:desc", "size": 20, "page": 0, "state": None, "q": "a b/c"}) == (
        "page=0&q=a+b%2Fc&size=20&sort=created_dt%3Adesc"
    )


async def test_every_attempt_is_signed_afresh() -> None:
    """A retried request carries a valid signature on each attempt, not a replay of the first."""
    handler = sequence(R(status=503, text="busy"), J({"ok": 1}))
    async with transport_for({"/x": handler}) as (transport, rec, clock):
        await transport.request("PUT", "/x", body=b"{}")
    assert [ok for _, _, ok in rec.hits] == [True, True]
    assert len(clock.sleeps) == 1


async def test_every_attempt_is_signed_with_the_injected_wall_clock() -> None:
    """Each attempt's Scp-Timestamp is read from the wall_clock hook, and its signature is made over that time."""
    ticks = iter([1_700_000_000_000, 1_700_000_000_500])
    handler = sequence(R(status=503, text="busy"), J({"ok": 1}))
    async with transport_for({"/x": handler}, wall_clock=lambda: next(ticks)) as (transport, rec, _):
        await transport.request("GET", "/x")
    assert [h["Scp-Timestamp"] for h in rec.headers] == ["1700000000000", "1700000000500"]
    assert [ok for _, _, ok in rec.hits] == [True, True]


async def test_same_origin_redirect_is_followed_and_signed_for_the_new_url() -> None:
    """A same-origin redirect hop is signed over the URL of the hop, so the server accepts it."""
    routes = {
        "/old": sequence(R(status=307, headers={"Location": "/new?x=%3A"})),
        "/new": sequence(J({"moved": True})),
    }
    async with transport_for(routes) as (transport, rec, _):
        answer = await transport.request("GET", "/old")
    assert answer.json() == {"moved": True}
    # aiohttp re-quotes the Location (``%3A`` goes out as ``:``); the hop is signed over what actually went out.
    assert [(p, ok) for _, p, ok in rec.hits] == [("/old", True), ("/new?x=:", True)]


async def test_redirect_to_another_origin_is_refused_before_sending() -> None:
    """A redirect to another host is refused: the other host never sees a request or the credentials."""
    other = Recorder()
    async with serve(app_with(other, {"/{tail:.*}": sequence(J({}))})) as other_base:
        routes = {"/x": sequence(R(status=302, headers={"Location": f"{other_base}/steal"}))}
        async with transport_for(routes) as (transport, rec, clock):
            with pytest.raises(TransportError, match="another origin") as caught:
                await transport.request("GET", "/x")
    assert other.count == 0
    assert rec.count == 1
    assert clock.sleeps == []
    assert CREDS.secret_key not in str(caught.value)


# -- retries ------------------------------------------------------------------------------------------------


async def test_503_then_success_is_retried() -> None:
    """A GET answered 503 once is retried after a jittered wait and returns the later success."""
    handler = sequence(R(status=503, text="upstream connect error"), J({"n": 2}))
    async with transport_for({"/x": handler}) as (transport, rec, clock):
        answer = await transport.request("GET", "/x")
    assert answer.json() == {"n": 2}
    assert rec.count == 2
    assert len(clock.sleeps) == 1
    assert 0.0 <= clock.sleeps[0] <= FAST.first_delay


async def test_retry_after_is_honoured() -> None:
    """A 429 with ``Retry-After: 7`` makes the retry wait exactly seven seconds."""
    handler = sequence(J({"message": "slow down"}, 429, **{"Retry-After": "7"}), J({}))
    async with transport_for({"/x": handler}) as (transport, _, clock):
        await transport.request("GET", "/x")
    assert clock.sleeps == [7.0]


async def test_retry_after_is_capped() -> None:
    """A server asking for an hour gets ``max_retry_after`` seconds, not an hour."""
    handler = sequence(R(status=503, headers={"Retry-After": "3600"}), J({}))
    async with transport_for({"/x": handler}) as (transport, _, clock):
        await transport.request("DELETE", "/x")
    assert clock.sleeps == [FAST.max_retry_after]


async def test_throttled_error_carries_retry_after_when_attempts_run_out() -> None:
    """When 429s outlast the attempts, the ThrottledError says how long the server asked to wait."""
    handler = sequence(J({"message": "too many"}, 429, **{"Retry-After": "2"}))
    async with transport_for({"/x": handler}) as (transport, rec, clock):
        with pytest.raises(ThrottledError) as caught:
            await transport.request("GET", "/x")
    assert caught.value.retry_after == 2.0
    assert rec.count == FAST.max_attempts
    assert clock.sleeps == [2.0] * (FAST.max_attempts - 1)


@pytest.mark.parametrize(("status", "error"), [(400, BadRequestError), (404, NotFoundError)])
async def test_client_errors_are_not_retried(status: int, error: type[APIStatusError]) -> None:
    """A 400 or 404 is raised at once: retrying a wrong request cannot help."""
    handler = sequence(J({"message": "nope"}, status))
    async with transport_for({"/x": handler}) as (transport, rec, clock):
        with pytest.raises(error):
            await transport.request("GET", "/x")
    assert rec.count == 1
    assert clock.sleeps == []


async def test_post_is_not_retried_after_the_server_received_it() -> None:
    """A POST answered 503 is not re-sent: the server may have acted on it."""
    handler = sequence(R(status=503, text="oops"), J({}))
    async with transport_for({"/x": handler}) as (transport, rec, clock):
        with pytest.raises(ServerError):
            await transport.request("POST", "/x", body=b"{}")
    assert rec.count == 1
    assert clock.sleeps == []


async def test_post_is_not_retried_when_the_connection_drops_after_sending() -> None:
    """A POST whose connection drops after the server read it is not re-sent."""

    async def drop(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async with transport_for({"/x": drop}) as (transport, rec, clock):
        with pytest.raises(ConnectError):
            await transport.request("POST", "/x", body=b"{}")
    assert rec.count == 1
    assert clock.sleeps == []


async def test_idempotent_post_is_retried() -> None:
    """A POST the caller marks idempotent (a validation check) is retried like a GET."""
    handler = sequence(R(status=502), J({"result": True}))
    async with transport_for({"/x": handler}) as (transport, rec, _):
        answer = await transport.request("POST", "/x", body=b"{}", idempotent=True)
    assert answer.json() == {"result": True}
    assert rec.count == 2


async def test_post_is_retried_when_it_never_reached_the_server() -> None:
    """A POST that could not connect is retried, and succeeds once the server is up."""
    port = free_port()
    recorder = Recorder()
    app = app_with(recorder, {"/x": sequence(J({"created": True}, 202))})
    async with contextlib.AsyncExitStack() as stack:

        class StartingClock(VirtualClock):
            async def sleep(self, seconds: float) -> None:
                await super().sleep(seconds)
                if len(self.sleeps) == 2:
                    await stack.enter_async_context(serve(app, port=port))

        clock = StartingClock()
        async with Transport(f"http://127.0.0.1:{port}", CREDS, clock=clock, retry=FAST) as transport:
            answer = await transport.request("POST", "/x", body=b"{}")
    assert answer.status == 202
    assert len(clock.sleeps) == 2
    assert recorder.count == 1


async def test_dropped_connection_becomes_connect_error_after_retries() -> None:
    """A GET whose connection drops every time ends in ConnectError after max_attempts attempts."""

    async def drop(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async with transport_for({"/x": drop}) as (transport, rec, clock):
        with pytest.raises(ConnectError, match="dropped"):
            await transport.request("GET", "/x")
    assert rec.count == FAST.max_attempts
    assert len(clock.sleeps) == FAST.max_attempts - 1


async def test_connection_refused_becomes_connect_error() -> None:
    """Nothing listening gives ConnectError after every allowed attempt."""
    clock = VirtualClock()
    async with Transport(f"http://127.0.0.1:{free_port()}", CREDS, clock=clock, retry=FAST) as transport:
        with pytest.raises(ConnectError, match="could not connect"):
            await transport.request("GET", "/x")
    assert len(clock.sleeps) == FAST.max_attempts - 1


async def test_shared_retry_budget_stops_a_retry_storm() -> None:
    """Once the shared budget is spent, later failures are raised without retrying."""
    budget = RetryBudget(capacity=5, retry_cost=5)
    handler = sequence(R(status=503))
    async with transport_for({"/x": handler}, retry_budget=budget) as (transport, rec, clock):
        with pytest.raises(ServerError):
            await transport.request("GET", "/x")
        with pytest.raises(ServerError):
            await transport.request("GET", "/x")
    assert rec.count == 3  # two attempts (one retry paid for), then one attempt with an empty budget
    assert len(clock.sleeps) == 1
    assert budget.available == 0


async def test_success_refills_the_retry_budget() -> None:
    """A success after a retry gives back what the retry spent."""
    budget = RetryBudget(capacity=100, retry_cost=5)
    handler = sequence(R(status=500), J({}))
    async with transport_for({"/x": handler}, retry_budget=budget) as (transport, _, _clock):
        await transport.request("GET", "/x")
    assert budget.available == 100


async def test_read_timeout_becomes_timeout_error() -> None:
    """An answer that stalls past the read timeout raises RequestTimeoutError after the allowed attempts."""
    release = anyio.Event()

    async def stall(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    policy = RetryPolicy(max_attempts=2, first_delay=0.0)
    async with transport_for({"/x": stall}, retry=policy, timeouts=Timeouts(read=0.05)) as (transport, rec, _):
        try:
            with pytest.raises(RequestTimeoutError):
                await transport.request("GET", "/x")
        finally:
            release.set()
    assert rec.count == 2


# -- error mapping ------------------------------------------------------------------------------------------

ENVELOPES = [
    pytest.param(
        400,
        {"errors": [{"status": "400", "code": "INVALID_WORKLOAD", "detail": "cpu must be 1..8"}]},
        {},
        BadRequestError,
        "cpu must be 1..8",
        "INVALID_WORKLOAD",
        None,
        id="errors-array",
    ),
    pytest.param(
        400,
        [{"loc": ["body", "service_workload", "worker", "cpu"], "msg": "field required", "type": "missing", "ctx": {}}],
        {},
        BadRequestError,
        "body.service_workload.worker.cpu: field required",
        "missing",
        None,
        id="validation-list",
    ),
    pytest.param(
        409,
        {"code": "DATA_OPS_SERVICE_BUSY", "status": 409, "object_type": "DataOpsService"},
        {},
        ConflictError,
        "DATA_OPS_SERVICE_BUSY (DataOpsService)",
        "DATA_OPS_SERVICE_BUSY",
        None,
        id="code-object-type",
    ),
    pytest.param(
        403,
        {
            "service": "data-ops",
            "timestamp": "2025-01-01T00:00:00.000Z",
            "message": "Permission denied for this project",
            "status": 403,
            "code": "AUTH_0003",
            "path": "/v1/data-ops",
            "requestId": "req-legacy-1",
        },
        {},
        PermissionDeniedError,
        "Permission denied for this project",
        "AUTH_0003",
        "req-legacy-1",
        id="legacy",
    ),
    pytest.param(
        404,
        {"timestamp": "2025-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found", "path": "/v1/x"},
        {"X-Request-Id": "hdr-42"},
        GatewayRejectedError,  # the gateway's answer to an unauthenticated request: never a NotFoundError (issue 11)
        "the SCP gateway refused the request (Not Found, answered in Spring's shape rather than by the Data Ops "
        "API): SCP answers an unauthenticated request this way, so check the access key, the secret key, the auth "
        "token of temporary credentials and the endpoint",
        None,
        "hdr-42",
        id="spring-404",
    ),
    pytest.param(
        422,
        {"detail": [{"loc": ["query", "size"], "msg": "too big", "type": "value_error"}]},
        {},
        BadRequestError,
        "query.size: too big",
        "value_error",
        None,
        id="detail-list",
    ),
]


@pytest.mark.parametrize(("status", "body", "headers", "error", "message", "code", "request_id"), ENVELOPES)
async def test_every_error_envelope_is_parsed(
    *,
    status: int,
    body: Any,
    headers: dict[str, str],
    error: type[APIStatusError],
    message: str,
    code: str | None,
    request_id: str | None,
) -> None:
    """Each envelope of API.md yields the right error class, message, code, request id and raw body."""
    handler = sequence(J(body, status, **headers))
    async with transport_for({"/x": handler}) as (transport, _, _clock):
        with pytest.raises(error) as caught:
            await transport.request("GET", "/x")
    exc = caught.value
    assert type(exc) is error
    assert exc.status == status
    assert exc.message == message
    assert exc.code == code
    assert exc.request_id == request_id
    assert orjson.loads(exc.body) == body
    assert message in str(exc)


async def test_non_json_503_still_gives_a_useful_server_error() -> None:
    """An edge proxy's text 503 becomes a ServerError whose message is the proxy's first line."""
    text = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
    handler = sequence(R(status=503, text=text, content_type="text/plain"))
    async with transport_for({"/x": handler}) as (transport, rec, _):
        with pytest.raises(ServerError) as caught:
            await transport.request("GET", "/x")
    assert caught.value.status == 503
    assert caught.value.message == text
    assert caught.value.body == text
    assert rec.count == FAST.max_attempts


async def test_html_error_page_uses_the_reason_phrase() -> None:
    """An HTML error page gives the HTTP reason as the message and keeps the page as the body."""
    handler = sequence(R(status=502, text="<html><h1>Bad Gateway</h1></html>", content_type="text/html"))
    async with transport_for({"/x": handler}, retry=RetryPolicy(max_attempts=1)) as (transport, _, _clock):
        with pytest.raises(ServerError) as caught:
            await transport.request("GET", "/x")
    assert caught.value.message == "Bad Gateway"
    assert "<h1>" in caught.value.body


async def test_unauthorised_timestamp_error_mentions_the_clock() -> None:
    """A 401 saying the timestamp is out of range tells the user to check the machine's clock."""
    body = {"errors": [{"status": "401", "detail": "Scp-Timestamp is out of range"}]}
    async with transport_for({"/x": sequence(J(body, 401))}) as (transport, rec, _):
        with pytest.raises(AuthenticationError, match="clock"):
            await transport.request("GET", "/x")
    assert rec.count == 1


async def test_wrong_secret_is_an_authentication_error() -> None:
    """A request signed with another secret is rejected by a verifying server and not retried."""
    recorder = Recorder(credentials=CREDS)
    wrong = type(CREDS)(CREDS.access_key, "another-secret")
    async with (
        serve(app_with(recorder, {"/x": sequence(J({}))})) as base,
        Transport(base, wrong, clock=VirtualClock(), retry=FAST) as transport,
    ):
        with pytest.raises(AuthenticationError, match="signature mismatch"):
            await transport.request("GET", "/x")
    assert recorder.count == 1


# -- limits -------------------------------------------------------------------------------------------------


async def test_too_large_answer_with_length_is_refused() -> None:
    """An answer whose Content-Length exceeds the limit raises "too large" without being read."""
    handler = sequence(R(body=b"x" * 100_000, content_type="application/json"))
    async with transport_for({"/x": handler}, max_response_size=1024) as (transport, _, _clock):
        with pytest.raises(ResponseShapeError, match="too large"):
            await transport.request("GET", "/x")


async def test_too_large_streamed_answer_is_cut_off() -> None:
    """A chunked answer is counted as it arrives and abandoned past the limit, long before the server ends."""
    finished = anyio.Event()
    state = {"chunks": 0, "aborted": False}

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            for _ in range(2000):
                await response.write(b"x" * 65536)
                state["chunks"] += 1
        except (ConnectionError, RuntimeError):
            state["aborted"] = True
        finally:
            finished.set()
        return response

    async with transport_for({"/x": stream}, max_response_size=4096) as (transport, _, _clock):
        with pytest.raises(ResponseShapeError, match="too large"):
            await transport.request("GET", "/x")
        with anyio.fail_after(10):
            await finished.wait()
    assert state["aborted"]
    assert state["chunks"] < 2000


async def test_pool_size_bounds_connections_in_flight() -> None:
    """With concurrency=2 no more than two requests reach the server at once."""
    state = {"now": 0, "max": 0}
    two_in = anyio.Event()

    async def slow(_: web.Request) -> web.Response:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        if state["now"] == 2:
            two_in.set()
        # Held until two are in at once, however slowly a loaded machine connects; then a little longer, the window
        # in which a third request would arrive if the pool let it.
        await two_in.wait()
        await anyio.sleep(0.01)
        state["now"] -= 1
        return json_response({})

    async with transport_for({"/x": slow}, concurrency=2) as (transport, rec, _), anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(transport.request, "GET", "/x")
    assert rec.count == 8
    assert state["max"] == 2


# -- TLS and endpoints --------------------------------------------------------------------------------------


async def test_tls_with_a_ca_bundle_path_verifies_the_server(tmp_path: Any) -> None:
    """A CA bundle path trusts the test CA; without it the same server fails verification and is not retried."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    recorder = Recorder()
    async with serve(app_with(recorder, {"/x": sequence(J({"tls": True}))}), ssl_context=server_ctx) as base:
        async with Transport(base, CREDS, ssl=str(bundle), clock=VirtualClock()) as transport:
            assert (await transport.request("GET", "/x")).json() == {"tls": True}
        clock = VirtualClock()
        async with Transport(base, CREDS, clock=clock, retry=FAST) as transport:
            with pytest.raises(ConnectError, match="TLS"):
                await transport.request("GET", "/x")
        assert clock.sleeps == []
    assert recorder.hits[0][2]


def test_plain_http_to_a_remote_host_is_refused() -> None:
    """http:// to a non-loopback host needs allow_insecure_http=True."""
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        Transport("http://data-ops.example.com", CREDS)
    assert Transport("http://data-ops.example.com", CREDS, allow_insecure_http=True).endpoint.startswith("http://")


def test_ssl_false_is_refused() -> None:
    """Turning TLS verification off with ssl=False is a configuration error."""
    with pytest.raises(ConfigurationError, match="ssl=False"):
        Transport("https://data-ops.kr-west1.e.samsungsdscloud.com", CREDS, ssl=False)


async def test_using_a_closed_transport_says_how_to_open_it() -> None:
    """A request before ``async with`` fails with a message naming the fix."""
    transport = Transport("http://127.0.0.1:9", CREDS)
    with pytest.raises(RuntimeError, match="async with"):
        await transport.request("GET", "/x")


# -- secrets ------------------------------------------------------------------------------------------------


async def test_secrets_never_reach_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG, no log line, repr or error message holds the secret, the signature, the token or a password."""
    caplog.set_level(logging.DEBUG, logger="aiodataops")
    leaky = {"errors": [{"detail": "bad"}], "account": {"account_id": "a", "account_password": "hunter2-pw"}}
    handler = sequence(R(status=503), J(leaky, 400))
    async with transport_for({"/x": handler}) as (transport, rec, _):
        await_error = None
        try:
            await transport.request("PUT", "/x", body=b'{"description": "d"}')
        except BadRequestError as exc:
            await_error = exc
        text = repr(transport) + str(transport)
    assert await_error is not None
    signatures = [h["Scp-Signature"] for h in rec.headers]
    assert "send PUT" in caplog.text
    assert "retry PUT" in caplog.text
    haystack = caplog.text + text + str(await_error) + repr(await_error) + await_error.body
    for secret in (CREDS.secret_key, CREDS.auth_token, "hunter2-pw", *signatures):
        assert secret
        assert secret not in haystack
    assert CREDS.access_key not in caplog.text


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_ids_that_would_address_something_else_are_refused(segment: str) -> None:
    """An empty, '.' or '..' id is refused before anything is sent."""
    with pytest.raises(ValueError, match="not a usable id"):
        encode_path("v1", "data-ops-services", segment)
    assert encode_path("v1", "a/b", "x y") == "/v1/a%2Fb/x%20y"


async def test_a_number_timeout_ends_an_attempt_that_stalls() -> None:
    """``DataOpsClient(timeout=0.05)``: an answer that never comes ends the attempt as ``RequestTimeoutError``."""
    from aiodataops._client import DataOpsClient  # noqa: PLC0415 -- the one client-level test in this file

    release = anyio.Event()

    async def stall(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    recorder = Recorder()
    async with serve(app_with(recorder, {"/v1/data-ops-services/x": stall})) as base:
        client = DataOpsClient(base, CREDS, timeout=0.05, retry=RetryPolicy(max_attempts=1))
        async with client:
            try:
                with pytest.raises(RequestTimeoutError):
                    await client.services.get("x")
            finally:
                release.set()
    assert recorder.count == 1


# -- compressed answers -------------------------------------------------------------------------------------


def gzip_answer(body: bytes, *, chunked: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler sending ``body`` as is, labelled gzip, with a Content-Length or chunked."""

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if not chunked:
            return web.Response(body=body, headers=headers)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response

    return handler


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_gzip_body_inflating_past_the_cap_is_named_and_not_retried(*, chunked: bool) -> None:
    """A 1 KB gzip body that inflates to 8 MB is refused naming the decompressed size cap, after one attempt."""
    bomb = gzip.compress(b"\0" * (8 << 20))
    assert len(bomb) < 16_384
    async with transport_for({"/x": gzip_answer(bomb, chunked=chunked)}, max_response_size=65_536) as (t, rec, clock):
        with pytest.raises(ResponseShapeError) as caught:
            await t.request("GET", "/x")
    assert "gzip-compressed body inflated past 65536 bytes" in str(caught.value)
    assert "max_response_size" in str(caught.value)
    assert "dropped" not in str(caught.value)
    assert rec.count == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_gzip_bomb_of_many_members_is_named_and_not_retried(*, chunked: bool) -> None:
    """A gzip body of 2,000 tiny members (which aiohttp refuses to inflate) is a named bomb, never a dropped link."""
    bomb = gzip.compress(b"\0" * 100) * 2000
    async with transport_for({"/x": gzip_answer(bomb, chunked=chunked)}, max_response_size=1 << 20) as (t, rec, clock):
        with pytest.raises(ResponseShapeError, match="decompression bomb") as caught:
            await t.request("GET", "/x")
    assert "dropped" not in str(caught.value)
    assert rec.count == 1
    assert clock.sleeps == []


async def test_a_corrupt_gzip_body_is_named_and_not_retried() -> None:
    """A body labelled gzip that is not gzip is 'could not be decompressed', not a dropped connection."""
    async with transport_for({"/x": gzip_answer(b"not gzip at all" * 10, chunked=True)}) as (t, rec, clock):
        with pytest.raises(ResponseShapeError, match="could not be decompressed"):
            await t.request("GET", "/x")
    assert rec.count == 1
    assert clock.sleeps == []
