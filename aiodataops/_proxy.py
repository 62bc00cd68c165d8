"""Which HTTP proxy, if any, the client's requests go through: ``proxy=``, else the environment, read once.

``DataOpsClient(proxy=...)`` takes a proxy URL (``http://proxy.corp:3128``, with ``user:password@`` when the proxy
asks for them; ``proxy.corp:3128`` means ``http://``), or ``None`` to connect directly whatever the environment
says. Left out, the proxy comes from the environment as curl and SCP's Go SDK (``http.ProxyFromEnvironment``, used
by SCP's Terraform providers and SDK) read it:

- ``https_proxy``/``HTTPS_PROXY`` for an ``https://`` endpoint, ``http_proxy``/``HTTP_PROXY`` for ``http://``, then
  ``all_proxy``/``ALL_PROXY`` (curl; Go and aiohttp ignore it, so a ``socks5://`` one, which aiohttp cannot use,
  is skipped with a warning rather than refused); the lower-case name wins when both are set (curl, Python's
  ``urllib``; Go reads the upper-case one first), an empty value counts as unset, and ``HTTP_PROXY`` is ignored
  when ``REQUEST_METHOD`` is set (a CGI request could set it: "httpoxy"), as Go and ``urllib`` do;
- ``no_proxy``/``NO_PROXY``: comma-separated host names (``example.com`` and ``.example.com`` both cover the
  domain and everything under it; ``*.example.com`` too), IP addresses, CIDR blocks (``10.0.0.0/8``), each with an
  optional ``:port``; ``*`` turns the proxy off;
- loopback endpoints (``localhost``, ``127.0.0.1``, ``::1``: the emulator) always go direct.

The endpoint is fixed for a client's life (redirects stay within its origin), so the decision is made once, when
the client is built, and handed to the aiohttp session: no per-request look-up and no thread hop (aiohttp's
``trust_env=True`` looks the proxy, and ``~/.netrc``, up again for every request, in a worker thread).

Proxy credentials are kept apart from the URL, as the ``Proxy-Authorization`` header's value (sent on the CONNECT
of an https tunnel, or with each request to an http endpoint), and never shown: ``repr``, log lines and error
messages show ``http://***:***@proxy.corp:3128`` at most.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

import aiohttp
import attrs
from yarl import URL

from aiodataops._config import is_loopback_host
from aiodataops._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "FROM_ENVIRONMENT",
    "Proxy",
    "ProxySetting",
    "bypasses_proxy",
    "environment_proxy",
    "parse_proxy",
    "resolve_proxy",
]


class _FromEnvironment(enum.Enum):
    """The type of ``FROM_ENVIRONMENT``: a sentinel that ``None`` (connect directly) cannot be confused with."""

    FROM_ENVIRONMENT = "from the environment"

    def __repr__(self) -> str:
        return "FROM_ENVIRONMENT"


#: ``proxy=``'s default: use the proxy the environment names for the endpoint, if any.
FROM_ENVIRONMENT: Final = _FromEnvironment.FROM_ENVIRONMENT


_SCHEMES: Final = frozenset({"http", "https"})

logger: Final = logging.getLogger("aiodataops.config")


@attrs.frozen(repr=False)
class Proxy:
    """A proxy to send requests through: its URL without credentials, the credentials apart, and where it came from.

    ``authorization`` is the ``Proxy-Authorization`` header's value (``Basic ...``) when the URL carried
    ``user:password@``; ``source`` names the setting it was read from (``proxy=``, ``--proxy``, ``HTTPS_PROXY``).
    """

    url: URL
    authorization: str | None = attrs.field(default=None, repr=False)
    source: str = "proxy="

    @property
    def display(self) -> str:
        """The URL as it may be shown: credentials, when there are any, replaced by ``***``."""
        if self.authorization is None:
            return str(self.url)
        return str(self.url).replace("://", "://***:***@", 1)

    def __repr__(self) -> str:
        return f"Proxy({self.display!r}, source={self.source!r})"


#: What ``proxy=`` takes: a proxy URL, a ``Proxy``, ``None`` (direct) or ``FROM_ENVIRONMENT`` (the default).
ProxySetting: TypeAlias = str | Proxy | Literal[_FromEnvironment.FROM_ENVIRONMENT] | None


def _masked(value: str) -> str:
    """``value`` safe to show: anything before an ``@`` (credentials) replaced by ``***:***``."""
    if "@" not in value:
        return value
    scheme, separator, rest = value.partition("://")
    if not separator:
        scheme, rest = "", value
    host = rest.rpartition("@")[2]
    return f"{scheme}://***:***@{host}" if separator else f"***:***@{host}"


def parse_proxy(value: str, *, name: str = "proxy=") -> Proxy:
    """Parse a proxy URL; ``ConfigurationError`` naming ``name`` (never showing credentials) when it is unusable."""
    text = value.strip()
    if not text:
        raise ConfigurationError(f"{name}: the proxy URL is empty (pass proxy=None to connect directly)")
    if "://" not in text:
        text = "http://" + text  # curl and Go's ProxyFromEnvironment read "proxy.corp:3128" as an http proxy
    shown = _masked(text)
    try:
        url = URL(text)
        host, port = url.host, url.port
    except (ValueError, TypeError):
        raise ConfigurationError(f"{name}: {shown!r} is not a proxy URL") from None
    if url.scheme not in _SCHEMES:
        direct = "" if name.endswith("=") or name.startswith("--") else " (or connect directly: proxy=None, --no-proxy)"
        raise ConfigurationError(
            f"{name}: {url.scheme}:// proxies are not supported ({shown!r}); use an http:// or https:// proxy{direct}"
        )
    if not host:
        raise ConfigurationError(f"{name}: {shown!r} names no proxy host")
    if url.path not in {"", "/"} or url.query_string or url.fragment:
        raise ConfigurationError(f"{name}: a proxy URL is scheme://host:port, without a path or query ({shown!r})")
    authorization: str | None = None
    if url.user is not None or url.password is not None:
        try:
            authorization = aiohttp.encode_basic_auth(url.user or "", url.password or "")
        except (ValueError, UnicodeEncodeError):
            raise ConfigurationError(f"{name}: the proxy user name must not contain ':' ({shown!r})") from None
    bare = URL.build(scheme=url.scheme, host=host, port=port)
    return Proxy(bare, authorization, name)


def _getenv(environ: Mapping[str, str], lower: str, *, skip_upper: bool = False) -> tuple[str, str] | None:
    """The value of ``lower`` or its upper-case form (lower case first) and the name it was found under."""
    names = (lower,) if skip_upper else (lower, lower.upper())
    for env_name in names:
        value = environ.get(env_name, "").strip()
        if value:
            return value, env_name
    return None


def _split_port(entry: str) -> tuple[str, int | None]:
    """Split a ``NO_PROXY`` entry into host and optional port (``[::1]:8080``, ``host:443``, bare ``::1``)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated names, domains, IPs, CIDRs, optional ports; ``*``) covers ``host``."""
    host = host.lower().strip("[]").rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_host, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry_host, strict=False):
                    return True
            except ValueError:
                pass  # a host name: it cannot cover an address
            continue
        domain = entry_host.removeprefix("*").lstrip(".").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def environment_proxy(target: URL, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy the environment names for requests to ``target``, or ``None`` to connect directly."""
    host = target.host
    if not host or is_loopback_host(host):
        return None
    no_proxy = _getenv(environ, "no_proxy")
    if no_proxy is not None and bypasses_proxy(host, target.port, no_proxy[0]):
        return None
    if target.scheme == "https":
        found = _getenv(environ, "https_proxy")
    else:
        found = _getenv(environ, "http_proxy", skip_upper="REQUEST_METHOD" in environ)
    if found is None:
        found = _getenv(environ, "all_proxy")
        scheme = found[0].partition("://")[0].lower() if found and "://" in found[0] else "http"
        if found is not None and scheme not in _SCHEMES:
            logger.warning(
                "%s names a %s:// proxy, which aiodataops cannot use: connecting directly "
                "(set HTTPS_PROXY to an http:// proxy to go through one)",
                found[1],
                scheme,
            )
            return None
    if found is None:
        return None
    value, env_name = found
    return parse_proxy(value, name=env_name)


def resolve_proxy(
    endpoint: str, proxy: ProxySetting, *, environ: Mapping[str, str], name: str = "proxy="
) -> Proxy | None:
    """The proxy for a client of ``endpoint``: ``proxy`` as given, or else the one the environment names."""
    if proxy is None or isinstance(proxy, Proxy):
        return proxy
    if proxy is FROM_ENVIRONMENT:
        return environment_proxy(URL(endpoint), environ)
    if not isinstance(proxy, str):
        raise ConfigurationError(f"{name}: expected a proxy URL (a string) or None, got {type(proxy).__name__}")
    return parse_proxy(proxy, name=name)
