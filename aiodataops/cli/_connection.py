"""Command-line options that say which API to talk to and as whom, shared by every sub-command that calls the API.

Each setting comes from a flag, else an ``SCP_*`` environment variable, else SCP's own files (``credentials.json``
and ``config.json`` in ``--config-dir``, ``SCP_CONFIG_DIR`` or ``~/.scp``), so a machine set up for SCP's other
tools needs no flag at all. The secret key and the token are read from a file (``--secret-key-file``,
``--auth-token-file``; ``-`` for standard input), never from a flag's value: a value on the command line is visible
to every user of the machine (``ps``) and lands in shell history. Requests go through the proxy that ``--proxy``,
else ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, names (``--no-proxy``: none). Errors name the flags, not the
Python arguments behind them.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from pathlib import Path
from typing import Any

from aiodataops._client import DataOpsClient
from aiodataops._config import ACCEPT_LANGUAGES, make_ssl_context, resolve_settings
from aiodataops._errors import ConfigurationError
from aiodataops._proxy import FROM_ENVIRONMENT, Proxy, parse_proxy, resolve_proxy

__all__ = ["add_connection_arguments", "client_from_args", "connection_parent"]


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--endpoint``, ``--region``/``--env``, credential, file, proxy and TLS options to ``parser``."""
    group = parser.add_argument_group(
        "connection (default: the SCP_* environment variables, then SCP's credentials.json and config.json)"
    )
    group.add_argument("--endpoint", metavar="URL", help="base URL of the API (SCP_DATAOPS_ENDPOINT)")
    group.add_argument("--region", help="region, e.g. kr-west1 (SCP_REGION); needs --env")
    group.add_argument("--env", dest="scp_env", metavar="ENV", help="environment: s, g or e (SCP_ENV)")
    group.add_argument("--access-key", metavar="KEY", help="access key (SCP_ACCESS_KEY)")
    group.add_argument(
        "--secret-key-file", metavar="PATH", help="read the secret key from this file, '-' for stdin (SCP_SECRET_KEY)"
    )
    group.add_argument(
        "--auth-token-file", metavar="PATH", help="read a temporary credential's token from a file (SCP_AUTH_TOKEN)"
    )
    group.add_argument("--accept-language", choices=ACCEPT_LANGUAGES, help="answer language (default en-US)")
    group.add_argument("--ca-bundle", metavar="PATH", help="trust this CA bundle (PEM) instead of the system's")
    group.add_argument(
        "--insecure-http", action="store_true", help="allow plain http:// to a host that is not this machine"
    )
    group.add_argument(
        "--config-dir",
        metavar="DIR",
        help="read SCP's credentials.json and config.json from DIR (SCP_CONFIG_DIR; default ~/.scp)",
    )
    # Not an argparse mutually exclusive group: argparse would list those two outside this group's help.
    group.add_argument(
        "--proxy",
        metavar="URL",
        help="send requests through this proxy, http://[user:password@]host:port (default: HTTPS_PROXY, NO_PROXY)",
    )
    group.add_argument(
        "--no-proxy", action="store_true", help="connect directly, whatever HTTPS_PROXY or HTTP_PROXY say"
    )


def connection_parent() -> argparse.ArgumentParser:
    """A parent parser holding the connection options (``parents=[connection_parent()]``)."""
    parent = argparse.ArgumentParser(add_help=False)
    add_connection_arguments(parent)
    return parent


def _read_secret(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} from {path!r}: {exc.strerror or exc}") from None
    value = text.strip()
    if not value:
        raise ConfigurationError(f"the {what} file {path!r} is empty")
    return value


def _ca_bundle(path: str | None) -> ssl.SSLContext | None:
    """The context trusting ``--ca-bundle``, loaded here so that a problem with it names the flag."""
    if not path:
        return None
    context = make_ssl_context(path, name="--ca-bundle")
    return context if isinstance(context, ssl.SSLContext) else None


def client_from_args(args: argparse.Namespace, **options: Any) -> DataOpsClient:
    """Build a client from the connection options, falling back to the environment, then SCP's files.

    A ``ConfigurationError`` names what to fix as the command line spells it (``--access-key``, ``--proxy``).
    """
    settings = resolve_settings(
        endpoint=args.endpoint,
        region=args.region,
        env=args.scp_env,
        access_key=args.access_key,
        secret_key=_read_secret(args.secret_key_file, "secret key"),
        auth_token=_read_secret(args.auth_token_file, "auth token"),
        accept_language=args.accept_language,
        allow_insecure_http=args.insecure_http,
        config_dir=args.config_dir,
        names="cli",
    )
    # The environment's proxy is looked up here, with the real environment, because the client below is built
    # from what was just resolved alone (environ={}: nothing is read twice, and each error was named as a flag).
    proxy: Proxy | None = None
    if args.proxy is not None and args.no_proxy:
        raise ConfigurationError("--proxy and --no-proxy contradict each other; give one of them")
    if args.proxy is not None:
        proxy = parse_proxy(args.proxy, name="--proxy")
    elif not args.no_proxy:
        proxy = resolve_proxy(settings.endpoint, FROM_ENVIRONMENT, environ=os.environ)
    return DataOpsClient.from_env(
        environ={},
        endpoint=settings.endpoint,
        credentials=settings.credentials,
        accept_language=settings.accept_language,
        allow_insecure_http=args.insecure_http,
        ssl=_ca_bundle(args.ca_bundle),
        proxy=proxy,
        **options,
    )
