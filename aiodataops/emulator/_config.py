"""``EmulatorConfig``: every knob of the emulator, checked when it is built."""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs

from aiodataops._clock import Clock
from aiodataops._signing import Credentials
from aiodataops.emulator._faults import FaultRule, Latency, LatencySpec

__all__ = ["DEFAULT_CREDENTIALS", "EDGE_417_RUN", "QUIRKS", "QUIRK_SHARES", "EmulatorConfig"]

#: Optional answers the real API may give (reference "[LIVE]" and "[LIVE / PLATFORM]"; API.md); each is off unless
#: named in ``EmulatorConfig.quirks``. The shares of the seeded ones are ``QUIRK_SHARES``.
QUIRKS: Final = {
    "workload_as_json_string": "service_workload is sent as a string holding JSON, not an object",
    "ports_as_integers": "http_port and https_port are JSON integers, not strings",
    "enabled_as_bool": 'host_alias.enabled is a JSON boolean, not "true"/"false"',
    "signature_412": "a wrong signature is answered 412 (the legacy v1 API) instead of 401",
    "unauthenticated_404": "a request without any Scp-* header gets the gateway's Spring-style 404 instead of a 401",
    "bad_credentials_404": "every refused key, signature or timestamp gets the gateway's Spring-style 404 "
    "{timestamp, path, status, error, requestId}, as SCP answers unauthenticated requests",
    "detail_as_string": "errors[].detail is a stringified Python list (\"['Field required']\") instead of a list",
    "edge_417": "seeded bursts of 417 with the platform edge's HTML 'Request Rejected' page (throttling), on about "
    "a tenth of each resource's requests, two in a row",
    "updates_end_stopped": "a seeded quarter of accepted updates end STOPPED instead of RUNNING",
    "unknown_ids_404": "a well-formed unknown id on the detail GETs and the ingress-controller GET answers 404 (this "
    "project's first guess) instead of the 400 'not found' observed live (malformed ids and sub-versions answer 400 "
    "always)",
    "gone_answers_400": "a deleted resource's GET answers 400 'not found', as an unknown id does live, instead of 404",
}
#: How often the seeded quirks strike: the share of bursts (``edge_417``: per run of ``EDGE_417_RUN`` requests of
#: one path) and of updates (``updates_end_stopped``).
QUIRK_SHARES: Final = {"edge_417": 0.1, "updates_end_stopped": 0.25}
EDGE_417_RUN: Final = 2

#: The emulator's own throwaway test key pair (never a real one); ``aiodataops emulator`` prints it.
DEFAULT_CREDENTIALS: Final = Credentials(
    access_key="EMULATOR-ACCESS-KEY-0001",
    secret_key="emulator-secret-key-not-a-real-secret",  # noqa: S106 -- the emulator's public test key
)


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"EmulatorConfig.{attribute.name}: must not be negative, got {value!r}")


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (isinstance(value, int | float) and 0 < value < float("inf")):
        raise ValueError(f"EmulatorConfig.{attribute.name}: must be a finite number > 0, got {value!r}")


def _duration(_: object, attribute: attrs.Attribute[Any], value: tuple[float, float]) -> None:
    if len(value) != 2:  # noqa: PLR2004 -- a (min, max) pair
        raise ValueError(f"EmulatorConfig.{attribute.name}: expected (min, max) seconds, got {value!r}")
    low, high = value
    if low < 0 or high < low:
        raise ValueError(f"EmulatorConfig.{attribute.name}: expected 0 <= min <= max, got {value!r}")


def _as_duration(value: Any) -> tuple[float, float]:
    if isinstance(value, int | float):
        return (float(value), float(value))
    return tuple(float(v) for v in value)  # type: ignore[return-value] # checked by the validator


def _share(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"EmulatorConfig.{attribute.name}: must be between 0 and 1, got {value!r}")


