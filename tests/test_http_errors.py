"""Every error envelope of the reference becomes the right typed error, with the body's reasons in its message."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from aiodataops._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    GatewayRejectedError,
    IdNotFoundError,
    NotFoundError,
    RequestRejectedError,
    ThrottledError,
    UnsupportedVersionError,
)
from aiodataops._http_errors import error_from_response
from aiodataops._masking import secrets_in_body
from aiodataops._retry import DEFAULT_RETRYABLE_STATUSES

URL = "https://data-ops.kr-west1.e.samsungsdscloud.com/v1/data-ops"

# The live 400 for POST /v1/data-ops with an empty body (reference, "[LIVE] Observations").
LIVE_400 = {
    "errors": [
        {
            "code": "ValidationError",
            "detail": ["Field required"] * 7,
            "global_request_id": "req-global-1",
            "links": [],
            "related_resources": [],
            "request_id": "req-1",
            "response": None,
            "status": 400,
            "title": "ValidationError",
        }
    ]
}


def error(status: int, body: Any, *, method: str = "POST", **kwargs: Any) -> APIStatusError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return error_from_response(
        status=status, reason=None, method=method, url=URL, headers={}, body=raw, retry_after=None, **kwargs
    )


def test_a_list_valued_detail_gives_its_reasons() -> None:
    """The live envelope with `detail` a list of "Field required" names the reason, counted, and the request id."""
    exc = error(400, LIVE_400)
    assert type(exc) is BadRequestError
    assert exc.message == "Field required (x7)"
    assert exc.code == "ValidationError"
    assert exc.request_id == "req-1"
    assert "Field required" in str(exc)


def test_a_stringified_python_list_gives_its_reasons() -> None:
    """A `detail` that is Python's str() of a list ("['Field required', ...]") is read as that list."""
    body = {"errors": [{"code": "ValidationError", "detail": "['Field required', \"Input should be 'x'\"]"}]}
    assert error(400, body).message == "Field required; Input should be 'x'"


def test_a_detail_of_loc_msg_type_items_names_each_field() -> None:
    """`{loc, msg, type}` items, bare, under `detail` or inside `errors[].detail`, each name their field."""
    items = [{"loc": ["body", "domain"], "msg": "Field required", "type": "missing"}]
    assert error(400, items).message == "body.domain: Field required"
    assert error(422, {"detail": items}).message == "body.domain: Field required"
    assert error(400, {"errors": [{"code": "V", "detail": items}]}).message == "body.domain: Field required"


def test_the_gateway_rejection_envelope_says_why() -> None:
    """The gateway's `{status, name, message}` keeps both its name and its message."""
    body = {"status": "UNAUTHORIZED", "name": "Request was rejected by gateway", "message": "invalid access key"}
    exc = error(401, body)
    assert type(exc) is AuthenticationError
    assert exc.message.startswith("Request was rejected by gateway: invalid access key")


def test_the_spring_404_is_a_gateway_refusal_not_a_not_found() -> None:
    """Spring's `{timestamp, path, status, error, requestId}` 404 is GatewayRejectedError, never NotFoundError."""
    body = {"timestamp": "2026-06-05T01:02:03.456+00:00", "path": "/v1/data-ops", "status": 404}
    exc = error(404, {**body, "error": "Not Found", "requestId": "a1b2"}, method="GET")
    assert type(exc) is GatewayRejectedError
    assert not isinstance(exc, NotFoundError)
    assert "gateway refused" in exc.message
    assert "access key" in exc.message
    assert exc.request_id == "a1b2"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_400_saying_not_found_is_the_apis_not_found(method: str) -> None:
    """A 400 whose detail says the id is unknown (the live answer for unknown ids) is an IdNotFoundError."""
    body = {"errors": [{"code": "BadRequest", "detail": ["DataOpsService DOPS_SERVICE-x not found"], "status": 400}]}
    exc = error(400, body, method=method)
    assert type(exc) is IdNotFoundError
    assert isinstance(exc, NotFoundError)
    assert exc.status == 400


def test_a_400_that_names_a_missing_parent_on_a_create_stays_a_bad_request() -> None:
    """A create refused because a referenced id is unknown is the caller's mistake: BadRequestError."""
    body = {"errors": [{"code": "ValidationError", "detail": ["body.data_ops_id: data ops DOPS-1 not found"]}]}
    assert type(error(400, body, method="POST")) is BadRequestError


def test_a_406_no_such_version_names_the_operation_the_version_and_the_way_out() -> None:
    """406 NoSuchVersion is an UnsupportedVersionError saying what was sent and how to choose another version."""
    body = {"errors": [{"code": "NoSuchVersion", "detail": ["no such version"], "status": 406}]}
    exc = error(406, body, operation="create_service", api_version="1.2")
    assert type(exc) is UnsupportedVersionError
    assert (exc.operation, exc.api_version, exc.code) == ("create_service", "1.2", "NoSuchVersion")
    assert "create_service" in exc.message
    assert "'data-ops 1.2'" in exc.message
    assert "api_versions" in exc.message
    assert "no such version" in exc.message


