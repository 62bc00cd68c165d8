"""Request signing: the vectors of API.md, what the signature depends on, the header set, and secret hygiene."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiodataops._signing import (
    API_VERSION,
    CLIENT_TYPE,
    SECRET_HEADERS,
    Credentials,
    now_ms,
    sign,
    signed_headers,
)

SECRET = "sk-very-secret-value"
TOKEN = "tok-very-secret-token"

VECTORS = [
    pytest.param(
        (
            "sk-test-secret",
            "AKTESTACCESSKEY",
            1760000000000,
            "DELETE",
            "https://x.kr-west1.e.samsungsdscloud.com/v1/clusters/abc-123/backups",
            "HwLuXr8hGP7pLYBVcELpF7UBf/5qXDY2cmIb201S8vM=",
        ),
        id="delete-backups",
    ),
    pytest.param(
        (
            "test-secret-key",
            "2sd2gg=2agbdSD26svcD",
            1605290625682,
            "PUT",
            (
                "https://data-ops.kr-west1.e.samsungsdscloud.com/v1/data-ops-services/"
                "DOPS_SERVICE-2a9be312-5d4b-4bc8-b2ae-35100fa9241f"
            ),
            "J4hjWFtV6adXb3oaL4fqm8H7gxyjXIAU6+ZoOmXyeKc=",
        ),
        id="put-service",
    ),
    pytest.param(
        (
            "test-secret-key",
            "2sd2gg=2agbdSD26svcD",
            1605290625682,
            "GET",
            (
                "https://data-ops.kr-west1.e.samsungsdscloud.com/v1/data-ops-services"
                "?page=0&size=20&sort=created_dt%3Adesc"
            ),
            "FOOR+5s4KA6cS0EoCUZapfCMl+wFLTUBLrd5u9I4ixI=",
        ),
        id="get-list-with-query",
    ),
]

BASE = {
    "method": "PUT",
    "url": "https://data-ops.kr-west1.e.samsungsdscloud.com/v1/data-ops-services/DOPS_SERVICE-1",
    "timestamp_ms": 1605290625682,
    "access_key": "AKTESTACCESSKEY",
    "secret_key": "sk-test-secret",
}


def _sign(**changes: object) -> str:
    args = {**BASE, **changes}
    creds = Credentials(str(args["access_key"]), str(args["secret_key"]))
    return sign(str(args["method"]), str(args["url"]), int(str(args["timestamp_ms"])), creds)


Vector = tuple[str, str, int, str, str, str]


@pytest.mark.parametrize("vector", VECTORS)
def test_signature_vectors(vector: Vector) -> None:
    """`sign` reproduces each of API.md's three signature vectors byte for byte."""
    secret, access_key, timestamp, method, url, expected = vector
    assert sign(method, url, timestamp, Credentials(access_key, secret)) == expected


@pytest.mark.parametrize("vector", VECTORS)
def test_signed_headers_carry_vector_signature(vector: Vector) -> None:
    """`signed_headers` puts the vector's signature and timestamp into the header set."""
    secret, access_key, timestamp, method, url, expected = vector
    headers = signed_headers(method, url, timestamp, Credentials(access_key, secret))
    assert headers["Scp-Signature"] == expected
    assert headers["Scp-Timestamp"] == str(timestamp)
    assert headers["Scp-Accesskey"] == access_key


@pytest.mark.parametrize(
    "change",
    [
        {"method": "POST"},
        {"url": BASE["url"] + "x"},
        {"url": str(BASE["url"]).replace("https://", "http://")},
        {"url": str(BASE["url"]) + "?page=0"},
        {"timestamp_ms": int(str(BASE["timestamp_ms"])) + 1},
        {"access_key": "AKTESTACCESSKEZ"},
        {"secret_key": "sk-test-secreu"},
    ],
    ids=["method", "path", "scheme", "query", "timestamp", "access-key", "secret-key"],
)
def test_signature_changes_with_each_input(change: dict[str, object]) -> None:
    """Changing any one signed input (method, URL, timestamp, access key, secret) changes the signature."""
    assert _sign(**change) != _sign()


def test_signature_ignores_the_token() -> None:
    """The auth token is sent as a header but is not part of the signed message."""
    creds = Credentials("AK", "SK")
    with_token = Credentials("AK", "SK", TOKEN)
    assert sign("GET", "https://h/v1", 1, creds) == sign("GET", "https://h/v1", 1, with_token)


def test_method_is_upper_cased_before_signing() -> None:
    """A lower-case method signs exactly like its upper-case form, as the gateway upper-cases it."""
    assert _sign(method="put") == _sign(method="PUT")
    headers = signed_headers("get", str(BASE["url"]), 1, Credentials("AK", "SK"))
    assert headers["Scp-Signature"] == sign("GET", str(BASE["url"]), 1, Credentials("AK", "SK"))


def test_percent_encoding_is_signed_as_given() -> None:
    """The URL is signed exactly as given: an encoded and a decoded query sign differently."""
    encoded = str(BASE["url"]) + "?sort=created_dt%3Adesc"
    decoded = str(BASE["url"]) + "?sort=created_dt:desc"
    assert _sign(url=encoded) != _sign(url=decoded)


