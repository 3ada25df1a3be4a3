"""One rate budget per ServiceM8 account, shared by every Lambda that calls it.

ServiceM8 allows 180 calls a minute per app and account (FACTS.md §2.6) and
counts a rolling minute. The budget counts fixed 10-second windows in
DynamoDB: with 25 calls a window, any 60 seconds overlap at most 7 windows,
so no rolling minute can see more than 175 calls, and a steady caller still
gets 150 a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from servicem8_connector.dynamo import is_condition_failure, to_item
from servicem8_connector.servicem8.errors import RetryLater

WINDOW_SECONDS = 10
CALLS_PER_WINDOW = 25


class RateBudget:
    """Takes one call from an account's budget, waiting up to ``max_wait`` for room."""

    def __init__(
        self,
        dynamodb: Any,
        *,
        table: str,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 12.0,
        calls_per_window: int = CALLS_PER_WINDOW,
        window_seconds: int = WINDOW_SECONDS,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._now = now
        self._sleep = sleep
        self._max_wait = max_wait
        self._limit = calls_per_window
        self._window = window_seconds

    def spend(self, account_uuid: str) -> None:
        waited = 0.0
        while True:
            now = self._now()
            window = int(now // self._window) * self._window
            if self._take(account_uuid, window):
                return
            wait = window + self._window - now + 0.01
            if waited + wait > self._max_wait:
                raise RetryLater("this account's ServiceM8 call budget is spent for now",
                                 retry_after=wait)
            self._sleep(wait)
            waited += wait

    def _take(self, account_uuid: str, window: int) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"pk": f"RATE#{account_uuid}", "sk": str(window)}),
                UpdateExpression="ADD calls :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(calls) OR calls < :limit",
                ExpressionAttributeValues=to_item(
                    {":one": 1, ":limit": self._limit, ":expires": window + 3600}
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
