"""SCP's own files, ``~/.scp/config.json`` and ``~/.scp/credentials.json``: read below arguments and ``SCP_*``.

The key names are those of SCP's Terraform providers (see ``aiodataops/_scp_files.py`` for where each comes from).
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import sys
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import trustme
from _forward_proxy import ForwardProxy
from _loopback import serve
from yarl import URL

from aiodataops._client import DataOpsClient
from aiodataops._config import resolve_settings
from aiodataops._errors import ConfigurationError
from aiodataops._scp_files import read_scp_files
from aiodataops._signing import Credentials
from aiodataops.cli import main
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    from pathlib import Path

ENDPOINT = "https://data-ops.kr-west1.e.samsungsdscloud.com"
SECRET = "sk-file-hunter2"


def write(directory: Path, name: str, content: Any, mode: int = 0o600) -> Path:
    """Write ``content`` (JSON unless it is text) to ``directory/name`` with ``mode``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    path.chmod(mode)
    return path


def scp_dir(tmp_path: Path, credentials: Any = None, config: Any = None, *, mode: int = 0o600) -> Path:
    """A directory holding SCP's two files (either may be left out)."""
    directory = tmp_path / ".scp"
    directory.mkdir(parents=True, exist_ok=True)
    if credentials is not None:
        write(directory, "credentials.json", credentials, mode)
    if config is not None:
        write(directory, "config.json", config)
    return directory


V1_CREDENTIALS = {"auth-method": "access-key", "access-key": "AK-file", "secret-key": SECRET}


def test_the_two_files_alone_configure_the_client(tmp_path: Path) -> None:
    """credentials.json (access-key, secret-key, auth-token) and config.json (region, env) are enough."""
    directory = scp_dir(
        tmp_path,
        {**V1_CREDENTIALS, "auth-token": "tok-file", "password": "ignored", "project-id": "PROJECT-x"},
        {"region": "kr-west1", "env": "e", "accept-language": "ko-KR", "host": "https://openapi.samsungsdscloud.com"},
    )
    settings = resolve_settings(environ={"SCP_CONFIG_DIR": str(directory)})
    assert settings.endpoint == ENDPOINT
    assert settings.credentials == Credentials("AK-file", SECRET, "tok-file")
    assert settings.accept_language == "ko-KR"


def test_scp_v2_files_in_scpconf_give_the_region_and_the_env_of_their_auth_url(tmp_path: Path) -> None:
    """SCP's v2 tools write ~/.scpconf with auth-url (https://iam.{env}...) and default-region: both are used."""
    home = tmp_path / "home"
    write(home / ".scpconf", "credentials.json", {"access-key": "AK-v2", "secret-key": SECRET})
    write(
        home / ".scpconf",
        "config.json",
        {"auth-url": "https://iam.s.samsungsdscloud.com/v1", "default-region": "kr-east1"},
    )
    settings = resolve_settings(environ={"HOME": str(home)})
    assert settings.endpoint == "https://data-ops.kr-east1.s.samsungsdscloud.com"
    assert settings.credentials == Credentials("AK-v2", SECRET)
    write(home / ".scp", "credentials.json", {"access-key": "AK-v1", "secret-key": SECRET})
    write(home / ".scp", "config.json", {"dataops-endpoint": "https://dataops.example.com/"})
    settings = resolve_settings(environ={"HOME": str(home)})  # ~/.scp, when there, is the directory read
    assert (settings.endpoint, settings.credentials.access_key) == ("https://dataops.example.com", "AK-v1")


def test_what_the_files_said_is_never_shown_in_a_repr(tmp_path: Path) -> None:
    """The parsed files' repr names the settings found, not the keys' values."""
    directory = scp_dir(tmp_path, {**V1_CREDENTIALS, "auth-token": "tok-hunter2"}, {"dataops-endpoint": ENDPOINT})
    files = read_scp_files(directory)
    assert files.get("secret_key") == (SECRET, f"secret-key in {directory / 'credentials.json'}")
    assert "hunter2" not in repr(files)
    assert "secret_key" in repr(files)
    assert "hunter2" not in repr(resolve_settings(environ={"SCP_CONFIG_DIR": str(directory)}))


def test_arguments_beat_the_environment_which_beats_the_files(tmp_path: Path) -> None:
    """Credentials field by field, the endpoint as a whole: argument > SCP_* variable > file."""
    directory = scp_dir(tmp_path, V1_CREDENTIALS, {"region": "kr-west1", "env": "e"})
    environ = {"SCP_CONFIG_DIR": str(directory), "SCP_ACCESS_KEY": "AK-env", "SCP_REGION": "kr-south1", "SCP_ENV": "g"}
    settings = resolve_settings(environ=environ)
    assert settings.credentials == Credentials(
        "AK-env", SECRET
    )  # the key from the environment, the secret from the file
    assert settings.endpoint == "https://data-ops.kr-south1.g.samsungsdscloud.com"
    settings = resolve_settings(environ=environ, access_key="AK-arg", endpoint="https://arg.example.com")
    assert settings.credentials == Credentials("AK-arg", SECRET)
    assert settings.endpoint == "https://arg.example.com"
    environ_endpoint = {"SCP_CONFIG_DIR": str(directory), "SCP_DATAOPS_ENDPOINT": "https://env.example.com"}
    assert resolve_settings(environ=environ_endpoint).endpoint == "https://env.example.com"  # not a mix with the file's


