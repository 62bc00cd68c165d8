"""The client against the emulator in its documented mode, and against each quirk the reference records (issue 11)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._errors import (
    BadRequestError,
    ConfigurationError,
    GatewayRejectedError,
    NotFoundError,
    UnsupportedVersionError,
)
from aiodataops._models import (
    Account,
    DataOpsCreate,
    DataOpsUpdate,
    HostAlias,
    HostAliasGroup,
    ResourceCheckRequest,
    ServiceCreate,
    ServiceWorkload,
    Tag,
    Workload,
)
from aiodataops._polling import PollPolicy
from aiodataops._signing import API_VERSIONS, Credentials
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.anyio

POLL = PollPolicy(first_delay=0.5, max_delay=2.0, min_delay=0.1, deadline=600.0)
PART = Workload(cpu="1", memory="2", replica="1", version="2.10.5")


@pytest.fixture
async def env() -> AsyncIterator[tuple[Emulator, DataOpsClient]]:
    clock = VirtualClock()
    async with (
        Emulator(data_ops=2, services_per_data_ops=3, seed=11, clock=clock) as emu,
        DataOpsClient(emu.base_url, emu.credentials, clock=clock, poll=POLL) as client,
    ):
        yield emu, client


def service_create(data_ops_id: str, name: str = "doc-svc-01") -> ServiceCreate:
    return ServiceCreate(
        data_ops_id=data_ops_id,
        data_ops_service_name=name,
        domain="airflow.example.com",
        host_alias=HostAlias(enabled=False),
        service_workload=ServiceWorkload(scheduler=PART, web_server=PART, worker=PART, dag_processor=PART),
        storage_class_name="standard",
        worker_type="CeleryExecutor",
        tags=(Tag(tag_key="team", tag_value="etl"),),
    )


async def test_the_creates_are_sent_at_1_2_and_take_dag_processor_and_tags(env: tuple[Emulator, DataOpsClient]) -> None:
    """A service create goes out at data-ops 1.2 (the emulator serves creates at 1.2 only) with its new fields."""
    emu, client = env
    assert API_VERSIONS["create_service"] == API_VERSIONS["create_data_ops"] == "1.2"
    created = await client.services.create(service_create(emu.data_ops_ids()[0]))
    body = emu.service_body(created.id)
    assert body["service_workload"]["dag_processor"] == {"cpu": "1", "memory": "2", "replica": "1", "version": "2.10.5"}
    assert body["tags"] == [{"tag_key": "team", "tag_value": "etl"}]
    assert body["worker_type"] == "CeleryExecutor"


async def test_a_refused_version_is_a_typed_error_saying_how_to_choose_another(
    env: tuple[Emulator, DataOpsClient],
) -> None:
    """A client told to send a create at 1.1 gets UnsupportedVersionError naming the operation and the version."""
    emu, _ = env
    async with DataOpsClient(emu.base_url, emu.credentials, api_versions={"create_service": "1.1"}) as client:
        with pytest.raises(UnsupportedVersionError) as caught:
            await client.services.create(service_create(emu.data_ops_ids()[0]))
    exc = caught.value
    assert (exc.status, exc.operation, exc.api_version) == (406, "create_service", "1.1")
    assert "create_service" in str(exc)
    assert "'data-ops 1.1'" in str(exc)
    assert "api_versions" in str(exc)


async def test_a_version_can_be_chosen_for_the_calls_of_one_block(env: tuple[Emulator, DataOpsClient]) -> None:
    """`with client.api_versions(op=...)` changes the version of the calls inside the block only."""
    emu, client = env
    with client.api_versions(list_services="9.9"), pytest.raises(UnsupportedVersionError):
        await client.services.list_page()
    page = await client.services.list_page()  # back to the documented 1.1
    assert page.total_count == len(emu.service_ids())


async def test_an_override_for_an_unknown_operation_is_a_configuration_error() -> None:
    """`api_versions` naming no operation, or a malformed version, is refused when the client is built."""
    creds = Credentials("AK", "SK")
    with pytest.raises(ConfigurationError, match="create_servce"):
        DataOpsClient("http://127.0.0.1:1", creds, api_versions={"create_servce": "1.2"})
    with pytest.raises(ConfigurationError, match=r"1\.x"):
        DataOpsClient("http://127.0.0.1:1", creds, api_versions={"create_service": "1.x"})


async def test_a_data_ops_reads_as_documented(env: tuple[Emulator, DataOpsClient]) -> None:
    """data_ops.get reads the documented detail (is_active_image as "Y", ports, namespace) and its update works."""
    emu, client = env
    data_ops_id = emu.data_ops_ids()[0]
    assert emu.data_ops_body(data_ops_id)["is_active_image"] == "Y"
    found = await client.data_ops.get(data_ops_id)
    assert found.is_active_image is True
    assert (found.http_port, found.namespace_name) == ("80", emu.data_ops_body(data_ops_id)["namespace_name"])
    update = DataOpsUpdate(account=Account(account_password="N3w-Passw0rd!"), description="moved")
    accepted = await client.data_ops.update(data_ops_id, update)
    assert (accepted.state, accepted.description) == ("UPDATING", "moved")
    assert emu.data_ops_body(data_ops_id)["account"]["account_password"] == "N3w-Passw0rd!"


async def test_a_data_ops_create_goes_out_at_1_2(env: tuple[Emulator, DataOpsClient]) -> None:
    """A data ops create (optional dsc_domain left out) is accepted at 1.2."""
    emu, client = env
    cluster_id = emu.cluster_ids()[-1]
    images = await client.data_ops.image_versions()
    assert images[-1].image_attr == {"k8s.version": "1.29", "os.type": "ubuntu"}
    ingress = await client.data_ops.ingress_controllers(cluster_id)
    request = DataOpsCreate(
        cluster_id=cluster_id,
        data_ops_name="doc-dops-01",
        domain="doc.example.com",
        host_alias_list=(HostAliasGroup(hostnames=("db.internal",), ip="10.0.0.8"),),
        image_id=images[-1].image_id,
        ingress_controller_name=ingress[0],
        storage_class_name="standard",
    )
    created = await client.data_ops.create(request)
    assert created.state == "CREATING"


async def test_validate_resources_reads_the_documented_answer(env: tuple[Emulator, DataOpsClient]) -> None:
    """validate_resources sends `{service_workload}` only and reads `{cpu, memory, err_code, result}`."""
    emu, client = env
    check = await client.services.validate_resources_create(
        emu.cluster_ids()[-1], ResourceCheckRequest(service_workload=ServiceWorkload(worker=PART))
    )
    assert (check.result, check.err_code) == (True, "")
    assert isinstance(check.cpu, dict)


async def test_a_400_shows_the_reasons_of_a_list_valued_detail(env: tuple[Emulator, DataOpsClient]) -> None:
    """A 400 whose detail is a list of "Field required" shows those reasons in the error, not only its title."""
    _, client = env
    with pytest.raises(BadRequestError) as caught:
        await client._transport.request("POST", "/v1/data-ops-services", body=b"{}", operation="create_service")
    assert caught.value.code == "ValidationError"
    assert "Field required" in caught.value.message
    assert "body.data_ops_id: Field required" in str(caught.value)


async def test_stringified_details_still_show_their_reasons() -> None:
    """With `detail_as_string`, a detail written as Python's str() of a list still yields its reasons."""
    async with (
        Emulator(seed=1, quirks={"detail_as_string"}) as emu,
        DataOpsClient(emu.base_url, emu.credentials) as client,
    ):
        with pytest.raises(BadRequestError) as caught:
            await client.services.create(service_create(emu.data_ops_ids()[0], name="X"))
    assert "body.data_ops_service_name: must be" in caught.value.message
    assert "['" not in caught.value.message


