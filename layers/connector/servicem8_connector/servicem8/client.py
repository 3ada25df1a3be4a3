"""One httpx client for ServiceM8's REST API and webhook subscriptions.

What it promises (FACTS.md §2, §4):
- retries 429-per-minute and 5xx with exponential backoff and full jitter,
  honouring ``Retry-After``; never hot-retries the per-day quota;
- refreshes the token once on a 401, then gives up with ``ReconnectRequired``;
- creates with a uuid it chose, so a retried create cannot make a duplicate;
- treats an unreadable answer to a write as ``OutcomeUnknown``, never success;
- lists as a stream of records, page after page (``x-next-cursor``): a page is read
  whole into a spool file, then parsed one record at a time, never held parsed.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import time
import uuid as uuid_lib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import httpx

from servicem8_connector.servicem8.errors import (
    OutcomeUnknown,
    ReconnectRequired,
    RetryLater,
    ServiceM8Error,
    SubscriptionRefused,
    error_for_response,
)
from servicem8_connector.servicem8.filters import Filter
from servicem8_connector.servicem8.jsonstream import NotAnArray, array_items

REST_PREFIX = "/api_1.0"
# httpx logs every request URL at INFO; webhook URLs carry route tokens, so keep it quiet.
logging.getLogger("httpx").setLevel(logging.WARNING)
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for transient failures; sized to fit inside a 29 s API Gateway call."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


def new_http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The shared transport: explicit timeouts, no redirects followed silently."""
    return httpx.Client(timeout=DEFAULT_TIMEOUT, transport=transport, follow_redirects=False)


class ServiceM8Client:
    """ServiceM8 on behalf of one connected account.

    Args:
        http: the httpx client (inject a transport in tests).
        api_url: host root, e.g. ``https://api.servicem8.com``.
        access_token: returns a valid access token; called before each request.
        refresh: forces a token refresh after a 401; None means no second chance.
        spend_budget: called before each request to take one call from the
            account's rate budget; raises ``RetryLater`` when it is spent.
        on_error: told of every failed attempt (metrics), retried or not.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        api_url: str,
        access_token: Callable[[], str],
        refresh: Callable[[], None] | None = None,
        spend_budget: Callable[[], None] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_error: Callable[[ServiceM8Error], None] | None = None,
    ) -> None:
        self._http = http
        self._api_url = api_url.rstrip("/")
        self._access_token = access_token
        self._refresh = refresh
        self._spend_budget = spend_budget
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_error = on_error

    # --- records -------------------------------------------------------------
    def get(self, object_name: str, record_uuid: str) -> dict[str, Any]:
        response = self._send("GET", f"{REST_PREFIX}/{object_name}/{record_uuid}.json")
        return _json_object(response)

    def create(self, object_name: str, fields: Mapping[str, Any]) -> str:
        """Create a record and return its uuid; the uuid is ours unless given."""
        body = dict(fields)
        body.setdefault("uuid", str(uuid_lib.uuid4()))
        response = self._send("POST", f"{REST_PREFIX}/{object_name}.json", json=body)
        created = response.headers.get("x-record-uuid")
        if created:
            return str(created)
        _write_acknowledged(response)
        return str(body["uuid"])

    def update(self, object_name: str, record_uuid: str, fields: Mapping[str, Any]) -> None:
        path = f"{REST_PREFIX}/{object_name}/{record_uuid}.json"
        _write_acknowledged(self._send("POST", path, json=dict(fields)))

    def delete(self, object_name: str, record_uuid: str) -> None:
        path = f"{REST_PREFIX}/{object_name}/{record_uuid}.json"
        _write_acknowledged(self._send("DELETE", path))

    def records(
        self,
        object_name: str,
        record_filter: Filter | None = None,
        *,
        before_page: Callable[[], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record, following ``x-next-cursor``; one parsed record is held at a time
        (a 5,000-row page is ~7 MB of JSON, ~40 MB parsed).

        ``before_page`` runs before each page is asked for (a caller's call budget).
        Each page is read in full (into a spool file past 1 MB) before its records are
        handed out, so a slow caller (backfill classifies as it goes) never keeps
        ServiceM8's connection waiting, and a page that breaks off yields nothing.
        """
        params: dict[str, str] = {"cursor": "-1"}
        if record_filter is not None and record_filter.terms:
            params["$filter"] = record_filter.render()
        seen: set[str] = set()
        while True:
            if before_page is not None:
                before_page()
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as page:
                cursor = self._read_page(object_name, params, page)
                page.seek(0)
                yield from _page_records(iter(lambda: page.read(PARSE_CHUNK_BYTES), b""))
            if not cursor or cursor in seen:
                return
            seen.add(cursor)
            params["cursor"] = cursor

    def _read_page(self, object_name: str, params: dict[str, str], page: IO[bytes]) -> str | None:
        """Write one page's body into ``page``; returns its ``x-next-cursor``."""
        response = self._send("GET", f"{REST_PREFIX}/{object_name}.json", params=params,
                              stream=True)
        try:
            for chunk in response.iter_bytes(PARSE_CHUNK_BYTES):
                page.write(chunk)
        except httpx.TransportError as exc:
            raise RetryLater("ServiceM8's list answer broke off", status=502) from exc
        finally:
            response.close()
        cursor = response.headers.get("x-next-cursor")
        return str(cursor) if cursor else None

    def vendor(self) -> dict[str, Any]:
        """The account record; its uuid is the ServiceM8 account uuid (FACTS §1.6)."""
        response = self._send("GET", f"{REST_PREFIX}/vendor.json")
        body = _json_any(response)
        if isinstance(body, list) and body and isinstance(body[0], dict):
            return body[0]
        if isinstance(body, dict) and body.get("uuid"):
            return body
        raise RetryLater("vendor.json answered without an account record", status=502)

    # --- webhook subscriptions (host root, form-encoded: FACTS §4.1) ----------
    def subscribe_event(self, event: str, callback_url: str, unique_id: str) -> None:
        form = {"event": event, "callback_url": callback_url, "unique_id": unique_id}
        _subscription_acknowledged(self._send("POST", "/webhook_subscriptions/event", data=form))

    def subscribe_object(
        self, object_name: str, fields: list[str], callback_url: str, unique_id: str
    ) -> None:
        form = {
            "object": object_name,
            "fields": ",".join(fields),
            "callback_url": callback_url,
            "unique_id": unique_id,
        }
        response = self._send("POST", "/webhook_subscriptions/object", data=form)
        _subscription_acknowledged(response)

    def subscriptions(self) -> list[dict[str, Any]]:
        return _json_list(self._send("GET", "/webhook_subscriptions"))

    def unsubscribe(self, form: Mapping[str, str]) -> None:
        """Delete one: ``{"object": …}``, or ``{"event": …, "callback_url": …}``."""
        response = self._send("DELETE", "/webhook_subscriptions", data=dict(form))
        _subscription_acknowledged(response)

    # --- transport -------------------------------------------------------------
    def _send(
        self, method: str, path: str, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """The answer to a successful request; with ``stream``, its body is still to read."""
        refreshed = False
        attempt = 0
        while True:
            # The token first: a connection that must reconnect fails here, before it
            # spends (or waits for) any of the account's rate budget.
            headers = self._headers()
            if self._spend_budget is not None:
                self._spend_budget()
            try:
                request = self._http.build_request(
                    method, self._api_url + path, headers=headers, **kwargs
                )
                response = self._http.send(request, stream=stream)
                if response.is_success:
                    return response
                response.read()
                response.close()
                error = _classify(response)
            except httpx.TransportError as exc:
                error = RetryLater(f"ServiceM8 did not answer: {type(exc).__name__}")
            if self._on_error is not None:
                self._on_error(error)
            if isinstance(error, ReconnectRequired) and not refreshed and self._refresh:
                refreshed = True
                self._refresh()
                continue
            if not isinstance(error, RetryLater) or attempt + 1 >= self._retry.attempts:
                raise error
            wait = self._retry.delay(attempt, error.retry_after)
            if wait > self._retry.max_delay:
                raise error
            attempt += 1
            self._sleep(wait)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token()}", "Accept": "application/json"}


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return "html" in content_type or response.text.lstrip()[:1] == "<"