@settings(max_examples=50)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    url=st.text(),
    timestamp=st.integers(min_value=0, max_value=2**53),
    access_key=st.text(min_size=1),
    secret_key=st.text(min_size=1),
)
def test_signature_is_padded_base64_of_a_sha256(
    method: str, url: str, timestamp: int, access_key: str, secret_key: str
) -> None:
    """Every signature is standard padded base64 of 32 bytes, whatever unicode the inputs hold."""
    signature = sign(method, url, timestamp, Credentials(access_key, secret_key))
    assert len(signature) == 44
    assert signature.endswith("=")
    assert len(base64.b64decode(signature, validate=True)) == 32


def test_signed_headers_full_set_without_token() -> None:
    """Without a token the header set is exactly API.md's six headers, with their fixed values."""
    creds = Credentials("AK", "SK")
    headers = signed_headers("GET", "https://h/v1/data-ops", 1605290625682, creds)
    assert headers == {
        "Scp-Accesskey": "AK",
        "Scp-Timestamp": "1605290625682",
        "Scp-ClientType": "Openapi",
        "Scp-Signature": sign("GET", "https://h/v1/data-ops", 1605290625682, creds),
        "Accept-Language": "en-US",
        "Scp-Api-Version": "data-ops 1.1",
    }
    assert CLIENT_TYPE == "Openapi"
    assert API_VERSION == "data-ops 1.1"


def test_signed_headers_with_token_adds_x_auth_token() -> None:
    """Temporary credentials add `X-Auth-Token` and nothing else."""
    plain = signed_headers("GET", "https://h/", 1, Credentials("AK", "SK"))
    headers = signed_headers("GET", "https://h/", 1, Credentials("AK", "SK", TOKEN))
    assert headers.pop("X-Auth-Token") == TOKEN
    assert headers == plain


def test_empty_token_sends_no_x_auth_token() -> None:
    """An empty token counts as no token: no empty `X-Auth-Token` header goes out."""
    headers = signed_headers("GET", "https://h/", 1, Credentials("AK", "SK", ""))
    assert "X-Auth-Token" not in headers


def test_accept_language_is_selectable() -> None:
    """`accept_language` sets the `Accept-Language` header and leaves the signature alone."""
    creds = Credentials("AK", "SK")
    korean = signed_headers("GET", "https://h/", 1, creds, accept_language="ko-KR")
    english = signed_headers("GET", "https://h/", 1, creds)
    assert korean["Accept-Language"] == "ko-KR"
    assert korean["Scp-Signature"] == english["Scp-Signature"]


def test_secret_headers_name_the_signature_and_token() -> None:
    """`SECRET_HEADERS` names, in lower case, the signature and token headers but not the public access key."""
    assert {"scp-signature", "x-auth-token"} <= SECRET_HEADERS
    assert all(name == name.lower() for name in SECRET_HEADERS)
    assert "scp-accesskey" not in SECRET_HEADERS


@pytest.mark.parametrize(
    "render",
    [repr, str, format, lambda c: f"{c}", lambda c: f"{c!r}", lambda c: f"{c!s}", lambda c: "%s" % (c,)],  # noqa: UP031 -- %-formatting is one of the ways a credential reaches a log line
    ids=["repr", "str", "format", "f-string", "f-string-r", "f-string-s", "percent"],
)
def test_credentials_never_render_secrets(render: object) -> None:
    """Every way of turning `Credentials` into text shows the access key but never the secret or the token."""
    assert callable(render)
    text = render(Credentials("AKVISIBLE", SECRET, TOKEN))
    assert "AKVISIBLE" in text
    assert SECRET not in text
    assert TOKEN not in text
    assert render(Credentials("AKVISIBLE", SECRET)).count("***") == 1


def test_credentials_in_containers_never_render_secrets() -> None:
    """A `Credentials` inside a list or dict (as in a logged config) still hides its secrets."""
    text = repr({"creds": [Credentials("AK", SECRET, TOKEN)]})
    assert SECRET not in text
    assert TOKEN not in text


@pytest.mark.parametrize(("access_key", "secret_key", "field"), [("", "SK", "access_key"), ("AK", "", "secret_key")])
def test_empty_keys_are_rejected(access_key: str, secret_key: str, field: str) -> None:
    """An empty access key or secret key is refused at construction, naming the field."""
    with pytest.raises(ValueError, match=field):
        Credentials(access_key, secret_key)


@pytest.mark.parametrize("field", ["access_key", "secret_key", "auth_token"])
def test_non_string_keys_are_rejected_without_echoing_them(field: str) -> None:
    """A key of the wrong type is refused naming the field, and the error never echoes the (secret) value."""
    secret_bytes = b"leaky-secret-bytes"
    kwargs: dict[str, object] = {"access_key": "AK", "secret_key": "SK", field: secret_bytes}
    with pytest.raises(TypeError, match=field) as info:
        Credentials(**kwargs)  # type: ignore[arg-type]
    assert "leaky-secret-bytes" not in str(info.value)
    assert all("leaky-secret-bytes" not in repr(arg) for arg in info.value.args)


def test_credentials_are_frozen() -> None:
    """Credentials cannot be changed after construction (they are shared by every request)."""
    creds = Credentials("AK", "SK")
    with pytest.raises(AttributeError):
        creds.secret_key = "other"  # type: ignore[misc]


def test_now_ms_is_epoch_milliseconds() -> None:
    """`now_ms` returns integer milliseconds since the Unix epoch, the unit of `Scp-Timestamp`."""
    before = time.time_ns() // 1_000_000
    value = now_ms()
    after = time.time_ns() // 1_000_000
    assert isinstance(value, int)
    assert before <= value <= after
