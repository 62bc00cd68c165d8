"""``client.data_ops`` over HTTP against the emulator: every data ops operation, and the client's own surface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest
from _loopback import CREDS, Recorder, app_with, serve
from aiohttp import web

from aiodataops._client import DataOpsClient
from aiodataops._clock import VirtualClock
from aiodataops._errors import ConflictError, NotFoundError, ResponseShapeError
from aiodataops._models import DataOps, DataOpsCreate, DataOpsUpdate, HostAliasGroup
from aiodataops._polling import PollPolicy
from aiodataops.emulator import Emulator
from aiodataops.fleet import Fleet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.anyio

POLL = PollPolicy(first_delay=0.5, max_delay=2.0, min_delay=0.1, deadline=600.0)


@pytest.fixture
async def env() -> AsyncIterator[tuple[Emulator, DataOpsClient]]:
    clock = VirtualClock()
    async with (
        Emulator(data_ops=3, services_per_data_ops=2, seed=5, clock=clock) as emu,
        DataOpsClient(emu.base_url, emu.credentials, clock=clock, poll=POLL) as client,
    ):
        yield emu, client


async def new_data_ops(emu: Emulator, client: DataOpsClient, name: str) -> DataOpsCreate:
    """A valid create request on a spare cluster, with a real image and ingress controller."""
    cluster_id = emu.cluster_ids()[-1]
    images = await client.data_ops.image_versions()
    ingress = await client.data_ops.ingress_controllers(cluster_id)
    return DataOpsCreate(
        cluster_id=cluster_id,
        data_ops_name=name,
        domain="airflow.example.com",
        dsc_domain="dsc.example.com",
        host_alias_list=(HostAliasGroup(hostnames=("db.internal",), ip="10.0.0.8"),),
        image_id=images[-1].image_id,
        ingress_controller_name=ingress[0],
        storage_class_name="standard",
    )


async def test_list_and_list_page(env: tuple[Emulator, DataOpsClient]) -> None:
    """list pages through every data ops lazily; list_page answers one page with the total."""
    emu, client = env
    listed = [d.id async for d in client.data_ops.list(page_size=2)]
    assert listed == emu.data_ops_ids()
    page = await client.data_ops.list_page(page=1, size=2)
    assert page.total_count == 3
    assert len(page.contents) == 1
    assert [e.path for e in emu.counters.log if e.operation == "list_data_ops"][:2] == [
        "/v1/data-ops?page=0&size=2",
        "/v1/data-ops?page=1&size=2",
    ]


async def test_list_filter_by_name(env: tuple[Emulator, DataOpsClient]) -> None:
    """A name filter returns only the data ops of that name."""
    emu, client = env
    name = emu.data_ops_body(emu.data_ops_ids()[1])["data_ops_name"]
    found = await client.data_ops.list(data_ops_name=name).collect()
    assert [d.data_ops_name for d in found] == [name]


async def test_get_and_not_found(env: tuple[Emulator, DataOpsClient]) -> None:
    """get reads a data ops; an unknown id raises NotFoundError."""
    emu, client = env
    data_ops_id = emu.data_ops_ids()[0]
    found = await client.data_ops.get(data_ops_id)
    assert isinstance(found, DataOps)
    assert found.id == data_ops_id
    assert found.state == "RUNNING"
    with pytest.raises(NotFoundError):
        await client.data_ops.get("DOPS-00000000-0000-0000-0000-000000000000")


async def test_check_name(env: tuple[Emulator, DataOpsClient]) -> None:
    """check_name is True for a taken name and False for a free one."""
    emu, client = env
    name = emu.data_ops_body(emu.data_ops_ids()[0])["data_ops_name"]
    assert await client.data_ops.check_name(name) is True
    assert await client.data_ops.check_name("nobody-has-this") is False


async def test_image_versions(env: tuple[Emulator, DataOpsClient]) -> None:
    """image_versions lists the images with ids, names and versions, sending page and size."""
    emu, client = env
    images = await client.data_ops.image_versions()
    assert images
    assert all(i.image_id.startswith("IMAGE-") and i.version for i in images)
    assert any(e.operation == "image_versions" and "page=0&size=" in e.path for e in emu.counters.log)


async def test_ingress_controllers_as_a_plain_list(env: tuple[Emulator, DataOpsClient]) -> None:
    """The emulator's plain JSON list of names is read as a tuple of strings."""
    emu, client = env
    names = await client.data_ops.ingress_controllers(emu.cluster_ids()[0])
    assert names
    assert all(isinstance(n, str) for n in names)


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"contents": ["nginx-a", "nginx-b"], "total_count": 2}, ("nginx-a", "nginx-b")), (["solo"], ("solo",))],
)
async def test_ingress_controllers_accepts_both_shapes(body: Any, expected: tuple[str, ...]) -> None:
    """Ingress controllers are read from a JSON list or from {contents: [...]}."""

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    routes = {"/v1/data-ops/clusters/{cid}/ingress-controllers": answer}
    async with serve(app_with(Recorder(), routes)) as base, DataOpsClient(base, CREDS) as client:
        assert await client.data_ops.ingress_controllers("c" * 32) == expected