def _classify(response: httpx.Response) -> ServiceM8Error:
    if _is_html(response) and response.status_code not in (401, 402, 403, 404):
        # An HTML page is an edge or proxy talking, not ServiceM8's API.
        return RetryLater(f"HTML answer with status {response.status_code}", status=502)
    return error_for_response(response)


def _json_any(response: httpx.Response) -> Any:
    try:
        return json.loads(response.text)
    except ValueError as exc:
        raise RetryLater("ServiceM8 answered with an unreadable body", status=502) from exc


def _json_object(response: httpx.Response) -> dict[str, Any]:
    body = _json_any(response)
    if not isinstance(body, dict):
        raise RetryLater("ServiceM8 answered with something other than a record", status=502)
    return body


def _json_list(response: httpx.Response) -> list[dict[str, Any]]:
    body = _json_any(response)
    if not isinstance(body, list):
        raise RetryLater("ServiceM8 answered a list call with something else", status=502)
    return body


PARSE_CHUNK_BYTES = 64 * 1024
SPOOL_IN_MEMORY_BYTES = 1024 * 1024


def _page_records(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The records of one page's JSON array, parsed one by one."""
    try:
        for item in array_items(chunks):
            if not isinstance(item, dict):
                raise NotAnArray("an item of the list is not a record")
            yield item
    except NotAnArray as exc:
        raise RetryLater("ServiceM8 answered a list call with something else",
                         status=502) from exc
    except ValueError as exc:  # BrokenArray, and numbers past Python's digit limit
        raise RetryLater("ServiceM8's list answer broke off or is unreadable",
                         status=502) from exc


def _write_acknowledged(response: httpx.Response) -> None:
    """A write counts only when ServiceM8's own result body says so (FACTS §2.2)."""
    try:
        body = json.loads(response.text)
    except ValueError as exc:
        raise OutcomeUnknown("the write got an unreadable answer", status=502) from exc
    if not isinstance(body, dict) or str(body.get("errorCode", "0")) != "0":
        raise OutcomeUnknown("the write got an answer that is not ServiceM8's result")


def _subscription_acknowledged(response: httpx.Response) -> None:
    try:
        body = json.loads(response.text)
    except ValueError:
        body = None
    if isinstance(body, list):
        return
    if not isinstance(body, dict) or body.get("success") is False:
        message = body.get("message") if isinstance(body, dict) else response.text[:200]
        raise SubscriptionRefused(str(message or "subscription refused"))

