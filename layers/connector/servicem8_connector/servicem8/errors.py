"""Errors named for what the caller should do about them.

ServiceM8 answers with a handful of statuses (FACTS.md §2.3, §2.6); each is
sorted once, in :func:`error_for_response`, into one of these classes.
"""

from __future__ import annotations

import json
import re

import httpx

_SCOPE_PATTERN = re.compile(r'"?([a-z_]+)"? scope required')
_DAY_QUOTA_TEXT = "per day exceeded"
MAX_DETAIL_CHARS = 500


class ServiceM8Error(Exception):
    """Base of every error raised for a ServiceM8 answer or transport failure."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RetryLater(ServiceM8Error):
    """Transient: 429 per minute, 5xx, timeouts. Retry after ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class QuotaExhausted(ServiceM8Error):
    """The account's 20,000 calls a day are spent: no hot retry, wait for tomorrow."""


class ReconnectRequired(ServiceM8Error):
    """The grant is gone (401 after refresh, invalid_grant): the user must reconnect."""


class MissingScope(ServiceM8Error):
    """403 insufficient_scope: reconnecting with the scope named is the only cure."""

    def __init__(self, message: str, *, required_scope: str | None = None) -> None:
        super().__init__(message, status=403)
        self.required_scope = required_scope


class AccountSuspended(ServiceM8Error):
    """402: the ServiceM8 account is not in good standing; not a re-auth case."""


class RecordNotFound(ServiceM8Error):
    """404 for the record asked for."""


class RejectedByServiceM8(ServiceM8Error):
    """400 validation failure: the request itself is wrong; retrying will not help."""


class OutcomeUnknown(ServiceM8Error):
    """A write got an answer we cannot read: it may or may not have happened."""


class SubscriptionRefused(ServiceM8Error):
    """ServiceM8 said no to a subscription call; ``message`` quotes its reason."""


def _details(response: httpx.Response) -> tuple[str, str | None]:
    """The message and additionalDetails of a ServiceM8 error body, cut short."""
    text = response.text[:MAX_DETAIL_CHARS]
    try:
        body = json.loads(response.text)
    except ValueError:
        return text.strip(), None
    if not isinstance(body, dict):
        return text.strip(), None
    message = str(body.get("message") or body.get("error") or text).strip()
    extra = body.get("additionalDetails") or body.get("error_description")
    return message[:MAX_DETAIL_CHARS], (str(extra)[:MAX_DETAIL_CHARS] if extra else None)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_for_response(response: httpx.Response) -> ServiceM8Error:
    """Sort a non-2xx ServiceM8 answer into the error class that says what to do."""
    status = response.status_code
    message, extra = _details(response)
    described = f"{message}: {extra}" if extra else message
    if status == 429:
        if _DAY_QUOTA_TEXT in response.text:
            return QuotaExhausted(described, status=status)
        return RetryLater(described, status=status, retry_after=_retry_after(response))
    if status >= 500:
        return RetryLater(described, status=status, retry_after=_retry_after(response))
    if status == 401:
        return ReconnectRequired(described, status=status)
    if status == 402:
        return AccountSuspended(described, status=status)
    if status == 403:
        found = _SCOPE_PATTERN.search(extra or message)
        return MissingScope(described, required_scope=found.group(1) if found else None)
    if status == 404:
        return RecordNotFound(described, status=status)
    return RejectedByServiceM8(described, status=status)