async def test_417_bursts_are_waited_out() -> None:
    """With `edge_417`, the edge's HTML 417 bursts are retried like 429s and every read still succeeds."""
    clock = VirtualClock()
    async with (
        Emulator(seed=3, clock=clock, services=20, quirks={"edge_417"}) as emu,
        DataOpsClient(emu.base_url, emu.credentials, clock=clock) as client,
    ):
        for service_id in emu.service_ids():
            assert (await client.services.get(service_id)).id == service_id
        assert emu.counters.faults["get_service", "417"] > 0
        assert emu.counters.total("get_service", 417) == emu.counters.faults["get_service", "417"]


async def test_the_gateways_404_for_bad_credentials_is_not_a_not_found() -> None:
    """With `bad_credentials_404`, a wrong key is answered by Spring's 404: a GatewayRejectedError, not NotFound."""
    async with Emulator(seed=1, quirks={"bad_credentials_404"}) as emu:
        wrong = Credentials(emu.credentials.access_key, "not-the-secret")
        async with DataOpsClient(emu.base_url, wrong) as client:
            with pytest.raises(GatewayRejectedError) as caught:
                await client.services.get(emu.service_ids()[0])
    assert not isinstance(caught.value, NotFoundError)
    assert caught.value.status == 404
    assert "access key" in caught.value.message


