"""Where the client finds its endpoint, credentials and language: arguments, then ``SCP_*`` variables, then SCP's files.

Environment variables (API.md, "Hosts"):

- ``SCP_ACCESS_KEY``, ``SCP_SECRET_KEY``, ``SCP_AUTH_TOKEN`` (only with temporary credentials);
- ``SCP_DATAOPS_ENDPOINT`` (a base URL), or ``SCP_REGION`` + ``SCP_ENV`` giving
  ``https://data-ops.{region}.{env}.samsungsdscloud.com``;
- ``SCP_ACCEPT_LANGUAGE`` (``en-US``, the default, or ``ko-KR``);
- ``SCP_CONFIG_DIR``: where SCP's ``config.json`` and ``credentials.json`` are (default ``~/.scp``; the keys read
  and where they come from are in ``aiodataops._scp_files``).

Rules: an explicit argument wins over the environment, which wins over the files: field by field for credentials
(as SCP's own Terraform providers do) and as a whole for the endpoint (an explicit ``endpoint=`` or
``region=``/``env=`` makes the environment's endpoint variables and the files' endpoint keys irrelevant). Within
one source an endpoint *and* a region/env pair that disagree are contradictory. Credentials must be text a request
header can carry: not blank, not padded with whitespace, no control character (a key pasted with its line break).
Every problem found is reported at once, in one ``ConfigurationError``, so a user fixes their set-up in one go; a
message names the setting (``SCP_SECRET_KEY``, ``secret_key=``, ``--access-key``, ``secret-key in
/home/me/.scp/credentials.json``), never its value.
"""

from __future__ import annotations

import ipaddress
import os
import ssl as ssl_module
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

import attrs
from yarl import URL

from aiodataops._errors import ConfigurationError
from aiodataops._scp_files import CONFIG_FILE, CREDENTIALS_FILE, config_directory, read_scp_files
from aiodataops._signing import Credentials

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ACCEPT_LANGUAGES",
    "ENDPOINT_TEMPLATE",
    "REGIONS_BY_ENV",
    "Naming",
    "Settings",
    "endpoint_for",
    "is_loopback_host",
    "make_ssl_context",
    "normalise_endpoint",
    "resolve_settings",
    "setting_names",
]

#: Whether messages name settings as Python arguments (``access_key=``) or command-line flags (``--access-key``).
Naming: TypeAlias = Literal["python", "cli"]

ENDPOINT_TEMPLATE: Final = "https://data-ops.{region}.{env}.samsungsdscloud.com"

#: The region/env pairs SCP publishes for Data Ops (API.md, "Hosts").
REGIONS_BY_ENV: Final[Mapping[str, tuple[str, ...]]] = {
    "s": ("kr-west1", "kr-east1"),
    "g": ("kr-south1", "kr-south2", "kr-south3"),
    "e": ("kr-west1", "kr-east1"),
}

ACCEPT_LANGUAGES: Final = ("en-US", "ko-KR")


@attrs.frozen
class Settings:
    """A resolved, validated configuration: the endpoint's base URL, the credentials, the response language."""

    endpoint: str
    credentials: Credentials
    accept_language: str = "en-US"


def endpoint_for(region: str, env: str) -> str:
    """Return the Data Ops base URL of a region in an environment; raises ``ConfigurationError`` for unknown pairs."""
    problem = _region_problem(region, env)
    if problem:
        raise ConfigurationError(problem)
    return ENDPOINT_TEMPLATE.format(region=region, env=env)


def _region_problem(region: str, env: str) -> str | None:
    regions = REGIONS_BY_ENV.get(env)
    if regions is None:
        return f"env {env!r} is not an SCP environment (known: {', '.join(sorted(REGIONS_BY_ENV))})"
    if region not in regions:
        return f"region {region!r} is not a Data Ops region of env {env!r} (known: {', '.join(regions)})"
    return None


