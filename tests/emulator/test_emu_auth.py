"""The emulator checks signatures as SCP's gateway does: over the URL exactly as sent, within 15 minutes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from yarl import URL

from aiodataops._signing import Credentials, now_ms, sign, signed_headers
from aiodataops.emulator import Emulator

if TYPE_CHECKING:
    import aiohttp

    from aiodataops._clock import VirtualClock

pytestmark = pytest.mark.anyio


def assert_legacy_401(status: int, body: dict[str, object], code: str) -> None:
    assert status == 401
    assert set(body) == {"service", "timestamp", "message", "status", "code", "path", "requestId"}
    assert (body["status"], body["code"]) == (401, code)


async def test_wrong_secret_is_401(emu: Emulator, call) -> None:
    """A signature made with another secret key is a 401 in the legacy envelope."""
    forged = Credentials(emu.credentials.access_key, "not-the-secret")
    status, body, _ = await call("GET", "/v1/data-ops", credentials=forged)
    assert_legacy_401(status, body, "AUTH_INVALID_SIGNATURE")


async def test_unknown_access_key_is_401(call) -> None:
    """An access key the emulator does not know is a 401."""
    status, body, _ = await call("GET", "/v1/data-ops", credentials=Credentials("AK-UNKNOWN", "whatever"))
    assert_legacy_401(status, body, "AUTH_UNKNOWN_ACCESS_KEY")


@pytest.mark.parametrize("minutes", [-16, 16])
async def test_timestamp_out_of_range_is_401(call, minutes: int) -> None:
    """A timestamp more than 15 minutes away from the server's clock is a 401 saying it is out of range."""
    status, body, _ = await call("GET", "/v1/data-ops", timestamp_ms=now_ms() + minutes * 60_000)
    assert_legacy_401(status, body, "AUTH_TIMESTAMP_OUT_OF_RANGE")
    assert "out of range" in str(body["message"])


async def test_timestamp_within_range_is_accepted(call) -> None:
    """A correctly signed request 14 minutes old is still accepted."""
    status, _, _ = await call("GET", "/v1/data-ops", timestamp_ms=now_ms() - 14 * 60_000)
    assert status == 200


async def test_tampered_url_is_401(emu: Emulator, call) -> None:
    """A request whose URL differs from the signed one (a query added) is a 401."""
    status, body, _ = await call("GET", "/v1/data-ops-services?page=0&size=1000", sign_path="/v1/data-ops-services")
    assert_legacy_401(status, body, "AUTH_INVALID_SIGNATURE")


async def test_tampered_method_is_401(emu: Emulator, session: aiohttp.ClientSession) -> None:
    """A DELETE sent with the headers of a GET signature is a 401 and deletes nothing."""
    service_id = emu.service_ids()[0]
    url = emu.url(f"/v1/data-ops-services/{service_id}")
    headers = signed_headers("GET", url, now_ms(), emu.credentials)
    async with session.delete(url, headers=headers) as response:
        assert response.status == 401
    assert emu.service_state(service_id) == "RUNNING"


async def test_percent_encoded_non_ascii_path_and_query_verify(call) -> None:
    """A path and query with percent-encoded UTF-8 and %3A verify when signed over the bytes sent."""
    path = "/v1/data-ops-services/%ED%95%9C%EA%B8%80/check-duplication?note=%ED%95%9C&sort=created_dt%3Adesc"
    status, body, _ = await call("GET", path)
    assert (status, body) == (200, {"result": False})


async def test_signing_a_re_encoded_url_is_401(call) -> None:
    """Signing a double-encoded spelling (%25ED) of the URL sent (%ED) is a 401, the bug API.md warns about."""
    sent = "/v1/data-ops-services/%ED%95%9C/check-duplication"
    status, body, _ = await call("GET", sent, sign_path=sent.replace("%", "%25"))
    assert_legacy_401(status, body, "AUTH_INVALID_SIGNATURE")


async def test_signing_decoded_colon_but_sending_encoded_is_401(call) -> None:
    """A query signed with ':' but sent with '%3A' does not verify: the server checks the raw bytes."""
    status, _, _ = await call(
        "GET", "/v1/data-ops-services?sort=created_dt%3Adesc", sign_path="/v1/data-ops-services?sort=created_dt:desc"
    )
    assert status == 401


@pytest.mark.parametrize("header", ["Scp-Accesskey", "Scp-Timestamp", "Scp-Signature", "Scp-ClientType"])
async def test_missing_header_is_401_naming_it(emu: Emulator, session: aiohttp.ClientSession, header: str) -> None:
    """A request without one of the Scp-* headers is a 401 that names the missing header."""
    url = emu.url("/v1/data-ops")
    headers = signed_headers("GET", url, now_ms(), emu.credentials)
    del headers[header]
    async with session.get(url, headers=headers) as response:
        body = await response.json()
    assert_legacy_401(response.status, body, "AUTH_MISSING_HEADER")
    assert header in str(body["message"])


async def test_missing_api_version_is_accepted(emu: Emulator, session: aiohttp.ClientSession) -> None:
    """A request without Scp-Api-Version is served (the real server picks its latest version)."""
    url = emu.url("/v1/data-ops")
    headers = signed_headers("GET", url, now_ms(), emu.credentials)
    del headers["Scp-Api-Version"]
    async with session.get(url, headers=headers) as response:
        assert response.status == 200


async def test_rejected_put_is_not_applied(emu: Emulator, call) -> None:
    """A PUT with a bad signature changes nothing, yet counts as a PUT received and as a 401."""
    service_id = emu.service_ids()[0]
    status, _, _ = await call(
        "PUT",
        f"/v1/data-ops-services/{service_id}",
        {"description": "hacked"},
        credentials=Credentials(emu.credentials.access_key, "wrong"),
    )
    assert status == 401
    assert emu.service_body(service_id)["description"] != "hacked"
    assert emu.counters.puts_per_service[service_id] == 1
    assert emu.counters.accepted_puts_per_service[service_id] == 0
    assert emu.counters.requests["update_service", 401] == 1


async def test_the_401_never_echoes_the_signature(emu: Emulator, session: aiohttp.ClientSession) -> None:
    """Neither the expected nor the given signature appears in a 401 answer."""
    url = emu.url("/v1/data-ops")
    timestamp = now_ms()
    headers = signed_headers("GET", url, timestamp, Credentials(emu.credentials.access_key, "wrong"))
    async with session.get(url, headers=headers) as response:
        text = await response.text()
    assert response.status == 401
    assert headers["Scp-Signature"] not in text
    assert sign("GET", url, timestamp, emu.credentials) not in text


async def test_custom_credentials_and_auth_token(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    """Configured temporary credentials are required, X-Auth-Token included; the default key is refused."""
    temporary = Credentials("AK-TEMP", "sk-temp", auth_token="token-123")
    async with Emulator(credentials=temporary, clock=clock) as emu:
        url = emu.url("/v1/data-ops")
        good = signed_headers("GET", url, now_ms(), temporary)
        no_token = {k: v for k, v in good.items() if k != "X-Auth-Token"}
        default = signed_headers("GET", url, now_ms(), Emulator().credentials)
        statuses = []
        for headers in (good, no_token, default):
            async with session.get(URL(url), headers=headers) as response:
                statuses.append(response.status)
    assert statuses == [200, 401, 401]