async def test_ingress_controllers_of_the_wrong_shape_name_the_field() -> None:
    """A non-string item is a ResponseShapeError naming its path."""

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=b'{"contents": ["ok", 5]}', content_type="application/json")

    routes = {"/v1/data-ops/clusters/{cid}/ingress-controllers": answer}
    async with serve(app_with(Recorder(), routes)) as base, DataOpsClient(base, CREDS) as client:
        with pytest.raises(ResponseShapeError) as caught:
            await client.data_ops.ingress_controllers("c" * 32)
    assert caught.value.path == "$.contents[1]"


async def test_create_and_wait(env: tuple[Emulator, DataOpsClient]) -> None:
    """create answers the new data ops in CREATING; create_and_wait ends RUNNING."""
    emu, client = env
    request = await new_data_ops(emu, client, "fresh-dops")
    created = await client.data_ops.create(request)
    assert created.id.startswith("DOPS-")
    assert created.state == "CREATING"
    settled = await client.data_ops.wait_settled(created.id, after=created, operation="create")
    assert settled is not None
    assert settled.state == "RUNNING"


async def test_create_and_wait_in_one_call(env: tuple[Emulator, DataOpsClient]) -> None:
    """create_and_wait returns the settled data ops."""
    emu, client = env
    settled = await client.data_ops.create_and_wait(await new_data_ops(emu, client, "one-call-dops"))
    assert settled.state == "RUNNING"
    assert settled.data_ops_name == "one-call-dops"


async def test_update_and_update_and_wait(env: tuple[Emulator, DataOpsClient]) -> None:
    """update answers the accepted body; update_and_wait returns the settled data ops with the change."""
    emu, client = env
    first, second = emu.data_ops_ids()[:2]
    accepted = await client.data_ops.update(first, DataOpsUpdate(description="changed once"))
    assert accepted.description == "changed once"
    assert accepted.state == "UPDATING"
    settled = await client.data_ops.update_and_wait(second, DataOpsUpdate(description="and settled"))
    assert settled.state == "RUNNING"
    assert settled.description == "and settled"


async def test_delete_refused_while_services_exist(env: tuple[Emulator, DataOpsClient]) -> None:
    """Deleting a data ops that still has services is a ConflictError."""
    emu, client = env
    with pytest.raises(ConflictError):
        await client.data_ops.delete(emu.data_ops_ids()[0])


async def test_delete_and_wait(env: tuple[Emulator, DataOpsClient]) -> None:
    """A data ops without services is deleted and delete_and_wait returns once it is gone."""
    emu, client = env
    created = await client.data_ops.create_and_wait(await new_data_ops(emu, client, "short-lived"))
    await client.data_ops.delete_and_wait(created.id)
    assert created.id not in emu.data_ops_ids()
    with pytest.raises(NotFoundError):
        await client.data_ops.get(created.id)


async def test_client_surface(env: tuple[Emulator, DataOpsClient]) -> None:
    """The client exposes its clock, poll policy and a lazily built fleet, and its repr hides the secret."""
    emu, client = env
    assert client.poll_policy is POLL
    assert isinstance(client.clock, VirtualClock)
    assert isinstance(client.fleet, Fleet)
    assert client.fleet is client.fleet
    assert emu.credentials.secret_key not in repr(client)
    assert emu.credentials.secret_key not in repr(client.services)


async def test_delete_is_accepted(env: tuple[Emulator, DataOpsClient]) -> None:
    """delete returns None once the deletion is accepted (the data ops reads TERMINATING)."""
    emu, client = env
    created = await client.data_ops.create_and_wait(await new_data_ops(emu, client, "to-delete"))
    assert await client.data_ops.delete(created.id) is None
    assert emu.data_ops_state(created.id) == "TERMINATING"


async def test_unopened_client_explains_itself() -> None:
    """Using a client outside ``async with`` fails with the fix in the message."""
    client = DataOpsClient("http://127.0.0.1:9", CREDS)
    with pytest.raises(RuntimeError, match="async with"):
        await client.services.get("x")
