"""What the layers above the client need of it, in one family of protocols (one place to look).

- ``Readable``: what a wait reads, a model with a ``state`` and a ``modified_dt`` (``Service``, ``DataOps``, a
  poll's ``Peek``).
- ``ClientCore``: what a resource (``client.services``) needs of its client: clock and poll policy.
- ``ReadsById`` and ``WaitClient``: what ``resume_wait`` needs: ``get`` on both resources, clock, poll policy.
- ``ServicesAPI`` and ``FleetClient``: what a fleet run needs: the service operations it calls.

``DataOpsClient`` satisfies each; tests and other clients can satisfy only the part they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import AsyncIterator, Callable

    from aiodataops._accepted import Accepted
    from aiodataops._clock import Clock
    from aiodataops._models import Service, ServiceSummary, ServiceUpdate
    from aiodataops._polling import PollPolicy

__all__ = ["ClientCore", "FleetClient", "Readable", "ReadsById", "ServicesAPI", "WaitClient"]


class Readable(Protocol):
    """What a wait reads: a model with a ``state`` and a ``modified_dt`` (``Service``, ``DataOps``, ``Peek``)."""

    @property
    def state(self) -> str | None: ...

    @property
    def modified_dt(self) -> dt.datetime | None: ...


class ClientCore(Protocol):
    """What a resource needs from its client (``DataOpsClient``) besides the transport it is given: clock, policy."""

    @property
    def clock(self) -> Clock: ...

    @property
    def poll_policy(self) -> PollPolicy: ...


class ReadsById(Protocol):
    """A resource that can be read by id (``client.services``, ``client.data_ops``)."""

    async def get(self, resource_id: str, /) -> Any: ...


class WaitClient(Protocol):
    """The parts of ``DataOpsClient`` that ``resume_wait`` uses."""

    @property
    def services(self) -> ReadsById: ...

    @property
    def data_ops(self) -> ReadsById: ...

    @property
    def poll_policy(self) -> PollPolicy: ...

    @property
    def clock(self) -> Clock: ...


class ServicesAPI(Protocol):
    """The service operations a fleet run uses (``DataOpsClient.services``)."""

    async def get(self, service_id: str, /) -> Service: ...

    async def put(self, service_id: str, update: ServiceUpdate, /, *, retry_sent: bool = True) -> Accepted[Service]: ...

    def list(self, **filters: Any) -> AsyncIterator[ServiceSummary]: ...

    async def wait_settled(
        self,
        service_id: str,
        *,
        after: Service | None = None,
        policy: PollPolicy | None = None,
        on_event: Callable[[Any], object] | None = None,
    ) -> Service | None: ...

    async def wait_accepted(
        self,
        accepted: Accepted[Service],
        *,
        policy: PollPolicy | None = None,
        on_event: Callable[[Any], object] | None = None,
    ) -> Service: ...


class FleetClient(Protocol):
    """The parts of ``DataOpsClient`` a fleet run uses."""

    @property
    def services(self) -> ServicesAPI: ...

    @property
    def data_ops(self) -> ReadsById: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def poll_policy(self) -> PollPolicy: ...
