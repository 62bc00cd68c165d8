"""``client.services`` over HTTP against the emulator: every service operation, paging, waiting and retries."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from _loopback import CREDS, Recorder, app_with, serve
from aiohttp import web

from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._errors import (
    AuthenticationError,
    ConflictError,
    IdNotFoundError,
    NotFoundError,
    ServerError,
    WaitFailedError,
)
from aiodataops._models import (
    Account,
    HostAlias,
    HostAliasEntry,
    ResourceCheckRequest,
    Service,
    ServiceCreate,
    ServiceUpdate,
    ServiceWorkload,
    SubVersionSet,
    Workload,
)
from aiodataops._polling import PollPolicy
from aiodataops._retry import RetryPolicy
from aiodataops._signing import Credentials
from aiodataops.emulator import PASSWORD_MARK, Emulator, FaultRule

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiodataops._waiting import StateEvent

pytestmark = pytest.mark.anyio

POLL = PollPolicy(first_delay=0.5, max_delay=2.0, min_delay=0.1, deadline=120.0)


class Env:
    """An emulator and a client sharing one virtual clock: waits and lifecycles run without real time."""

    def __init__(self, emu: Emulator, client: DataOpsClient, clock: VirtualClock) -> None:
        self.emu = emu
        self.client = client
        self.clock = clock


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with make_env(services_per_data_ops=12) as made:
        yield made


@pytest.fixture
async def small_env() -> AsyncIterator[Env]:
    """One data ops with one service: its cluster has room to spare."""
    async with make_env(data_ops=1, services_per_data_ops=1) as made:
        yield made


@contextlib.asynccontextmanager
async def make_env(**emulator: Any) -> AsyncIterator[Env]:
    clock = VirtualClock()
    emulator = {"data_ops": 2, "seed": 3, "stale_read_seconds": 1.0, **emulator}
    async with (
        Emulator(clock=clock, **emulator) as emu,
        DataOpsClient(
            emu.base_url,
            emu.credentials,
            clock=clock,
            poll=POLL,
            retry=RetryPolicy(max_attempts=3, first_delay=0.1),
        ) as client,
    ):
        yield Env(emu, client, clock)


def workload(cpu: str = "2", replica: str = "2") -> ServiceWorkload:
    return ServiceWorkload(worker=Workload(cpu=cpu, memory="4", replica=replica))


def full_workload() -> ServiceWorkload:
    part = Workload(cpu="1", memory="2", replica="1", version="2.10.5")
    return ServiceWorkload(scheduler=part, web_server=part, worker=part)


def new_service(data_ops_id: str, name: str = "new-svc-01") -> ServiceCreate:
    return ServiceCreate(
        data_ops_id=data_ops_id,
        data_ops_service_name=name,
        domain="airflow.example.com",
        host_alias=HostAlias(enabled=True, host_alias_list=(HostAliasEntry("db.internal", "10.0.0.7"),)),
        service_workload=full_workload(),
        storage_class_name="standard",
        worker_type="CeleryExecutor",
        account=Account(account_id="admin", account_password="create-pw-secret"),
    )


# -- reads --------------------------------------------------------------------------------------------------


async def test_list_pages_lazily_and_always_sends_page_and_size(env: Env) -> None:
    """Listing 24 services with page_size=10 makes three requests, each carrying page and size."""
    items = [item async for item in env.client.services.list(page_size=10)]
    assert len(items) == 24
    assert len({item.id for item in items}) == 24
    paths = [entry.path for entry in env.emu.counters.log if entry.operation == "list_services"]
    assert paths == [
        "/v1/data-ops-services?page=0&size=10",
        "/v1/data-ops-services?page=1&size=10",
        "/v1/data-ops-services?page=2&size=10",
    ]


async def test_list_stops_fetching_when_the_consumer_stops(env: Env) -> None:
    """Breaking out after the first item fetches only the first page."""
    listing = env.client.services.list(page_size=5)
    async for _ in listing:
        break
    await listing.aclose()
    assert env.emu.counters.requests["list_services", 200] == 1
    assert listing.total_count == 24


async def test_list_filters_and_sort_reach_the_server(env: Env) -> None:
    """Filters are sent as query parameters and the server's sort order comes back."""
    first = await env.client.services.list_page(size=1)
    name = first.contents[0].data_ops_name
    assert name is not None
    items = [s async for s in env.client.services.list(data_ops_name=name, sort="data_ops_service_name:desc")]
    assert len(items) == 12
    assert all(s.data_ops_name == name for s in items)
    names = [s.data_ops_service_name or "" for s in items]
    assert names == sorted(names, reverse=True)
    assert any("sort=data_ops_service_name%3Adesc" in e.path for e in env.emu.counters.log)


