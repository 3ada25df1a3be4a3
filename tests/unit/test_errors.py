"""Every ServiceM8 error answer sorts into the class that says what to do."""

from __future__ import annotations

import httpx
import pytest

from servicem8_connector.servicem8 import errors


def answer(status: int, body: str, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, "Number of allowed API requests per minute exceeded", errors.RetryLater),
        (429, "Number of allowed API requests per day exceeded", errors.QuotaExhausted),
        (500, '{"errorCode":1000,"message":"An error occurred"}', errors.RetryLater),
        (503, "Service Unavailable", errors.RetryLater),
        (401, '{"errorCode":401,"message":"Invalid OAuth token"}', errors.ReconnectRequired),
        (402, '{"errorCode":402,"message":"Payment Required"}', errors.AccountSuspended),
        (404, '{"errorCode":"404","message":"Resource not found."}', errors.RecordNotFound),
        (400, '{"errorCode":400,"message":"name is required"}', errors.RejectedByServiceM8),
    ],
    ids=["429-minute", "429-day", "500", "503", "401", "402", "404", "400"],
)
def test_error_for_response_sorts_by_what_to_do(
    status: int, body: str, expected: type[errors.ServiceM8Error]
) -> None:
    assert type(errors.error_for_response(answer(status, body))) is expected


def test_missing_scope_names_the_scope_from_additional_details() -> None:
    body = ('{"errorCode":403,"message":"insufficient_scope",'
            '"additionalDetails":"\\"read_customer_contacts\\" scope required to complete"}')
    error = errors.error_for_response(answer(403, body))
    assert isinstance(error, errors.MissingScope)
    assert error.required_scope == "read_customer_contacts"


def test_missing_scope_from_plain_text_body() -> None:
    error = errors.error_for_response(
        answer(403, "read_customer_contacts scope required", "text/plain")
    )
    assert isinstance(error, errors.MissingScope)
    assert error.required_scope == "read_customer_contacts"


def test_missing_scope_without_a_name_leaves_it_out() -> None:
    error = errors.error_for_response(answer(403, '{"message":"insufficient_scope"}'))
    assert isinstance(error, errors.MissingScope)
    assert error.required_scope is None


def test_retry_after_header_is_read() -> None:
    response = httpx.Response(429, text="Number of allowed API requests per minute exceeded",
                              headers={"retry-after": "7"})
    error = errors.error_for_response(response)
    assert isinstance(error, errors.RetryLater)
    assert error.retry_after == 7.0
