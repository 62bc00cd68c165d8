"""Command-line options that say which API to talk to and as whom, shared by every sub-command that calls the API.

Credentials come from ``SCP_*`` environment variables or from flags. The secret key and the token are read from a
file (``--secret-key-file``, ``--auth-token-file``; ``-`` for standard input), never from a flag's value: a value
on the command line is visible to every user of the machine (``ps``) and lands in shell history.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aiodataops._client import DataOpsClient
from aiodataops._config import ACCEPT_LANGUAGES
from aiodataops._errors import ConfigurationError

__all__ = ["add_connection_arguments", "client_from_args", "connection_parent"]


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--endpoint``, ``--region``/``--env``, credential and TLS options to ``parser``."""
    group = parser.add_argument_group("connection (default: the SCP_* environment variables)")
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


def client_from_args(args: argparse.Namespace, **options: Any) -> DataOpsClient:
    """Build a client from the connection options, falling back to the environment for what is not given."""
    return DataOpsClient.from_env(
        endpoint=args.endpoint,
        region=args.region,
        env=args.scp_env,
        access_key=args.access_key,
        secret_key=_read_secret(args.secret_key_file, "secret key"),
        auth_token=_read_secret(args.auth_token_file, "auth token"),
        accept_language=args.accept_language,
        allow_insecure_http=args.insecure_http,
        ssl=args.ca_bundle,
        **options,
    )