def test_a_417_request_rejected_page_is_throttling_with_its_support_id() -> None:
    """The edge's 417 HTML "Request Rejected" page is a RequestRejectedError (a ThrottledError), retried."""
    page = b"<html><head><title>Request Rejected</title></head><body>Your support ID is: 1234567890</body></html>"
    exc = error(417, page, method="PUT")
    assert type(exc) is RequestRejectedError
    assert isinstance(exc, ThrottledError)
    assert "Support ID 1234567890" in exc.message
    assert 417 in DEFAULT_RETRYABLE_STATUSES


def test_a_password_in_an_error_body_is_masked() -> None:
    """`account_password` in an error body never reaches the error, whatever the envelope."""
    body = {"errors": [{"code": "V", "detail": ["bad"], "response": {"account": {"account_password": "s3cret!"}}}]}
    exc = error(400, body)
    assert "s3cret!" not in exc.body
    assert "s3cret!" not in str(exc)


AUTH_HINTS = [
    # (status, message, code, expected hint words, words that must not appear)
    (401, "token expired", None, "renew them", "clock"),
    (401, "The auth token has expired", "AUTH_FAILED", "SCP_AUTH_TOKEN", "clock"),
    (401, "Unauthorized", "TOKEN_EXPIRED", "temporary credentials have expired", "clock"),
    (401, "temporary credentials expired at 2026-01-01T00:00:00Z", None, "renew them", "clock"),
    (
        401,
        "Scp-Timestamp is out of range: 20.0 minutes behind",
        "AUTH_TIMESTAMP_OUT_OF_RANGE",
        "check your clock",
        "renew",
    ),
    (401, "request expired", None, "check your clock", "renew"),
    (401, "signature expired", None, "check your clock", "renew"),
    (401, "denied", "AUTH_CLOCK_SKEW", "check your clock", "renew"),
    (401, "X-Auth-Token is missing or does not match", "AUTH_INVALID_TOKEN", "auth token was refused", "clock"),
    (
        401,
        "Scp-Signature does not match the request (method, URL as sent, timestamp, access key)",
        "AUTH_INVALID_SIGNATURE",
        "check the access key, the secret key",
        "clock",
    ),
    (401, "invalid access key", None, "check the access key, the secret key", "clock"),
    (412, "signature mismatch", None, "check the secret key", "clock"),
]


@pytest.mark.parametrize(("status", "message", "code", "hint", "not_said"), AUTH_HINTS)
def test_the_auth_hint_follows_what_was_refused(
    status: int, message: str, code: str | None, hint: str, not_said: str
) -> None:
    """An expired token says renew the credentials, a request-time refusal says clock, anything else the keys."""
    body: dict[str, Any] = {"errors": [{"status": str(status), "detail": message}]}
    if code:
        body["errors"][0]["code"] = code
    exc = error(status, body, method="GET")
    assert isinstance(exc, AuthenticationError)
    said = exc.message.removeprefix(message)
    assert hint in said
    assert not_said not in said


def test_a_password_the_request_carried_is_masked_wherever_the_error_repeats_it() -> None:
    """Given the request's passwords, the message, details, body, code and request id show none of them."""
    secrets = secrets_in_body(orjson.dumps({"account": {"account_id": "a", "account_password": "Pw-9x"}}))
    body = {
        "errors": [
            {"code": "BAD_Pw-9x", "detail": ["rejected value [Pw-9x]", "{'account_password': 'Pw-9x'}"]},
        ],
        "requestId": "req-Pw-9x",
    }
    exc = error(400, body, secrets=secrets)
    shown = "\n".join(
        [str(exc), repr(exc), exc.message, exc.body, repr(exc.details), str(exc.code), str(exc.request_id)]
    )
    assert "Pw-9x" not in shown
    assert exc.message == "rejected value [***]; {'account_password': '***'}"
    text = error(502, b"upstream said: rejected value [Pw-9x]", secrets=secrets)
    assert text.message == "upstream said: rejected value [***]"


def test_a_password_key_is_masked_by_key_even_when_its_value_is_unknown() -> None:
    """With no known secrets, values after an account_password key are masked in JSON, repr and escaped JSON."""
    detail = [
        '{"account_password": "held-1"}',
        "{'account_password': 'held-2'}",
        'outer {\\"account_password\\": \\"held-3\\"} end',
        "account_password=held-4",
    ]
    exc = error(400, {"errors": [{"detail": detail}]})
    shown = str(exc) + exc.body + repr(exc.details)
    assert not [n for n in ("held-1", "held-2", "held-3", "held-4") if n in shown]
    assert "end" in exc.message


def test_a_field_named_account_password_in_prose_keeps_the_reason() -> None:
    """'account.account_password: too short' names a field, not a value: the reason stays readable."""
    items = [{"loc": ["body", "account", "account_password"], "msg": "String should have at least 8 characters"}]
    assert error(422, {"detail": items}).message == (
        "body.account.account_password: String should have at least 8 characters"
    )