def test_config_dir_beats_scp_config_dir_which_beats_home(tmp_path: Path) -> None:
    """``config_dir=`` (``--config-dir``) wins over ``SCP_CONFIG_DIR``, which wins over ``~/.scp``."""
    for name in ("home/.scp", "env-dir", "arg-dir"):
        write(tmp_path / name, "credentials.json", {"access-key": f"AK-{name.replace('/', '')}", "secret-key": SECRET})
        write(tmp_path / name, "config.json", {"dataops-endpoint": ENDPOINT})
    environ = {"HOME": str(tmp_path / "home")}
    assert resolve_settings(environ=environ).credentials.access_key == "AK-home.scp"
    environ["SCP_CONFIG_DIR"] = str(tmp_path / "env-dir")
    assert resolve_settings(environ=environ).credentials.access_key == "AK-env-dir"
    settings = resolve_settings(environ=environ, config_dir=tmp_path / "arg-dir")
    assert settings.credentials.access_key == "AK-arg-dir"
    client = DataOpsClient.from_env(environ=environ, config_dir=tmp_path / "arg-dir")
    assert client.endpoint == ENDPOINT


def test_a_config_dir_that_does_not_exist_is_named(tmp_path: Path) -> None:
    """A directory the user named (SCP_CONFIG_DIR, config_dir=, --config-dir) must exist; ~/.scp need not."""
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigurationError, match=r"SCP_CONFIG_DIR: .*nowhere.* is not a directory"):
        resolve_settings(environ={"SCP_CONFIG_DIR": str(missing)})
    with pytest.raises(ConfigurationError, match=r"config_dir=: .*nowhere"):
        resolve_settings(environ={}, config_dir=missing)
    with pytest.raises(ConfigurationError, match=r"--config-dir: .*nowhere"):
        resolve_settings(environ={}, config_dir=missing, names="cli")
    with pytest.raises(ConfigurationError, match="missing the access key") as caught:
        resolve_settings(environ={"HOME": str(tmp_path)})  # no ~/.scp: simply nothing from files
    assert "access-key in credentials.json" in str(caught.value)


@pytest.mark.parametrize(
    ("credentials", "config", "problem"),
    [
        ('{"access-key": "AK", "secret-key": "sk-file-hunter2",', None, r"credentials\.json: not valid JSON \(line 1"),
        (["AK", SECRET], None, r"credentials\.json: must hold a JSON object"),
        (
            {"access-key": 42, "secret-key": SECRET},
            None,
            r"access-key in .*credentials\.json: must be a string, not a JSON number",
        ),
        (
            {**V1_CREDENTIALS, "auth-method": "password"},
            None,
            r"auth-method in .*credentials\.json: only \"access-key\"",
        ),
        (
            {**V1_CREDENTIALS, "auth-token": "tok-a", "token": "tok-b"},
            None,
            r"auth-token and token in .*credentials\.json",
        ),
        (
            {**V1_CREDENTIALS, "secret-key": SECRET + "\n"},
            None,
            r"secret-key in .*credentials\.json contains a control",
        ),
        (V1_CREDENTIALS, {"region": ["kr-west1"]}, r"region in .*config\.json: must be a string, not a JSON array"),
        (V1_CREDENTIALS, {"region": "kr-west1"}, r"region in .*config\.json is set but env in config\.json is missing"),
        (V1_CREDENTIALS, {"region": "kr-west9", "env": "e"}, r"region in .*config\.json/env in .*config\.json: region"),
        (V1_CREDENTIALS, {"dataops-endpoint": "ftp://x"}, r"dataops-endpoint in .*config\.json: endpoint 'ftp://x'"),
    ],
)
def test_a_malformed_file_is_a_configuration_error_naming_the_file_and_the_key(
    tmp_path: Path, credentials: Any, config: Any, problem: str
) -> None:
    """Not JSON, not an object, a value of the wrong type or an unusable one: the file and key named, no value."""
    directory = scp_dir(tmp_path, credentials, config if config is not None else {"dataops-endpoint": ENDPOINT})
    with pytest.raises(ConfigurationError, match=problem) as caught:
        resolve_settings(environ={"SCP_CONFIG_DIR": str(directory)})
    assert str(directory) in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "tok-a" not in str(caught.value)