async def test_list_page_returns_one_page_with_the_total(env: Env) -> None:
    """list_page(page, size) answers one page and the total count."""
    page = await env.client.services.list_page(page=2, size=10)
    assert len(page.contents) == 4
    assert page.total_count == 24


async def test_get_returns_the_service_and_hides_the_password(env: Env) -> None:
    """get reads the detail; the account password is reachable but not in the repr."""
    service_id = env.emu.service_ids()[0]
    service = await env.client.services.get(service_id)
    assert isinstance(service, Service)
    assert service.id == service_id
    assert service.state == "RUNNING"
    assert service.account is not None
    assert (service.account.account_password or "").startswith(PASSWORD_MARK)
    assert PASSWORD_MARK not in repr(service)


async def test_get_unknown_service_is_not_found(env: Env) -> None:
    """A service that does not exist raises NotFoundError, once (not retried): answered 400 "not found", as live, it
    is an IdNotFoundError, a NotFoundError too; answered 404 (`unknown_ids_404`), a plain NotFoundError."""
    missing = "DOPS_SERVICE-00000000-0000-0000-0000-000000000000"
    with pytest.raises(IdNotFoundError) as caught:
        await env.client.services.get(missing)
    assert caught.value.status == 400
    assert "not found" in caught.value.message
    assert env.emu.counters.requests["get_service", 400] == 1
    env.emu.reconfigure(quirks={"unknown_ids_404"})
    with pytest.raises(NotFoundError) as plain:
        await env.client.services.get(missing)
    assert plain.value.status == 404
    assert env.emu.counters.requests["get_service", 404] == 1


async def test_check_name(env: Env) -> None:
    """check_name is True for a taken name and False for a free one."""
    taken = (await env.client.services.get(env.emu.service_ids()[0])).data_ops_service_name
    assert taken is not None
    assert await env.client.services.check_name(taken) is True
    assert await env.client.services.check_name("free-name-99") is False


async def test_sub_versions(env: Env) -> None:
    """sub_versions reads the documented object of component versions and counts the services; an unknown id
    answers 400 "not found" (as live), an IdNotFoundError."""
    data_ops_id = env.emu.data_ops_ids()[0]
    found = await env.client.services.sub_versions(data_ops_id)
    version = env.emu.data_ops_body(data_ops_id)["version"]
    assert found.data_ops_service_count == 12
    assert found.versions == SubVersionSet(scheduler=version, webserver=version, worker=version)
    with pytest.raises(IdNotFoundError) as caught:
        await env.client.services.sub_versions("DOPS-00000000-0000-0000-0000-000000000000")
    assert caught.value.status == 400


async def test_validate_resources_create(env: Env) -> None:
    """An empty cluster has room for a small workload and not for an enormous one."""
    cluster_id = env.emu.cluster_ids()[-1]  # a spare cluster, without services
    small = await env.client.services.validate_resources_create(
        cluster_id, ResourceCheckRequest(service_workload=workload("1", "1"))
    )
    huge = await env.client.services.validate_resources_create(
        cluster_id, ResourceCheckRequest(service_workload=workload("64", "100"))
    )
    assert small.result is True
    assert huge.result is False
    assert huge.err_code


async def test_validate_resources_update(small_env: Env) -> None:
    """validate_resources_update checks a service's workload change without changing anything."""
    service_id = small_env.emu.service_ids()[0]
    before = small_env.emu.service_body(service_id)
    check = await small_env.client.services.validate_resources_update(
        service_id, ResourceCheckRequest(service_workload=workload("1", "1"))
    )
    assert check.result is True
    assert small_env.emu.service_body(service_id) == before


async def test_validation_check_is_retried_as_idempotent(small_env: Env) -> None:
    """A 503 on a validate-resources POST is retried, since a check changes nothing."""
    small_env.emu.faults = (FaultRule(operation="validate_resources_update", kind="503", limit=1),)
    check = await small_env.client.services.validate_resources_update(
        small_env.emu.service_ids()[0], ResourceCheckRequest(service_workload=workload("1", "1"))
    )
    assert check.result is True
    assert small_env.emu.counters.requests["validate_resources_update", 503] == 1
    assert small_env.emu.counters.requests["validate_resources_update", 200] == 1