def is_loopback_host(host: str | None) -> bool:
    """Return whether ``host`` names this machine (``localhost`` or a loopback IP address)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_endpoint(endpoint: str, *, allow_insecure_http: bool = False) -> str:
    """Validate a base URL and return it canonical: lower-case host, no default port, no trailing slash.

    Plain ``http://`` is accepted only for loopback hosts (the emulator, a local proxy) unless
    ``allow_insecure_http`` is true: a signed request over plain HTTP exposes the access key and a replayable
    signature to the network.
    """
    problem = _endpoint_problem(endpoint, allow_insecure_http=allow_insecure_http)
    if problem:
        raise ConfigurationError(problem)
    url = URL(endpoint)
    return str(url.with_path(url.path.rstrip("/")))


def _endpoint_problem(
    endpoint: str, *, allow_insecure_http: bool, insecure_name: str = "allow_insecure_http=True"
) -> str | None:
    try:
        url = URL(endpoint)
    except (ValueError, TypeError):
        return f"endpoint {endpoint!r} is not a URL"
    if url.scheme not in {"http", "https"} or not url.host:
        return f"endpoint {endpoint!r} must be an absolute http(s) URL such as https://data-ops.kr-west1.e.samsungsdscloud.com"
    if url.user is not None or url.password is not None:
        return "endpoint must not carry a user name or password"
    if url.query_string or url.fragment:
        return f"endpoint {endpoint!r} must not have a query or a fragment"
    if url.scheme == "http" and not allow_insecure_http and not is_loopback_host(url.host):
        return (
            f"endpoint {endpoint!r} uses plain http to a non-loopback host; use https "
            f"(or, if a trusted network really needs it, pass {insecure_name})"
        )
    return None


def make_ssl_context(
    ssl: ssl_module.SSLContext | str | os.PathLike[str] | bool | None, *, name: str = "ssl"
) -> ssl_module.SSLContext | bool:
    """Turn the client's ``ssl=`` argument into what aiohttp takes: verified TLS unless a context says otherwise.

    ``None``/``True`` use the system trust store; a path names a CA bundle (PEM) to trust instead; an ``SSLContext``
    is used as given. ``False`` is refused: turning verification off hands the credentials to anyone in the path.
    Errors name the setting as ``name`` (``ssl``; the command line passes ``--ca-bundle``).
    """
    if ssl is None or ssl is True:
        return True
    if ssl is False:
        raise ConfigurationError(
            "ssl=False would send signed requests without verifying the server; "
            "pass a CA bundle path or an ssl.SSLContext instead"
        )
    if isinstance(ssl, ssl_module.SSLContext):
        return ssl
    path = Path(ssl)
    if not path.is_file():
        raise ConfigurationError(f"{name}: CA bundle {str(path)!r} is not a readable file")
    try:
        return ssl_module.create_default_context(cafile=str(path))
    except (ssl_module.SSLError, OSError) as exc:
        raise ConfigurationError(f"{name}: CA bundle {str(path)!r} could not be loaded ({exc})") from None


#: How a message names each setting: as a Python argument, as a command-line flag, as a variable.
_PYTHON_NAMES: Final[Mapping[str, str]] = {
    "endpoint": "endpoint=",
    "region": "region=",
    "env": "env=",
    "access_key": "access_key=",
    "secret_key": "secret_key=",
    "auth_token": "auth_token=",
    "accept_language": "accept_language=",
    "config_dir": "config_dir=",
    "credentials": "credentials=",
    "allow_insecure_http": "allow_insecure_http=True",
}
_CLI_NAMES: Final[Mapping[str, str]] = {
    "endpoint": "--endpoint",
    "region": "--region",
    "env": "--env",
    "access_key": "--access-key",
    "secret_key": "--secret-key-file",
    "auth_token": "--auth-token-file",
    "accept_language": "--accept-language",
    "config_dir": "--config-dir",
    "credentials": "--access-key",
    "allow_insecure_http": "--insecure-http",
}
_ENV_NAMES: Final[Mapping[str, str]] = {
    "endpoint": "SCP_DATAOPS_ENDPOINT",
    "region": "SCP_REGION",
    "env": "SCP_ENV",
    "access_key": "SCP_ACCESS_KEY",
    "secret_key": "SCP_SECRET_KEY",
    "auth_token": "SCP_AUTH_TOKEN",
    "accept_language": "SCP_ACCEPT_LANGUAGE",
}
#: The key a setting has in SCP's files (aiodataops._scp_files), for messages saying where it may be set.
_FILE_KEYS: Final[Mapping[str, str]] = {
    "endpoint": f"dataops-endpoint in {CONFIG_FILE}",
    "region": f"region in {CONFIG_FILE}",
    "env": f"env in {CONFIG_FILE}",
    "access_key": f"access-key in {CREDENTIALS_FILE}",
    "secret_key": f"secret-key in {CREDENTIALS_FILE}",
}


def setting_names(names: Naming) -> Mapping[str, str]:
    """How messages name the settings given as arguments: Python's ``access_key=`` or the CLI's ``--access-key``."""
    return _CLI_NAMES if names == "cli" else _PYTHON_NAMES


def _credential_problem(name: str, value: str | None) -> str | None:
    """What is wrong with a credential (never showing it): blank, padded, or holding a control character.

    A line break or other control character would break the request's headers (aiohttp refuses it deep inside),
    and a blank or padded key is a copy-and-paste slip that would only show up later as a refused signature.
    """
    if not value:
        return None  # missing: reported as such, or optional (the token)
    if not value.strip():
        return f"{name} is blank (only whitespace)"
    if any(unicodedata.category(char) == "Cc" for char in value):
        return f"{name} contains a control character (a line break or a tab?)"
    if value != value.strip():
        return f"{name} starts or ends with whitespace"
    return None


def resolve_settings(  # noqa: C901, PLR0912, PLR0915 -- one linear pass over every setting, collecting every problem
    *,
    endpoint: str | None = None,
    credentials: Credentials | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    auth_token: str | None = None,
    region: str | None = None,
    env: str | None = None,
    accept_language: str | None = None,
    allow_insecure_http: bool = False,
    environ: Mapping[str, str] | None = None,
    config_dir: str | os.PathLike[str] | None = None,
    names: Naming = "python",
) -> Settings:
    """Combine arguments, the environment and SCP's files; raise one ``ConfigurationError`` listing every problem.

    ``environ`` defaults to the process environment and stands in for all of it: SCP's files are read from
    ``config_dir``, else ``$SCP_CONFIG_DIR``, else ``~/.scp`` (``~/.scpconf``) under ``environ``'s ``HOME``, so
    ``environ={}`` reads no file. ``names="cli"`` makes messages name the command line's flags (``--access-key``)
    instead of the Python arguments (``access_key=``).
    """
    environ = os.environ if environ is None else environ
    argument_names = setting_names(names)

    def from_env(name: str) -> str | None:
        return environ.get(name) or None

    problems: list[str] = []
    directory, named_by = config_directory(config_dir, environ, argument_name=argument_names["config_dir"])
    files = read_scp_files(directory, named_by)
    problems.extend(files.problems)

    def where(setting: str) -> str:
        """Every place a missing setting can be given, for the message that says it is missing."""
        places = [argument_names[setting], _ENV_NAMES[setting]]
        if setting in _FILE_KEYS:
            places.append(_FILE_KEYS[setting])
        return ", ".join(places[:-1]) + " or " + places[-1]

    def pick(setting: str, argument: str | None) -> tuple[str | None, str]:
        """A setting's value from the argument, else the environment, else the files, with where it came from."""
        if argument:
            return argument, argument_names[setting]
        env_name = _ENV_NAMES[setting]
        if from_env(env_name):
            return from_env(env_name), env_name
        value, file_name = files.get(setting)
        return value, file_name or env_name

    # -- credentials: explicit credentials, else field by field from arguments, environment, files (as SCP's
    # Terraform providers do: provider block, SCP_TF_* variable, file, for each field)
    if credentials is not None and (access_key or secret_key or auth_token):
        problems.append(
            f"pass either {argument_names['credentials']} or "
            f"{argument_names['access_key']}/{argument_names['secret_key']}/{argument_names['auth_token']}, not both"
        )
    resolved_credentials = credentials
    if credentials is None:
        key, key_name = pick("access_key", access_key)
        secret, secret_name = pick("secret_key", secret_key)
        token, token_name = pick("auth_token", auth_token)
        if not key:
            problems.append(f"missing the access key ({where('access_key')})")
        if not secret:
            problems.append(f"missing the secret key ({where('secret_key')})")
        checked = [_credential_problem(key_name, key), _credential_problem(secret_name, secret)]
        checked.append(_credential_problem(token_name, token))
        problems.extend(problem for problem in checked if problem)
        if key and secret and not any(checked):
            resolved_credentials = Credentials(key, secret, token)
    elif not (access_key or secret_key or auth_token):
        for field in ("access_key", "secret_key", "auth_token"):
            problem = _credential_problem(f"credentials.{field}", getattr(credentials, field))
            if problem:
                problems.append(problem)

    # -- endpoint: the first source that sets any of it, as a whole: arguments, else environment, else files
    file_endpoint, file_region, file_env = (files.get(s)[0] for s in ("endpoint", "region", "env"))
    if endpoint is not None or region is not None or env is not None:
        source_endpoint, source_region, source_env = endpoint, region, env
        labels = (argument_names["endpoint"], argument_names["region"], argument_names["env"])
    elif from_env("SCP_DATAOPS_ENDPOINT") or from_env("SCP_REGION") or from_env("SCP_ENV"):
        source_endpoint = from_env("SCP_DATAOPS_ENDPOINT")
        source_region, source_env = from_env("SCP_REGION"), from_env("SCP_ENV")
        labels = ("SCP_DATAOPS_ENDPOINT", "SCP_REGION", "SCP_ENV")
    elif file_endpoint is not None or file_region is not None:
        # An env alone (SCP's v2 files name one in auth-url) does not make the files an endpoint source.
        source_endpoint, source_region, source_env = file_endpoint, file_region, file_env
        labels = (
            files.get("endpoint")[1] or _FILE_KEYS["endpoint"],
            files.get("region")[1] or _FILE_KEYS["region"],
            files.get("env")[1] or _FILE_KEYS["env"],
        )
    else:
        source_endpoint = source_region = source_env = None
        labels = ("", "", "")
    resolved_endpoint: str | None = None
    from_region: str | None = None
    if source_region is not None and source_env is None:
        problems.append(f"{labels[1]} is set but {labels[2]} is missing (one of {', '.join(sorted(REGIONS_BY_ENV))})")
    elif source_env is not None and source_region is None:
        problems.append(f"{labels[2]} is set but {labels[1]} is missing")
    elif source_region is not None and source_env is not None:
        region_problem = _region_problem(source_region, source_env)
        if region_problem:
            problems.append(f"{labels[1]}/{labels[2]}: {region_problem}")
        else:
            from_region = ENDPOINT_TEMPLATE.format(region=source_region, env=source_env)
    if source_endpoint is not None:
        endpoint_problem = _endpoint_problem(
            source_endpoint,
            allow_insecure_http=allow_insecure_http,
            insecure_name=argument_names["allow_insecure_http"],
        )
        if endpoint_problem:
            problems.append(f"{labels[0]}: {endpoint_problem}")
        else:
            resolved_endpoint = normalise_endpoint(source_endpoint, allow_insecure_http=allow_insecure_http)
            if from_region is not None and from_region != resolved_endpoint:
                problems.append(
                    f"{labels[0]} ({resolved_endpoint}) contradicts {labels[1]}/{labels[2]} ({from_region}); "
                    "set only one of them"
                )
    elif from_region is not None:
        resolved_endpoint = from_region
    elif source_region is None and source_env is None:
        problems.append(
            f"missing the endpoint ({argument_names['endpoint']}, or {argument_names['region']} and "
            f"{argument_names['env']}; or SCP_DATAOPS_ENDPOINT, or SCP_REGION and SCP_ENV; or dataops-endpoint, "
            f"or region and env, in {CONFIG_FILE})"
        )

    # -- language
    language, language_name = pick("accept_language", accept_language)
    language = language or "en-US"
    if language not in ACCEPT_LANGUAGES:
        problems.append(f"{language_name}: accept language {language!r} is not one of {', '.join(ACCEPT_LANGUAGES)}")

    if problems:
        raise ConfigurationError("aiodataops is not configured: " + "; ".join(problems))
    assert resolved_endpoint is not None
    assert resolved_credentials is not None
    return Settings(endpoint=resolved_endpoint, credentials=resolved_credentials, accept_language=language)
