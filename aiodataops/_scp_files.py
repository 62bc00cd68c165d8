"""SCP's standard configuration files: ``~/.scp/config.json`` and ``~/.scp/credentials.json`` (kebab-case keys).

What SCP's own tools put there (read in their sources, November 2026):

- SCP's Terraform provider, ``SamsungSDSCloud/terraform-provider-samsungcloudplatform`` (v3.13.0,
  ``samsungcloudplatform/provider.go``, README "Setup credentials"): ``~/.scp/config.json`` holds ``host`` (the
  legacy OpenAPI gateway), ``user-id``, ``email``, ``project-id``; ``~/.scp/credentials.json`` holds
  ``auth-method`` (only ``"access-key"`` is supported), ``access-key``, ``secret-key``, ``password``. Each setting
  is taken from the provider block, else an ``SCP_TF_*`` variable, else the file, field by field.
- Its successor, ``SamsungSDSCloud/terraform-provider-samsungcloudplatformv2`` (v4.2.0,
  ``samsungcloudplatform/config/config.go``), and the ``scpv2-sdk`` Python package read the same two file names
  from ``~/.scpconf/``: ``config.json`` with ``auth-url`` (``https://iam.{env}.samsungsdscloud.com/v1``),
  ``default-region``, ``account-id``, ``endpoint-override``, ...; ``credentials.json`` with ``access-key``,
  ``secret-key``, ``auth-token``. Same precedence, field by field.

So this module reads, from ``$SCP_CONFIG_DIR`` if set, else ``~/.scp`` or, when that does not exist, ``~/.scpconf``:

- ``credentials.json``: ``access-key``, ``secret-key``, ``auth-token`` (``token`` is taken as a spelling of it);
  ``auth-method``, when present, must be ``"access-key"``.
- ``config.json``: ``dataops-endpoint`` (a base URL, as ``SCP_DATAOPS_ENDPOINT``), ``region`` or SCP's
  ``default-region``, ``env`` (else the ``{env}`` of SCP's ``auth-url``), ``accept-language``.

Other keys (``host``, ``project-id``, ``password``, ...) belong to other tools and are ignored: ``host`` is the
legacy gateway, not the Data Ops API. A file that is missing is fine; one that is not a JSON object, or has a
value of the wrong type, is a ``ConfigurationError`` naming the file and the key (never the value). A
credentials file that other users can read gets a warning on the ``aiodataops.config`` logger.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CONFIG_FILE", "CREDENTIALS_FILE", "ScpFiles", "config_directory", "read_scp_files"]

logger: Final = logging.getLogger("aiodataops.config")

CONFIG_FILE: Final = "config.json"
CREDENTIALS_FILE: Final = "credentials.json"

#: credentials.json key -> setting. ``token`` is accepted as a spelling of ``auth-token``.
_CREDENTIAL_KEYS: Final = {"access-key": "access_key", "secret-key": "secret_key", "auth-token": "auth_token"}
_TOKEN_ALIAS: Final = "token"  # noqa: S105 -- a key's name, not a password
#: config.json key -> setting; ``region`` wins over SCP's ``default-region`` when both are there.
_CONFIG_KEYS: Final = {
    "dataops-endpoint": "endpoint",
    "region": "region",
    "default-region": "region",
    "env": "env",
    "accept-language": "accept_language",
}
#: SCP's ``auth-url`` names the environment: https://iam.{env}.samsungsdscloud.com/v1
_AUTH_URL: Final = re.compile(r"^https://iam\.([a-z0-9-]+)\.samsungsdscloud\.com(?:[:/]|$)", re.IGNORECASE)


@attrs.frozen
class ScpFiles:
    """What the two files say: setting -> (value, how to name where it came from), and the problems found."""

    directory: Path | None
    # The repr names the settings found, never their values (the secret key is one of them).
    values: dict[str, tuple[str, str]] = attrs.field(factory=dict, repr=lambda values: repr(sorted(values)))
    problems: tuple[str, ...] = ()

    def get(self, setting: str) -> tuple[str | None, str | None]:
        """The value a file gives ``setting`` and its name (``access-key in /home/me/.scp/credentials.json``)."""
        found = self.values.get(setting)
        return found if found is not None else (None, None)


def config_directory(
    config_dir: str | os.PathLike[str] | None, environ: Mapping[str, str], *, argument_name: str
) -> tuple[Path | None, str | None]:
    """The directory to read, and the setting that named it (``None`` for the default, whose absence is fine).

    ``environ`` stands in for the whole environment, ``HOME`` included: a test passing ``environ={}`` reads no
    files. With the process environment, the home directory is ``Path.home()``.
    """
    if config_dir is not None:
        return Path(config_dir).expanduser(), argument_name
    if environ.get("SCP_CONFIG_DIR"):
        return Path(environ["SCP_CONFIG_DIR"]).expanduser(), "SCP_CONFIG_DIR"
    try:
        if environ is os.environ:
            home: Path | None = Path.home()
        else:
            home = Path(environ["HOME"]) if environ.get("HOME") else None
        for name in (".scp", ".scpconf"):  # SCP's first providers, then its v2 tools
            if home is not None and (home / name).is_dir():
                return home / name, None
    except (OSError, RuntimeError):  # no home directory to be found, or one we may not look into
        pass
    return None, None


def read_scp_files(directory: Path | None, named_by: str | None = None) -> ScpFiles:
    """Read ``config.json`` and ``credentials.json`` from ``directory`` (``None``: there is nothing to read)."""
    if directory is None:
        return ScpFiles(None)
    try:
        is_dir = directory.is_dir()
    except OSError:
        is_dir = False
    if not is_dir:
        if named_by is None:
            return ScpFiles(None)
        return ScpFiles(directory, problems=(f"{named_by}: {str(directory)!r} is not a directory",))
    values: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    credentials = _load(directory / CREDENTIALS_FILE, problems)
    if credentials is not None:
        _warn_if_readable_by_others(directory / CREDENTIALS_FILE)
        _read_credentials(directory / CREDENTIALS_FILE, credentials, values, problems)
    config = _load(directory / CONFIG_FILE, problems)
    if config is not None:
        _read_config(directory / CONFIG_FILE, config, values, problems)
    return ScpFiles(directory, values, tuple(problems))


def _load(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` when the file is absent or unusable (then a problem says why)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        problems.append(f"{path}: cannot be read ({reason})")
        return None
    if not text.strip():
        return None  # an empty file says nothing, as SCP's v2 provider reads it
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the message of a JSON error can quote the text, and this text holds secrets.
        problems.append(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})")
        return None
    if not isinstance(data, dict):
        problems.append(f'{path}: must hold a JSON object ({{"access-key": ...}}), not a {type(data).__name__}')
        return None
    return data


def _string(path: Path, data: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{key} in {path}: must be a string, not a JSON {_json_type(value)}")
        return None
    return value or None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else type(value).__name__


def _read_credentials(
    path: Path, data: Mapping[str, Any], values: dict[str, tuple[str, str]], problems: list[str]
) -> None:
    method = _string(path, data, "auth-method", problems)
    if method is not None and method != "access-key":
        problems.append(f'auth-method in {path}: only "access-key" is supported (an access key and secret key)')
    for key, setting in _CREDENTIAL_KEYS.items():
        value = _string(path, data, key, problems)
        if value is not None:
            values[setting] = (value, f"{key} in {path}")
    alias = _string(path, data, _TOKEN_ALIAS, problems)
    if alias is not None:
        if "auth_token" in values and values["auth_token"][0] != alias:
            problems.append(f"auth-token and token in {path}: both are set and differ; keep one")
        else:
            values.setdefault("auth_token", (alias, f"{_TOKEN_ALIAS} in {path}"))


def _read_config(path: Path, data: Mapping[str, Any], values: dict[str, tuple[str, str]], problems: list[str]) -> None:
    for key, setting in _CONFIG_KEYS.items():
        value = _string(path, data, key, problems)
        if value is not None and setting not in values:
            values[setting] = (value, f"{key} in {path}")
    if "env" not in values:
        auth_url = _string(path, data, "auth-url", problems)
        match = _AUTH_URL.match(auth_url) if auth_url else None
        if match:
            values["env"] = (match.group(1).lower(), f"auth-url in {path}")


def _warn_if_readable_by_others(path: Path) -> None:
    """Warn when the group or other users may read or write the credentials file (POSIX permissions only)."""
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        logger.warning(
            "%s is accessible by other users (mode %04o): it holds your secret key; run: chmod 600 %s",
            path,
            mode,
            path,
        )