# -- changes ------------------------------------------------------------------------------------------------


async def test_update_returns_the_accepted_body(env: Env) -> None:
    """update answers the 202 body: UPDATING, a newer modified_dt, untouched fields kept; no workload, as the
    documented 202 writes `service_workload: ""`."""
    service_id = env.emu.service_ids()[1]
    before = await env.client.services.get(service_id)
    accepted = await env.client.services.update(service_id, ServiceUpdate(service_workload=workload("3", "2")))
    assert accepted.state == "UPDATING"
    assert accepted.modified_dt is not None
    assert before.modified_dt is not None
    assert accepted.modified_dt > before.modified_dt
    assert accepted.service_workload is None
    settled = env.emu.service_body(service_id)["service_workload"]["worker"]
    assert (settled["cpu"], settled["replica"]) == ("3", "2")
    assert accepted.description == before.description
    assert env.emu.counters.accepted_puts_per_service[service_id] == 1


async def test_update_and_wait_ends_settled_past_stale_reads(env: Env) -> None:
    """update_and_wait returns the RUNNING service with the change, never a stale pre-change read."""
    service_id = env.emu.service_ids()[2]
    events: list[StateEvent] = []
    final = await env.client.services.update_and_wait(
        service_id, ServiceUpdate(service_workload=workload("4", "3")), on_event=events.append
    )
    assert final.state == "RUNNING"
    assert final.service_workload is not None
    assert final.service_workload.worker is not None
    assert final.service_workload.worker.cpu == "4"
    assert env.emu.service_state(service_id) == "RUNNING"
    assert events
    assert events[-1].kind == "settled"
    assert env.clock.sleeps  # it polled through the shared virtual clock


async def test_update_while_updating_is_a_conflict_not_retried(env: Env) -> None:
    """A second update while the first is in progress answers 409, raised at once."""
    service_id = env.emu.service_ids()[3]
    await env.client.services.update(service_id, ServiceUpdate(description="first"))
    with pytest.raises(ConflictError):
        await env.client.services.update(service_id, ServiceUpdate(description="second"))
    assert env.emu.counters.requests["update_service", 409] == 1


async def test_wait_reports_a_failed_update(env: Env) -> None:
    """An update that ends in ERROR raises WaitFailedError with the last state."""
    service_id = env.emu.service_ids()[4]
    env.emu.force_outcome(service_id, "ERROR")
    accepted = await env.client.services.update(service_id, ServiceUpdate(description="doomed"))
    with pytest.raises(WaitFailedError) as caught:
        await env.client.services.wait_settled(service_id, after=accepted)
    assert caught.value.last_state == "ERROR"


async def test_create_returns_the_new_service(env: Env) -> None:
    """create answers the new service in CREATING, and create_and_wait ends RUNNING."""
    data_ops_id = env.emu.data_ops_ids()[0]
    created = await env.client.services.create(new_service(data_ops_id, "made-by-test"))
    assert created.id.startswith("DOPS_SERVICE-")
    assert created.state == "CREATING"
    settled = await env.client.services.create_and_wait(new_service(data_ops_id, "made-and-waited"))
    assert settled.state == "RUNNING"
    assert settled.data_ops_service_name == "made-and-waited"


async def test_create_is_not_retried_after_a_server_error(env: Env) -> None:
    """A 503 answering a create is raised, not re-sent: the service may exist already."""
    env.emu.faults = (FaultRule(operation="create_service", kind="503", limit=1),)
    with pytest.raises(ServerError):
        await env.client.services.create(new_service(env.emu.data_ops_ids()[0], "not-twice"))
    assert env.emu.counters.requests["create_service", 503] == 1
    assert sum(n for (op, _), n in env.emu.counters.requests.items() if op == "create_service") == 1


async def test_delete_and_wait_until_gone(env: Env) -> None:
    """delete is accepted, delete_and_wait returns once the service answers 404."""
    first, second = env.emu.service_ids()[5:7]
    assert await env.client.services.delete(first) is None
    await env.client.services.delete_and_wait(second)
    assert second not in env.emu.service_ids()
    with pytest.raises(NotFoundError):
        await env.client.services.get(second)


