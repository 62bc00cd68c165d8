"""Configuration: explicit arguments over ``SCP_*`` variables, region/env endpoints, one error naming every gap."""

from __future__ import annotations

import inspect
import ssl

import pytest
import trustme

from aiodataops._client import DataOpsClient
from aiodataops._config import (
    endpoint_for,
    is_loopback_host,
    make_ssl_context,
    normalise_endpoint,
    resolve_settings,
)
from aiodataops._errors import ConfigurationError
from aiodataops._signing import Credentials
from aiodataops._timeouts import Timeouts

KEYS = {"SCP_ACCESS_KEY": "AK-env", "SCP_SECRET_KEY": "sk-env-secret"}


def test_environment_with_region_and_env_builds_the_endpoint() -> None:
    """SCP_REGION and SCP_ENV give https://data-ops.{region}.{env}.samsungsdscloud.com."""
    settings = resolve_settings(environ={**KEYS, "SCP_REGION": "kr-west1", "SCP_ENV": "e"})
    assert settings.endpoint == "https://data-ops.kr-west1.e.samsungsdscloud.com"
    assert settings.credentials == Credentials("AK-env", "sk-env-secret")
    assert settings.accept_language == "en-US"


def test_environment_endpoint_and_token_are_read() -> None:
    """SCP_DATAOPS_ENDPOINT, SCP_AUTH_TOKEN and SCP_ACCEPT_LANGUAGE are taken from the environment."""
    environ = {
        **KEYS,
        "SCP_AUTH_TOKEN": "tok",
        "SCP_DATAOPS_ENDPOINT": "https://Proxy.Example.com:443/dataops/",
        "SCP_ACCEPT_LANGUAGE": "ko-KR",
    }
    settings = resolve_settings(environ=environ)
    assert settings.endpoint == "https://proxy.example.com/dataops"
    assert settings.credentials.auth_token == "tok"
    assert settings.accept_language == "ko-KR"


def test_everything_missing_is_reported_at_once() -> None:
    """With nothing set, one error names the access key, the secret key and the endpoint."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(environ={})
    message = str(caught.value)
    assert "SCP_ACCESS_KEY" in message
    assert "SCP_SECRET_KEY" in message
    assert "SCP_DATAOPS_ENDPOINT" in message
    assert "SCP_REGION" in message


def test_region_without_env_names_the_missing_variable() -> None:
    """SCP_REGION alone is reported as missing SCP_ENV."""
    with pytest.raises(ConfigurationError, match="SCP_ENV is missing"):
        resolve_settings(environ={**KEYS, "SCP_REGION": "kr-west1"})


@pytest.mark.parametrize(
    ("region", "env", "problem"),
    [("kr-south1", "s", "not a Data Ops region of env 's'"), ("kr-west1", "x", "not an SCP environment")],
)
def test_unknown_region_env_pairs_are_refused(region: str, env: str, problem: str) -> None:
    """Only the region/env pairs of API.md are accepted, with the known ones listed."""
    with pytest.raises(ConfigurationError, match=problem):
        endpoint_for(region, env)
    with pytest.raises(ConfigurationError, match=problem):
        resolve_settings(environ={**KEYS, "SCP_REGION": region, "SCP_ENV": env})


def test_every_published_pair_is_accepted() -> None:
    """Each pair of API.md gives its endpoint."""
    pairs = [
        ("kr-west1", "s"),
        ("kr-east1", "s"),
        ("kr-south1", "g"),
        ("kr-south2", "g"),
        ("kr-south3", "g"),
        ("kr-west1", "e"),
        ("kr-east1", "e"),
    ]
    for region, env in pairs:
        assert endpoint_for(region, env) == f"https://data-ops.{region}.{env}.samsungsdscloud.com"


def test_endpoint_contradicting_region_is_an_error() -> None:
    """An endpoint and a region/env pair that disagree are refused, naming both."""
    environ = {**KEYS, "SCP_DATAOPS_ENDPOINT": "https://other.example.com", "SCP_REGION": "kr-west1", "SCP_ENV": "e"}
    with pytest.raises(ConfigurationError, match="contradicts SCP_REGION/SCP_ENV"):
        resolve_settings(environ=environ)


def test_endpoint_agreeing_with_region_is_fine() -> None:
    """An endpoint that equals the region/env one is not a contradiction."""
    environ = {
        **KEYS,
        "SCP_DATAOPS_ENDPOINT": "https://data-ops.kr-east1.s.samsungsdscloud.com/",
        "SCP_REGION": "kr-east1",
        "SCP_ENV": "s",
    }
    assert resolve_settings(environ=environ).endpoint == "https://data-ops.kr-east1.s.samsungsdscloud.com"


def test_explicit_arguments_win_over_the_environment() -> None:
    """An explicit endpoint replaces the environment's endpoint settings, and keys override field by field."""
    environ = {**KEYS, "SCP_REGION": "kr-west1", "SCP_ENV": "e"}
    settings = resolve_settings(endpoint="http://127.0.0.1:8080", secret_key="sk-arg", environ=environ)
    assert settings.endpoint == "http://127.0.0.1:8080"
    assert settings.credentials.access_key == "AK-env"
    assert settings.credentials.secret_key == "sk-arg"