def test_a_credentials_file_others_can_read_gets_a_warning_naming_it_and_chmod_600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Mode 0644 on credentials.json logs a warning on ``aiodataops.config`` with the path and ``chmod 600``."""
    if os.name != "posix":
        pytest.skip("POSIX permissions only")
    caplog.set_level(logging.WARNING, logger="aiodataops.config")
    directory = scp_dir(tmp_path, V1_CREDENTIALS, {"dataops-endpoint": ENDPOINT}, mode=0o644)
    resolve_settings(environ={"SCP_CONFIG_DIR": str(directory)})
    warnings = [r for r in caplog.records if r.name == "aiodataops.config" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert str(directory / "credentials.json") in message
    assert f"chmod 600 {directory / 'credentials.json'}" in message
    assert "0644" in message
    assert "hunter2" not in caplog.text
    caplog.clear()
    (directory / "credentials.json").chmod(0o600)
    resolve_settings(environ={"SCP_CONFIG_DIR": str(directory)})
    assert not [r for r in caplog.records if r.name == "aiodataops.config"]


def test_configuration_errors_name_flags_from_the_cli_and_arguments_from_python() -> None:
    """The same gaps are ``--access-key``/``--endpoint`` for the CLI and ``access_key=``/``endpoint=`` in Python."""
    with pytest.raises(ConfigurationError) as python:
        resolve_settings(environ={}, secret_key=" padded")
    with pytest.raises(ConfigurationError) as cli:
        resolve_settings(environ={}, secret_key=" padded", names="cli")
    assert "access_key=" in str(python.value)
    assert "endpoint=" in str(python.value)
    assert "secret_key= starts or ends with whitespace" in str(python.value)
    assert "--access-key" in str(cli.value)
    assert "--endpoint" in str(cli.value)
    assert "--secret-key-file starts or ends with whitespace" in str(cli.value)
    for message in (str(cli.value),):
        assert "access_key=" not in message
        assert "endpoint=" not in message
    with pytest.raises(ConfigurationError, match="--insecure-http"):
        resolve_settings(
            environ={"SCP_ACCESS_KEY": "AK", "SCP_SECRET_KEY": "sk"}, endpoint="http://10.0.0.1", names="cli"
        )


def test_the_cli_names_its_flags_in_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's errors say ``--access-key``, ``--endpoint``, ``--proxy``, ``--ca-bundle``, exit 2, no secret shown."""
    for name in [n for n in os.environ if n.startswith("SCP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    status = main(["services", "list", "--proxy", "socks5://u:hunter2@proxy:1080"])
    err = capsys.readouterr().err
    assert status == 2
    assert "--access-key" in err
    assert "--endpoint" in err
    assert "access_key=" not in err
    directory = scp_dir(tmp_path, {"secret-key": SECRET})
    bad_proxy = ["--proxy", "socks5://u:hunter2@proxy:1080"]
    status = main(
        ["services", "list", "--config-dir", str(directory), "--endpoint", ENDPOINT, "--access-key", "AK", *bad_proxy]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "--proxy: socks5:// proxies are not supported" in err
    assert "hunter2" not in err
    missing_bundle = str(tmp_path / "no-such-ca.pem")
    status = main(
        [
            "services",
            "list",
            "--config-dir",
            str(directory),
            "--endpoint",
            ENDPOINT,
            "--access-key",
            "AK",
            "--ca-bundle",
            missing_bundle,
        ]
    )
    assert status == 2
    assert "--ca-bundle: CA bundle" in capsys.readouterr().err


@pytest.mark.anyio
async def test_a_user_behind_a_proxy_with_only_scp_files_lists_services_with_no_flags(tmp_path: Path) -> None:
    """``aiodataops services list``, no flag: ~/.scp gives keys and region, HTTPS_PROXY the way out, TLS verified."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    host = URL(ENDPOINT).host
    assert host is not None
    ca.issue_cert(host).configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    emu = Emulator(data_ops=1, services_per_data_ops=3)
    home = tmp_path / "home"
    write(
        home / ".scp",
        "credentials.json",
        {
            "auth-method": "access-key",
            "access-key": emu.credentials.access_key,
            "secret-key": emu.credentials.secret_key,
        },
    )
    write(
        home / ".scp", "config.json", {"auth-url": "https://iam.e.samsungsdscloud.com/v1", "default-region": "kr-west1"}
    )
    async with (
        serve(emu.app, ssl_context=context) as base,
        ForwardProxy(hosts={f"{host}:443": f"127.0.0.1:{URL(base).port}"}) as proxy,
    ):
        environ = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "HTTPS_PROXY": proxy.url,
            "SSL_CERT_FILE": str(bundle),  # the machine's trust store, as a company's CA would be installed
        }
        result = await anyio.run_process(
            [sys.executable, "-m", "aiodataops", "services", "list", "-o", "json"], env=environ, check=False
        )
    assert result.returncode == 0, result.stderr.decode()
    listed = json.loads(result.stdout)
    assert len(listed) == 3
    assert [(seen.method, seen.target) for seen in proxy.seen][:1] == [("CONNECT", f"{host}:443")]
    assert emu.counters.total() >= 1