async def test_get_is_retried_through_server_errors(env: Env) -> None:
    """Two 503s (one a proxy's text) before a 200 are absorbed by the transport's retries."""
    env.emu.faults = (
        FaultRule(operation="get_service", kind="503_text", limit=1),
        FaultRule(operation="get_service", kind="502", limit=1),
    )
    service = await env.client.services.get(env.emu.service_ids()[0])
    assert service.state == "RUNNING"
    failures = sum(n for (op, status), n in env.emu.counters.requests.items() if op == "get_service" and status >= 500)
    assert failures == 2
    assert len(env.clock.sleeps) == 2


# -- the create answer without an id (a loopback server) ----------------------------------------------------


async def test_create_without_an_id_in_the_answer_finds_the_service_by_name() -> None:
    """When the create answer has no id, the client lists by name, matches exactly and reads the detail."""
    detail = {
        "data_ops_service_id": "DOPS_SERVICE-11111111-2222-3333-4444-555555555555",
        "data_ops_service_name": "wanted",
        "state": "CREATING",
        "modified_dt": "2025-01-01T00:00:00.000Z",
    }
    near_miss = {**detail, "data_ops_service_id": "DOPS_SERVICE-x", "data_ops_service_name": "wanted-not"}

    async def create(_: web.Request) -> web.Response:
        return web.Response(status=202, body=b"{}", content_type="application/json")

    async def listing(request: web.Request) -> web.Response:
        assert request.query["data_ops_service_name"] == "wanted"
        body = {"contents": [near_miss, detail], "total_count": 2}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def collection(request: web.Request) -> web.Response:
        return await (create(request) if request.method == "POST" else listing(request))

    async def get(_: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(detail), content_type="application/json")

    routes: dict[str, Any] = {
        "/v1/data-ops-services": collection,
        "/v1/data-ops-services/{sid}": get,
    }
    recorder = Recorder()
    async with serve(app_with(recorder, routes)) as base, DataOpsClient(base, CREDS, clock=VirtualClock()) as client:
        created = await client.services.create(new_service("DOPS-1", "wanted"))
    assert created.id == detail["data_ops_service_id"]
    assert created.modified_dt == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert [m for m, _, _ in recorder.hits] == ["POST", "GET", "GET"]
    assert all(ok for _, _, ok in recorder.hits)


async def test_the_one_service_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/one_service.py updates one service and returns it settled with the new workers."""
    path = Path(__file__).parent.parent / "examples" / "one_service.py"
    spec = importlib.util.spec_from_file_location("one_service_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    final = await module.main(clock=VirtualClock())
    assert final.state == "RUNNING"
    assert final.service_workload.worker.replica == "3"
    assert "is RUNNING with worker" in capsys.readouterr().out


async def test_wrong_secret_is_refused_with_the_request_id(env: Env) -> None:
    """A client signing with the wrong secret gets AuthenticationError with the emulator's request id, once."""
    wrong = Credentials(env.emu.credentials.access_key, "not-the-secret")
    async with DataOpsClient(env.emu.base_url, wrong, clock=env.clock) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.services.get(env.emu.service_ids()[0])
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("emu-")
    assert "not-the-secret" not in str(caught.value)
    assert sum(n for (op, status), n in env.emu.counters.requests.items() if status == 401) == 1


@pytest.mark.parametrize("key", ["page", "size"])
def test_a_paging_key_passed_as_a_filter_is_refused(key: str) -> None:
    """page or size given to list() as filters raise at once, naming the key, instead of silently paging."""
    client = DataOpsClient("http://127.0.0.1:9", Credentials("ak", "sk"))
    with pytest.raises(TypeError, match=f"{key}: not a filter"):
        client.services.list(**{key: 1})
    with pytest.raises(TypeError, match=f"{key}: not a filter"):
        client.data_ops.list(**{key: 1})


async def test_put_answers_the_accepted_body_and_update_keeps_answering_a_model(env: Env) -> None:
    """put() returns an Accepted with the 202 body; after a body-less 202, update() still returns a Service (a GET)."""
    sid = env.emu.service_ids()[0]
    accepted = await env.client.services.put(sid, ServiceUpdate(description="first"))
    assert accepted.body is not None
    assert (accepted.resource_id, accepted.kind, accepted.state) == (sid, "service", "UPDATING")
    settled = await env.client.services.wait_accepted(accepted)
    assert settled.description == "first"
    env.emu.faults = (FaultRule(operation="update_service", kind="accept_no_body", rate=1.0, limit=1),)
    answered = await env.client.services.update(env.emu.service_ids()[1], ServiceUpdate(description="second"))
    assert isinstance(answered, Service)
    assert answered.id == env.emu.service_ids()[1]