def test_credentials_and_key_arguments_together_are_contradictory() -> None:
    """Passing credentials= and access_key= at once is refused."""
    with pytest.raises(ConfigurationError, match="not both"):
        resolve_settings(
            credentials=Credentials("a", "b"), access_key="c", endpoint="https://x.example.com", environ={}
        )


def test_unknown_accept_language_is_refused() -> None:
    """Only en-US and ko-KR are accepted as the answer language."""
    with pytest.raises(ConfigurationError, match="'fr-FR'"):
        resolve_settings(environ={**KEYS, "SCP_REGION": "kr-west1", "SCP_ENV": "e"}, accept_language="fr-FR")


def test_secrets_never_appear_in_configuration_errors() -> None:
    """A configuration error lists what is wrong without echoing the secret or the token."""
    environ = {"SCP_SECRET_KEY": "sk-very-secret", "SCP_AUTH_TOKEN": "tok-very-secret", "SCP_REGION": "nowhere"}
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(environ=environ)
    assert "sk-very-secret" not in str(caught.value)
    assert "tok-very-secret" not in str(caught.value)
    assert "SCP_ACCESS_KEY" in str(caught.value)


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://x.example.com", "data-ops.example.com", "https://user:pw@x.example.com", "https://x.example.com/?a=1"],
)
def test_malformed_endpoints_are_refused(endpoint: str) -> None:
    """Only an absolute http(s) URL without credentials, query or fragment is an endpoint."""
    with pytest.raises(ConfigurationError, match="endpoint"):
        normalise_endpoint(endpoint)


def test_plain_http_is_for_loopback_only() -> None:
    """http:// is accepted for loopback hosts, refused elsewhere unless explicitly allowed."""
    assert normalise_endpoint("http://localhost:8080/") == "http://localhost:8080"
    assert normalise_endpoint("http://[::1]:8080") == "http://[::1]:8080"
    with pytest.raises(ConfigurationError, match="plain http"):
        normalise_endpoint("http://10.0.0.5")
    assert normalise_endpoint("http://10.0.0.5", allow_insecure_http=True) == "http://10.0.0.5"
    assert is_loopback_host("127.0.0.2")
    assert not is_loopback_host("127.example.com")


def test_ca_bundle_path_becomes_a_verifying_context(tmp_path: pytest.TempPathFactory) -> None:
    """A CA bundle path gives an SSLContext that verifies; a missing path is a configuration error."""
    bundle = tmp_path / "ca.pem"  # type: ignore[operator]
    trustme.CA().cert_pem.write_to_path(str(bundle))
    context = make_ssl_context(str(bundle))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert make_ssl_context(None) is True
    with pytest.raises(ConfigurationError, match="not a readable file"):
        make_ssl_context(str(tmp_path / "missing.pem"))  # type: ignore[operator]


def test_client_constructor_reports_every_missing_setting() -> None:
    """DataOpsClient() without settings names both the endpoint and the credentials."""
    with pytest.raises(ConfigurationError) as caught:
        DataOpsClient()
    assert "endpoint" in str(caught.value)
    assert "access key" in str(caught.value)


