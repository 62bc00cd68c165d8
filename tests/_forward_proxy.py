"""A real forwarding HTTP proxy for the tests, in plain asyncio: CONNECT tunnels for https, absolute-form for http.

It resolves host names through ``hosts`` (so a client can be sent to ``https://api.dataops.test`` and the proxy,
not the client, finds it on 127.0.0.1; a ``host:port`` key maps one port to ``ip:port``), may demand Basic
credentials (answering 407 without them), and records what it was asked: the request line, the
``Proxy-Authorization`` header and the names of the headers of each request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import TYPE_CHECKING, NamedTuple, Self

from yarl import URL

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType


class Seen(NamedTuple):
    """One request the proxy received: method, target (``host:port`` or an absolute URL), its credentials header,
    and the names of all its headers (lower case)."""

    method: str
    target: str
    proxy_authorization: str | None
    header_names: frozenset[str]


class ForwardProxy:
    """``async with ForwardProxy(hosts={"api.dataops.test": "127.0.0.1"}) as proxy: ... proxy.url ...``."""

    def __init__(self, *, hosts: Mapping[str, str] | None = None, credentials: tuple[str, str] | None = None) -> None:
        self.hosts = dict(hosts or {})
        self.expected_authorization = (
            "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode() if credentials else None
        )
        self.seen: list[Seen] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        headers = [line for line in header_lines if line]
        authorization = next(
            (line.split(":", 1)[1].strip() for line in headers if line.lower().startswith("proxy-authorization:")),
            None,
        )
        names = frozenset(line.split(":", 1)[0].strip().lower() for line in headers)
        self.seen.append(Seen(method, target, authorization, names))
        if self.expected_authorization is not None and authorization != self.expected_authorization:
            writer.write(
                b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._route(host, int(port)))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await self._relay(reader, writer, upstream_reader, upstream_writer)
            return
        url = URL(target)  # absolute-form: http://host:port/path?query
        assert url.host is not None
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._route(url.host, url.port or 80))
        kept = [
            line
            for line in headers
            if not line.lower().startswith(("proxy-authorization:", "proxy-connection:", "connection:"))
        ]
        forwarded = "\r\n".join([f"{method} {url.raw_path_qs} {version}", *kept, "Connection: close", "", ""])
        upstream_writer.write(forwarded.encode("latin-1"))
        await self._relay(reader, writer, upstream_reader, upstream_writer)

    def _route(self, host: str, port: int) -> tuple[str, int]:
        """Where the proxy really connects for ``host:port``."""
        mapped = self.hosts.get(f"{host}:{port}")
        if mapped is not None:
            address, _, mapped_port = mapped.rpartition(":")
            return address, int(mapped_port)
        return self.hosts.get(host, host), port

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        self._writers.add(upstream_writer)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            self._writers.discard(upstream_writer)
            upstream_writer.close()