async def test_a_delete_wait_settles_when_a_gone_resource_answers_400() -> None:
    """With `gone_answers_400`, a deleted service's GET answers 400 "not found": the delete wait still settles."""
    clock = VirtualClock()
    async with (
        Emulator(seed=2, clock=clock, quirks={"gone_answers_400"}) as emu,
        DataOpsClient(emu.base_url, emu.credentials, clock=clock, poll=POLL) as client,
    ):
        service_id = emu.service_ids()[0]
        await client.services.delete_and_wait(service_id)
        assert emu.counters.total("get_service", 400) >= 1
        assert service_id not in emu.service_ids()


async def test_documented_list_filters_are_sent_and_old_names_warn(env: tuple[Emulator, DataOpsClient]) -> None:
    """data_ops.list filters by cluster_id and region; services.list(data_ops_id=) warns that it may be ignored."""
    emu, client = env
    data_ops_id = emu.data_ops_ids()[1]
    cluster_id = emu.data_ops_body(data_ops_id)["cluster_id"]
    found = await client.data_ops.list(cluster_id=cluster_id, region="kr-west1").collect()
    assert [d.id for d in found] == [data_ops_id]
    with pytest.warns(DeprecationWarning, match="data_ops_id"):
        listing = client.services.list(data_ops_id=data_ops_id)
    everything = await listing.collect()
    assert len(everything) == len(emu.service_ids())  # the server ignores a filter it does not know


async def test_documented_placeholders_read_as_not_set(env: tuple[Emulator, DataOpsClient]) -> None:
    """A body using the examples' "" placeholders for booleans, counts and datetimes reads with those unset."""
    _, client = env
    from aiodataops._wire import structure  # noqa: PLC0415 -- the converter the client reads with

    body: dict[str, Any] = {"data_ops_id": "DOPS-1", "is_active_image": "", "created_dt": "", "http_port": ""}
    read = structure(body, type(await client.data_ops.get(env[0].data_ops_ids()[0])))
    assert (read.is_active_image, read.created_dt, read.http_port) == (None, None, None)
    naive = structure({"data_ops_id": "DOPS-1", "modified_dt": "2026-06-05T01:02:03"}, type(read))
    assert naive.modified_dt == dt.datetime(2026, 6, 5, 1, 2, 3, tzinfo=dt.UTC)


async def test_the_cli_lists_by_the_documented_created_by_filter(tmp_path: Any) -> None:
    """`aiodataops services list --created-by USER` sends the documented filter and lists only that user's."""
    import io  # noqa: PLC0415 -- only this test captures output

    from aiodataops.cli import build_parser  # noqa: PLC0415 -- the command line under test
    from aiodataops.cli._services import run  # noqa: PLC0415 -- the command line under test

    clock = VirtualClock()
    async with Emulator(data_ops=2, services_per_data_ops=6, seed=11, clock=clock) as emu:
        secret = tmp_path / "secret"
        secret.write_text(emu.credentials.secret_key + "\n")
        user = emu.service_body(emu.service_ids()[0])["created_by"]
        mine = [s for s in emu.service_ids() if emu.service_body(s)["created_by"] == user]
        argv = ["services", "list", "--endpoint", emu.base_url, "--access-key", emu.credentials.access_key]
        argv += ["--secret-key-file", str(secret), "--created-by", user, "--output", "json"]
        out, err = io.StringIO(), io.StringIO()
        status = await run(build_parser().parse_args(argv), clock=clock, poll=POLL, out=out, err=err)
    assert status == 0, err.getvalue()
    listed = orjson.loads(out.getvalue())
    assert sorted(item["data_ops_service_id"] for item in listed) == sorted(mine)
    assert len(mine) < len(emu.service_ids())


async def test_a_fleet_report_shows_the_reasons_of_a_400() -> None:
    """A fleet update refused with a 400 whose detail is a (stringified) list shows the reason in the report."""
    from aiodataops.fleet import Outcome, parse_plan  # noqa: PLC0415 -- only this test runs a fleet

    clock = VirtualClock()
    async with (
        Emulator(seed=5, clock=clock, quirks={"detail_as_string"}) as emu,
        DataOpsClient(emu.base_url, emu.credentials, clock=clock, poll=POLL) as client,
    ):
        plan = parse_plan(
            {"update": {"service_workload": {"worker": {"cpu": "two"}}}, "targets": emu.service_ids()[:2]}
        )
        report = await client.fleet.apply(plan)
    item = report.items[0]
    assert item.outcome is Outcome.FAILED
    assert item.error is not None
    assert (item.error.kind, item.error.status) == ("bad_request", 400)
    assert "body.service_workload.worker.cpu: must be a positive number" in item.error.message