def _state_case(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("upper", "title"):
        raise ValueError(f"EmulatorConfig.{attribute.name}: expected 'upper' or 'title', got {value!r}")


def _latency(_: object, attribute: attrs.Attribute[LatencySpec], value: LatencySpec) -> None:
    if value is None or isinstance(value, Latency):
        return
    for key, item in value.items():
        if not isinstance(item, Latency):
            raise TypeError(f"EmulatorConfig.{attribute.name}[{key!r}]: expected a Latency, got {type(item).__name__}")


def _quirks(_: object, attribute: attrs.Attribute[frozenset[str]], value: frozenset[str]) -> None:
    unknown = sorted(value - QUIRKS.keys())
    if unknown:
        raise ValueError(
            f"EmulatorConfig.{attribute.name}: unknown quirk(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(QUIRKS))}"
        )


def _faults(_: object, attribute: attrs.Attribute[tuple[FaultRule, ...]], value: tuple[FaultRule, ...]) -> None:
    for index, rule in enumerate(value):
        if not isinstance(rule, FaultRule):
            raise TypeError(
                f"EmulatorConfig.{attribute.name}[{index}]: expected a FaultRule, got {type(rule).__name__}"
            )


@attrs.frozen(kw_only=True)
class EmulatorConfig:
    """How the emulator seeds its fleet, times its lifecycle, checks signatures and misbehaves."""

    #: Seeded fleet: this many data ops with ``services_per_data_ops`` services each.
    data_ops: int = attrs.field(default=2, validator=_non_negative)
    services_per_data_ops: int = attrs.field(default=5, validator=_non_negative)
    #: Total services spread evenly over the data ops; overrides ``services_per_data_ops`` when set.
    services: int | None = attrs.field(default=None, validator=_non_negative)
    #: Seeds the fleet, the lifecycle durations and outcomes, the faults and the latencies.
    seed: int = 0
    #: The key pair requests must be signed with (default: ``DEFAULT_CREDENTIALS``).
    credentials: Credentials | None = None
    #: Seconds, uniform jitter between min and max: UPDATING -> RUNNING, CREATING -> RUNNING, TERMINATING -> gone.
    update_duration: tuple[float, float] = attrs.field(
        default=(0.05, 0.15), converter=_as_duration, validator=_duration
    )
    create_duration: tuple[float, float] = attrs.field(default=(0.1, 0.3), converter=_as_duration, validator=_duration)
    delete_duration: tuple[float, float] = attrs.field(
        default=(0.05, 0.15), converter=_as_duration, validator=_duration
    )
    #: For this long after a 202, reads of that resource answer its previous snapshot (a created one is 404).
    stale_read_seconds: float = attrs.field(default=0.0, validator=_non_negative)
    #: Share of accepted updates that end in ERROR instead of RUNNING (seeded per service and change).
    error_rate: float = attrs.field(default=0.0, validator=_share)
    #: ``"upper"`` answers ``RUNNING``; ``"title"`` answers ``Running``.
    state_case: Literal["upper", "title"] = attrs.field(default="upper", validator=_state_case)
    #: Added latency: one ``Latency`` for all operations, or a mapping operation name (or ``"*"``) -> ``Latency``.
    latency: LatencySpec = attrs.field(default=None, validator=_latency)
    faults: tuple[FaultRule, ...] = attrs.field(default=(), converter=tuple, validator=_faults)
    #: Requests per second allowed per access key (a token bucket; ``None``: no limit); beyond it, 429 with
    #: ``Retry-After``. The client is never told this number: the benchmarks check that it finds it.
    rate_limit: float | None = attrs.field(default=None, validator=_positive_or_none)
    #: The bucket's size: how many requests a key may send at once after a quiet spell (default: one second's).
    rate_burst: float | None = attrs.field(default=None, validator=_positive_or_none)
    #: Seconds added to a request for every other request in flight when it arrives (latency that grows with load).
    latency_per_in_flight: float = attrs.field(default=0.0, validator=_non_negative)
    #: The time source of the lifecycle (default: the monotonic system clock); tests pass a ``VirtualClock``.
    clock: Clock | None = attrs.field(default=None, eq=False)
    #: A signature's ``Scp-Timestamp`` may be this many seconds away from the emulator's wall clock.
    timestamp_tolerance: float = attrs.field(default=900.0, validator=_non_negative)
    #: Names from ``QUIRKS``: awkward wire forms the real API may use, for testing a client's tolerance.
    quirks: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset, validator=_quirks)
    #: Where ``Emulator`` listens; port 0 picks a free one.
    host: str = "127.0.0.1"
    port: int = attrs.field(default=0, validator=_non_negative)
    #: The request log keeps at most about this many recent entries.
    log_limit: int = attrs.field(default=100_000, validator=_non_negative)
    #: Seconds ``Emulator`` waits for requests in flight when it stops.
    shutdown_timeout: float = attrs.field(default=1.0, validator=_non_negative)

    @property
    def effective_credentials(self) -> Credentials:
        """The key pair the emulator accepts."""
        return self.credentials or DEFAULT_CREDENTIALS

    def service_counts(self) -> list[int]:
        """Return how many services each seeded data ops gets."""
        if self.services is None:
            return [self.services_per_data_ops] * self.data_ops
        if self.data_ops == 0:
            if self.services:
                raise ValueError("EmulatorConfig.services: services need at least one data ops (data_ops=0)")
            return []
        base, extra = divmod(self.services, self.data_ops)
        return [base + (1 if i < extra else 0) for i in range(self.data_ops)]
