"""OpenTelemetry spans for a fleet update: one span per HTTP attempt, all inside one span for the run.

Needs the extra: ``pip install 'aiodataops[otel]'`` (``opentelemetry-sdk`` and
``opentelemetry-instrumentation-aiohttp-client``). Run it: ``python examples/otel_fleet.py``; it updates 20 services
of the embedded emulator and prints the spans it collected. Import it: ``await examples.otel_fleet.main()`` returns
the finished spans and the number of requests the emulator answered.

How it works: the instrumentation's ``create_trace_config()`` is an ``aiohttp.TraceConfig``, and
``DataOpsClient(trace_configs=[...])`` hands it to the client's session, so every attempt (retries and polls
included) becomes a client span. The fleet's workers start inside the run's span and inherit it as their parent.
In a real application, export to a collector instead of memory (``opentelemetry-exporter-otlp``'s
``OTLPSpanExporter`` in a ``BatchSpanProcessor``), and build the client with ``DataOpsClient.from_env(...)``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, NamedTuple

import anyio
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aiodataops import Clock, DataOpsClient, PollPolicy, ServiceUpdate, SystemClock
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import Sequence

# The emulator finishes an update in well under a second; poll it often so the example is quick.
QUICK_POLLS = PollPolicy(first_delay=0.2, growth=1.5, max_delay=1.0, min_delay=0.1, deadline=60.0)


class Traced(NamedTuple):
    """What ``main()`` returns: the finished spans, and how many requests the emulator answered."""

    spans: Sequence[ReadableSpan]
    requests: int


async def main(clock: Clock | None = None, *, services: int = 20) -> Traced:
    """Update ``services`` services with tracing on; print one line per kind of span."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # pass this one explicitly: the example leaves the global provider alone
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("aiodataops.examples.otel_fleet")
    clock = clock or SystemClock()
    async with (
        Emulator(data_ops=2, services=services, update_duration=(0.2, 0.8), seed=2, clock=clock) as emu,
        DataOpsClient(
            emu.base_url,
            emu.credentials,
            clock=clock,
            poll=QUICK_POLLS,
            timeout=10.0,  # seconds per attempt
            trace_configs=[create_trace_config(tracer_provider=provider)],
        ) as client,
    ):
        with tracer.start_as_current_span("fleet update") as run:
            update = ServiceUpdate(description="traced by OpenTelemetry")
            targets = [(service.id, update) async for service in client.services.list()]
            report = await client.fleet.apply(targets, concurrency=5)
            run.set_attribute("fleet.total", report.total)
            run.set_attribute("fleet.succeeded", report.counts["succeeded"])
        requests = emu.counters.total()
    spans = exporter.get_finished_spans()
    kinds = Counter(span.name for span in spans)
    print(f"services updated: {report.total}, requests: {requests}, spans: {len(spans)}")
    for name, count in sorted(kinds.items()):
        print(f"  {count:4d}  {name}")
    return Traced(spans, requests)


def _misspelt_keywords_are_type_errors() -> None:
    """Never called. ``mypy --strict`` (CI) checks this file: were ``from_env`` to take ``**options: Any``, the
    ``ignore`` below would be unused, and that is an error; so ``from_env``'s keywords stay typed, like the
    constructor's, and a typo such as ``timeuot=`` is caught before it runs."""
    DataOpsClient.from_env(timeuot=5)  # type: ignore[call-arg]


if __name__ == "__main__":
    anyio.run(main)
