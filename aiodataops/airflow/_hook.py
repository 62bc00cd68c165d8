"""``DataOpsHook``: an Airflow connection of type ``scp_dataops`` made into a ``DataOpsClient``.

The connection: access key as login, secret key as password, the endpoint as host (a URL; a bare host name means
``https://`` and the port field is added), or ``region`` and ``env`` in extra. Extra also takes ``auth_token``
(temporary credentials), ``ca_bundle`` (a CA file path, passed as the client's ``ssl=``), ``accept_language`` and
``allow_insecure_http``, and ``proxy`` (a proxy URL, optionally with ``user:password@``; without it the worker's
``HTTPS_PROXY``/``NO_PROXY`` decide, as for ``DataOpsClient``). Airflow masks the password and sensitive extras
(``auth_token``) in every log; nothing here logs them.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from aiodataops import ConfigurationError, Credentials, DataOpsClient
from aiodataops.airflow._provider import CONN_TYPE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from airflow.sdk import Connection

__all__ = ["DEFAULT_CONN_ID", "DataOpsHook"]

DEFAULT_CONN_ID = "scp_dataops_default"
_KNOWN_EXTRA = frozenset(
    {"region", "env", "auth_token", "ca_bundle", "accept_language", "allow_insecure_http", "proxy"}
)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class DataOpsHook(BaseHook):
    """Build ``DataOpsClient`` s from the ``scp_dataops`` connection ``scp_conn_id``.

    ``async with DataOpsHook().client() as client: ...`` gives an opened client (the connection is read with
    Airflow's async API, as triggers must). ``get_conn()`` returns an unopened one from the sync API, for worker code
    that then enters it in its own event loop. ``client_options`` go to ``DataOpsClient`` as they are
    (``concurrency``, ``poll``, ``retry``, ``timeout``...).
    """

    conn_name_attr = "scp_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "SCP Data Ops"

    def __init__(self, scp_conn_id: str = DEFAULT_CONN_ID, **client_options: Any) -> None:
        super().__init__()
        self.scp_conn_id = scp_conn_id
        self.client_options = client_options

    def get_conn(self) -> DataOpsClient:
        """An unopened client for the connection (read with the sync API: worker code, not a trigger)."""
        conn = self.get_connection(self.scp_conn_id)
        return self.client_for(conn, conn.extra_dejson)

    async def aget_conn(self) -> DataOpsClient:
        """An unopened client for the connection, read with Airflow's async API (safe in a trigger)."""
        conn = await self.aget_connection(self.scp_conn_id)
        return self.client_for(conn, await conn.aextra_dejson())

    @asynccontextmanager
    async def client(self) -> AsyncIterator[DataOpsClient]:
        """``async with hook.client() as client``: an opened client, closed when the block ends."""
        async with await self.aget_conn() as client:
            yield client

    def client_for(self, conn: Connection, extra: Mapping[str, Any]) -> DataOpsClient:
        """Turn a connection (and its parsed extra) into a client; a bad one raises ``ConfigurationError``."""
        where = f"connection {self.scp_conn_id!r}"
        if not conn.login or not conn.password:
            raise ConfigurationError(f"{where}: needs the access key as login and the secret key as password")
        unknown = sorted(set(extra) - _KNOWN_EXTRA)
        if unknown:
            self.log.warning("%s: ignoring unknown extra field(s): %s", where, ", ".join(unknown))
        token = extra.get("auth_token") or None
        options: dict[str, Any] = {
            "region": extra.get("region") or None,
            "env": extra.get("env") or None,
            "allow_insecure_http": _flag(extra.get("allow_insecure_http", False)),
            **({"accept_language": extra["accept_language"]} if extra.get("accept_language") else {}),
            **({"ssl": extra["ca_bundle"]} if extra.get("ca_bundle") else {}),
            **({"proxy": extra["proxy"]} if extra.get("proxy") else {}),
            **self.client_options,
        }
        try:
            return DataOpsClient(_endpoint(conn), Credentials(conn.login, conn.password, token), **options)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None


def _endpoint(conn: Connection) -> str | None:
    """The connection's endpoint URL: the host as given when it has a scheme, else https plus the port field."""
    host = (conn.host or "").strip()
    if not host:
        return None
    if "://" in host:
        return host
    port = f":{conn.port}" if conn.port else ""
    return f"https://{host}{port}"