def test_client_from_env_uses_the_environment_and_overrides() -> None:
    """from_env reads SCP_* variables and lets arguments override them."""
    environ = {**KEYS, "SCP_REGION": "kr-south2", "SCP_ENV": "g"}
    client = DataOpsClient.from_env(environ=environ, concurrency=4)
    assert client.endpoint == "https://data-ops.kr-south2.g.samsungsdscloud.com"
    assert client.concurrency == 4
    client = DataOpsClient.from_env(environ=environ, region="kr-west1", env="s")
    assert client.endpoint == "https://data-ops.kr-west1.s.samsungsdscloud.com"
    assert "sk-env-secret" not in repr(client)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"environ": {**KEYS, "SCP_ACCESS_KEY": "AK-secret\n"}}, "SCP_ACCESS_KEY contains a control character"),
        ({"environ": {**KEYS, "SCP_AUTH_TOKEN": "tok-secret\r\nX-Evil: 1"}}, "SCP_AUTH_TOKEN contains a control"),
        ({"environ": {**KEYS, "SCP_SECRET_KEY": "   "}}, "SCP_SECRET_KEY is blank"),
        ({"environ": KEYS, "secret_key": "\t"}, "secret_key= is blank"),
        ({"environ": KEYS, "access_key": "AK-secret\x00"}, "access_key= contains a control character"),
        ({"environ": KEYS, "auth_token": " tok-secret"}, "auth_token= starts or ends with whitespace"),
        ({"environ": {}, "credentials": Credentials("AK-secret", "sk secret\n")}, "credentials.secret_key contains"),
        ({"environ": {}, "credentials": Credentials("AK-secret", " ")}, "credentials.secret_key is blank"),
    ],
)
def test_credentials_a_header_cannot_carry_are_refused_naming_the_setting(
    settings: dict[str, object], problem: str
) -> None:
    """A line break, a control character, blank or padded credentials: a ``ConfigurationError`` naming the setting."""
    with pytest.raises(ConfigurationError, match=problem) as caught:
        resolve_settings(endpoint="https://example.com", **settings)  # type: ignore[arg-type]
    assert "secret" not in str(caught.value).replace("secret_key", "").replace("SECRET_KEY", "")


def test_a_client_with_a_newline_in_its_token_fails_at_construction() -> None:
    """``DataOpsClient`` refuses such credentials when built, before any request (not aiohttp's header error)."""
    with pytest.raises(ConfigurationError, match=r"credentials\.auth_token contains a control character"):
        DataOpsClient("https://example.com", Credentials("AK", "sk", "tok\n"))
    with pytest.raises(ConfigurationError, match="SCP_ACCESS_KEY contains a control character"):
        DataOpsClient.from_env(environ={**KEYS, "SCP_ACCESS_KEY": "AK\n", "SCP_DATAOPS_ENDPOINT": "https://e.com"})


# -- timeout= takes a number (issue 14) --------------------------------------------------------------------------


def test_a_number_timeout_bounds_every_phase_of_one_attempt() -> None:
    """``timeout=5.0`` (or ``5``) means 5 s per attempt: every phase, and the whole attempt, within 5 s."""
    for timeout in (5.0, 5):
        client = DataOpsClient("https://example.com", Credentials("AK", "sk"), timeout=timeout)
        assert client._transport.timeouts == Timeouts(connect=5.0, pool=5.0, read=5.0, total=5.0)
        assert client._transport.timeouts == Timeouts.per_attempt(5.0)
    detailed = Timeouts(connect=1.0, total=30.0)
    assert (
        DataOpsClient("https://example.com", Credentials("AK", "sk"), timeout=detailed)._transport.timeouts is detailed
    )
    assert DataOpsClient("https://example.com", Credentials("AK", "sk"))._transport.timeouts == Timeouts()
    from_env = DataOpsClient.from_env(environ={**KEYS, "SCP_DATAOPS_ENDPOINT": "https://example.com"}, timeout=2.5)
    assert from_env._transport.timeouts.total == 2.5


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf"), True, "5"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(timeout: object) -> None:
    """Zero, negative, NaN, infinite, a bool or a string: a ``ConfigurationError`` naming ``timeout``."""
    with pytest.raises(ConfigurationError, match="timeout"):
        DataOpsClient("https://example.com", Credentials("AK", "sk"), timeout=timeout)  # type: ignore[arg-type]


def test_from_env_takes_every_keyword_of_the_constructor_with_the_same_type() -> None:
    """``from_env`` spells out the constructor's keyword arguments (no ``**options: Any``), so typos are type errors."""
    constructor = inspect.signature(DataOpsClient.__init__).parameters
    from_env = inspect.signature(DataOpsClient.from_env).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in from_env.values())
    for name, parameter in constructor.items():
        if name in {"self", "credentials", "endpoint"}:
            assert name == "self" or name in from_env
            continue
        assert name in from_env, name
        if name != "accept_language":  # None in from_env: "not given, look further" (the environment, the files)
            assert from_env[name].annotation == parameter.annotation, name
            assert from_env[name].default == parameter.default, name
    with pytest.raises(TypeError, match="timeuot"):
        DataOpsClient.from_env(timeuot=5)  # type: ignore[call-arg]
