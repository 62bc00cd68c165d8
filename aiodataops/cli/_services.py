"""``aiodataops services list|get|update``: look at and change data ops services from the shell.

Output is a table or key/value lines (``-o table``, the default; ``text`` is the same), JSON (``-o json``) or YAML
(``-o yaml``); ``--query EXPR`` picks from the JSON document with a JMESPath expression, as aws-cli does, and the
result is printed in the chosen format (``table``: plain values, one per line; a row of values tab-separated).
Either way ``account_password`` is shown as ``***``. Progress of ``update --wait`` goes to standard error, results
to standard output. Exit status: 0 done, 1 the API or the wait failed, 2 bad input (flags, settings, a 400 from
the server, credentials the server refuses: 401/403, or a ``--query`` that does not fit the data).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import anyio
import attrs
import orjson
import yaml
from jmespath.exceptions import JMESPathError, JMESPathTypeError  # type: ignore[import-untyped]  # ships no types

from aiodataops._errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DataOpsError,
    PermissionDeniedError,
    ResponseShapeError,
)
from aiodataops._models import HostAlias, HostAliasEntry, ServiceUpdate, ServiceWorkload, Workload
from aiodataops._wire import loads, structure, unstructure
from aiodataops.cli._argtypes import jmespath_expression, positive_int, positive_seconds, service_id
from aiodataops.cli._common import ExitCode
from aiodataops.cli._connection import client_from_args, connection_parent
from aiodataops.cli._flags import add_output_option

if TYPE_CHECKING:
    from aiodataops._clock import Clock
    from aiodataops._models import Service, ServiceSummary
    from aiodataops._polling import PollPolicy
    from aiodataops._waiting import StateEvent

__all__ = ["build_update", "parse_workload", "register", "run"]

_OUTPUTS: Final = ("table", "json", "yaml", "text")
_WORKLOAD_FIELDS: Final = ("cpu", "memory", "replica", "version")
_COLUMNS: Final = (("ID", 49), ("NAME", 16), ("DATA OPS", 16), ("STATE", 12), ("VERSION", 8), ("MODIFIED", 24))
_DETAIL_FIELDS: Final = (
    "data_ops_service_id",
    "data_ops_service_name",
    "state",
    "data_ops_name",
    "data_ops_id",
    "cluster_name",
    "version",
    "description",
    "domain",
    "web_url",
    "worker_type",
    "created_dt",
    "modified_dt",
)


class UsageError(Exception):
    """Bad command-line input; the message names the flag and the problem."""


# -- parsing ------------------------------------------------------------------------------------------------


def parse_workload(text: str) -> Workload:
    """Read ``cpu=2,memory=4,replica=3[,version=2.10.5]`` (any subset) into a ``Workload``."""
    values: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _WORKLOAD_FIELDS or not value.strip():
            raise argparse.ArgumentTypeError(
                f"expected KEY=VALUE pairs with KEY one of {', '.join(_WORKLOAD_FIELDS)}, got {part!r}"
            )
        values[key] = value.strip()
    if not values:
        raise argparse.ArgumentTypeError("expected at least one of cpu=, memory=, replica=, version=")
    return Workload(
        cpu=values.get("cpu"), memory=values.get("memory"), replica=values.get("replica"), version=values.get("version")
    )


def _parse_host_alias(text: str) -> HostAliasEntry:
    hostname, sep, ip = text.partition("=")
    if not sep or not hostname.strip() or not ip.strip():
        raise argparse.ArgumentTypeError(f"expected HOSTNAME=IP, got {text!r}")
    return HostAliasEntry(hostname=hostname.strip(), ip=ip.strip())


def _read_body(path: str | None) -> ServiceUpdate:
    if path is None:
        return ServiceUpdate()
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"--body: cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        update: ServiceUpdate = structure(loads(raw), ServiceUpdate)
    except ResponseShapeError as exc:
        raise UsageError(f"--body: field {exc.path}: {exc.problem}") from None
    return update


def build_update(args: argparse.Namespace) -> ServiceUpdate:
    """Combine ``--body`` (a JSON ServiceUpdate) with the flags, flags winning; raise UsageError when empty."""
    update = _read_body(args.body)
    changes: dict[str, Any] = {}
    for name in ("description", "domain", "node_selector", "worker_type"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    roles = {"scheduler": args.scheduler, "web_server": args.web_server, "worker": args.worker}
    if any(roles.values()):
        base = update.service_workload or ServiceWorkload()
        changes["service_workload"] = attrs.evolve(base, **{k: v for k, v in roles.items() if v is not None})
    if args.host_alias and args.disable_host_alias:
        raise UsageError("--host-alias and --disable-host-alias contradict each other")
    if args.host_alias:
        changes["host_alias"] = HostAlias(enabled=True, host_alias_list=tuple(args.host_alias))
    elif args.disable_host_alias:
        changes["host_alias"] = HostAlias(enabled=False)
    update = attrs.evolve(update, **changes)
    if update == ServiceUpdate():
        raise UsageError("nothing to change: give --body or at least one of the change flags (see --help)")
    return update


# -- output -------------------------------------------------------------------------------------------------


def _public(model: Any) -> dict[str, Any]:
    """Wire JSON of a model, unknown fields included, with every account password masked."""
    data: dict[str, Any] = {**getattr(model, "extra", {}), **unstructure(model)}
    account = data.get("account")
    if isinstance(account, dict) and account.get("account_password"):
        data["account"] = {**account, "account_password": "***"}
    return data


def _row(item: ServiceSummary) -> str:
    modified = unstructure(item).get("modified_dt", "")
    cells = (
        item.id,
        item.data_ops_service_name or "",
        item.data_ops_name or "",
        item.state or "",
        item.version or "",
        modified,
    )
    return "  ".join(f"{c:<{w}}" for c, (_, w) in zip(cells, _COLUMNS, strict=True)).rstrip()


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _plain(value: Any) -> str:
    """A query's result as ``-o table`` prints it: a value as it is (no quotes), a list one item per line, a list of
    values tab-separated on its line; an object as JSON."""
    if isinstance(value, dict):
        return _json(value)
    rows = value if isinstance(value, list) else [value]
    lines = []
    for row in rows:
        if isinstance(row, list) and not any(isinstance(cell, dict | list) for cell in row):
            lines.append("\t".join(_scalar(cell) for cell in row))
        elif isinstance(row, dict | list):
            lines.append(orjson.dumps(row).decode())
        else:
            lines.append(_scalar(row))
    return "".join(line + "\n" for line in lines)


def _print_query(data: Any, args: argparse.Namespace, out: IO[str]) -> None:
    """Print what ``--query`` picks from ``data`` (the JSON document) in the ``--output`` format."""
    try:
        result = args.query.search(data)
    except JMESPathTypeError as exc:  # a function given the wrong type; its message would hold the whole value
        expected = " or ".join(exc.expected_types)
        raise UsageError(f"--query: {exc.function_name}() expects {expected}, got {exc.actual_type}") from None
    except JMESPathError as exc:  # the expression does not fit the data in another way
        raise UsageError(f"--query: {' '.join(str(exc).split())}") from None
    out.write({"json": _json, "yaml": _yaml}.get(args.output, _plain)(result))


def _print_service(service: Service, args: argparse.Namespace, out: IO[str]) -> None:
    data = _public(service)
    if args.query is not None:
        _print_query(data, args, out)
        return
    if args.output == "json":
        out.write(_json(data))
        return
    if args.output == "yaml":
        out.write(_yaml(data))
        return
    for key in _DETAIL_FIELDS:
        if data.get(key) not in (None, ""):
            out.write(f"{key}: {data[key]}\n")
    workload = data.get("service_workload")
    if isinstance(workload, dict):
        for role, values in workload.items():
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            out.write(f"service_workload.{role}: {shown}\n")


class _ListWriter:
    """Writes a listing as it pages, in one of the ``--output`` formats.

    The header (or ``[``) is written with the first row, not before: a listing that fails at once leaves stdout
    empty (no stray header, no half a JSON document), and the error goes to stderr alone.
    """

    def __init__(self, output: str, out: IO[str]) -> None:
        self.output = output
        self.out = out
        self.shown = 0

    def _begin(self) -> None:
        if self.output == "table":
            self.out.write("  ".join(f"{title:<{w}}" for title, w in _COLUMNS).rstrip() + "\n")
        elif self.output == "json":
            self.out.write("[")

    def add(self, item: ServiceSummary) -> None:
        if not self.shown:
            self._begin()
        if self.output == "table":
            self.out.write(_row(item) + "\n")
        elif self.output == "json":
            self.out.write(("," if self.shown else "") + "\n  " + orjson.dumps(_public(item)).decode())
        else:  # yaml: each item is a whole list entry, so the list streams as it pages
            self.out.write(_yaml([_public(item)]))
        self.shown += 1

    def end(self) -> None:
        if not self.shown:
            self._begin()
        if self.output == "json":
            self.out.write("\n]\n" if self.shown else "]\n")
        elif self.output == "yaml" and not self.shown:
            self.out.write("[]\n")


# -- commands -----------------------------------------------------------------------------------------------


def _filters(specs: list[str]) -> dict[str, str]:
    filters: dict[str, str] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise UsageError(f"--filter: expected KEY=VALUE, got {spec!r}")
        filters[key] = value
    return filters


async def _list(args: argparse.Namespace, client: Any, out: IO[str]) -> int:
    filters = _filters(args.filter)
    listing = client.services.list(
        data_ops_name=args.data_ops_name,
        data_ops_service_name=args.name,
        state=args.state,
        created_by=args.created_by,
        page_size=args.page_size,
        sort=args.sort,
        **filters,
    )
    items: list[dict[str, Any]] = []  # only for --query, whose expression sees the whole list at once
    writer = _ListWriter(args.output, out)
    try:
        async for item in listing:
            if args.limit is not None and writer.shown + len(items) >= args.limit:
                break
            if args.query is not None:
                items.append(_public(item))
            else:
                writer.add(item)
    finally:
        await listing.aclose()
    if args.query is not None:
        _print_query(items, args, out)
    else:
        writer.end()
    return ExitCode.OK


async def _get(args: argparse.Namespace, client: Any, out: IO[str]) -> int:
    _print_service(await client.services.get(args.service_id), args, out)
    return ExitCode.OK


async def _update(args: argparse.Namespace, client: Any, out: IO[str], err: IO[str]) -> int:
    update = build_update(args)
    if not args.wait:
        _print_service(await client.services.update(args.service_id, update), args, out)
        return ExitCode.OK
    # put + wait_accepted, never update + wait: a 202 without a body must not be replaced by a GET that may be stale.
    accepted = await client.services.put(args.service_id, update)
    state = accepted.state or "accepted (the answer had no body)"
    err.write(f"accepted: {accepted.resource_id} is {state}; waiting for it to settle\n")

    def progress(event: StateEvent) -> None:
        change = f"{event.old_state} -> {event.new_state}" if event.old_state != event.new_state else event.new_state
        detail = f" ({event.detail})" if event.detail else ""
        err.write(f"{event.elapsed:7.1f}s  poll {event.polls:<3} {event.kind}: {change}{detail}\n")

    policy: PollPolicy = client.poll_policy
    if args.timeout is not None:
        policy = attrs.evolve(policy, deadline=args.timeout)
    final = await client.services.wait_accepted(accepted, policy=policy, on_event=progress)
    _print_service(final, args, out)
    return ExitCode.OK


async def run(
    args: argparse.Namespace,
    *,
    clock: Clock | None = None,
    poll: PollPolicy | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run one ``services`` action; returns the exit status (tests inject a clock and a poll policy)."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.output == "text":
        args.output = "table"  # the name it had before yaml and table came
    try:
        options: dict[str, Any] = {}
        if clock is not None:
            options["clock"] = clock
        if poll is not None:
            options["poll"] = poll
        async with client_from_args(args, **options) as client:
            if args.action == "list":
                return await _list(args, client, out)
            if args.action == "get":
                return await _get(args, client, out)
            return await _update(args, client, out, err)
    except (UsageError, ConfigurationError) as exc:
        err.write(f"aiodataops services: {exc}\n")
        return ExitCode.USAGE
    except (BadRequestError, AuthenticationError, PermissionDeniedError) as exc:
        # Wrong keys, token or clock are settings to fix, as `fleet` says too: bad input, not a failed call.
        what = "request" if isinstance(exc, BadRequestError) else "credentials"
        err.write(f"aiodataops services: the server refused the {what}: {exc}\n")
        return ExitCode.USAGE
    except DataOpsError as exc:
        err.write(f"aiodataops services: {type(exc).__name__}: {exc}\n")
        return ExitCode.FAILED


def _handler(args: argparse.Namespace) -> int:
    try:
        result: int = anyio.run(run, args)
    except KeyboardInterrupt:
        # asyncio cancelled the command at the first Ctrl-C, the request in flight with it: a listing asks for no
        # further page. Say what stopped (the last net in ``cli.main`` only says "interrupted").
        if args.action != "list":
            raise
        print("aiodataops services: interrupted; the listing stopped", file=sys.stderr)
        return ExitCode.INTERRUPTED
    return result


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``aiodataops services`` and its ``list``, ``get`` and ``update`` actions."""
    parser = sub.add_parser(
        "services",
        help="list, show and update data ops services",
        description="List, show and update data ops services (Airflow deployments).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = connection_parent()
    add_output_option(common, _OUTPUTS, "table (default; text is the same), json or yaml")
    common.add_argument(
        "--query",
        type=jmespath_expression,
        metavar="JMESPATH",
        help="print what this JMESPath expression picks from the JSON output, e.g. '[].data_ops_service_id'",
    )

    listing = actions.add_parser("list", parents=[common], help="list services (pages are fetched lazily)")
    listing.add_argument("--data-ops-name", help="only services of this data ops")
    listing.add_argument("--name", help="only the service of this name")
    listing.add_argument("--state", help="only services in this state, e.g. RUNNING")
    listing.add_argument("--created-by", help="only services created by this user")
    listing.add_argument(
        "--filter", action="append", default=[], metavar="KEY=VALUE", help="any other list filter (repeatable)"
    )
    listing.add_argument("--sort", metavar="FIELD:asc|desc", help="sort order, e.g. created_dt:desc")
    listing.add_argument("--page-size", type=positive_int, default=50, metavar="N", help="page size (default 50)")
    listing.add_argument("--limit", type=positive_int, metavar="N", help="stop after N services")

    get = actions.add_parser("get", parents=[common], help="show one service")
    get.add_argument("service_id", type=service_id, metavar="SERVICE_ID", help="the service's id (DOPS_SERVICE-...)")

    update = actions.add_parser(
        "update",
        parents=[common],
        help="change one service (only what is given is sent)",
        description="Change one service. Only the fields given are sent; workload flags merge into --body.",
    )
    update.add_argument("service_id", type=service_id, metavar="SERVICE_ID", help="the service's id (DOPS_SERVICE-...)")
    update.add_argument("--body", metavar="PATH", help="a JSON ServiceUpdate ('-' for stdin); flags override it")
    update.add_argument("--description", metavar="TEXT", help="the new description ('' clears it)")
    update.add_argument("--domain", help="the new domain")
    update.add_argument("--node-selector", metavar="SELECTOR", help="the new node selector")
    update.add_argument("--worker-type", metavar="TYPE", help="the new worker type")
    for role in ("scheduler", "web-server", "worker"):
        update.add_argument(
            f"--{role}", type=parse_workload, metavar="cpu=N,memory=N,replica=N", help=f"the {role} workload"
        )
    update.add_argument(
        "--host-alias", type=_parse_host_alias, action="append", metavar="HOSTNAME=IP", help="host alias (repeatable)"
    )
    update.add_argument("--disable-host-alias", action="store_true", help="turn host aliases off")
    update.add_argument("--wait", action="store_true", help="wait until the change settles and show the result")
    update.add_argument("--timeout", type=positive_seconds, metavar="SECONDS", help="give up waiting after this long")
    parser.set_defaults(handler=_handler)
