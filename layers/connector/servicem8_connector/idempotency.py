"""Creates made safe to repeat, with Powertools Idempotency.

A create that carries an ``Idempotency-Key`` runs once per (connection,
resource, key) for 24 hours: a repeat with the same body gets the first
answer back without a second ServiceM8 call, a repeat with another body is
refused, and a repeat while the first is still running gets 409. The record
also gets a uuid derived from the key, so even a repeat after the 24 hours (or
after the first call crashed mid-way) names the same ServiceM8 record instead
of creating a second one.
"""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from servicem8_connector.problems import Problem

IDEMPOTENCY_NAMESPACE = uuid_lib.UUID("5d0a4c1e-3c39-4b8e-9a4f-0f3f6e3c8a11")
REMEMBER_SECONDS = 24 * 3600
Create = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def record_uuid_for(connection_id: str, resource: str, idempotency_key: str) -> str:
    """The same key always names the same record, per connection and resource."""
    name = f"{connection_id}\n{resource}\n{idempotency_key}"
    return str(uuid_lib.uuid5(IDEMPOTENCY_NAMESPACE, name))


class IdempotentCreates:
    """Runs ``create(connection_id, resource, fields)`` at most once per key."""

    def __init__(self, create: Create, *, dynamodb: Any, table: str) -> None:
        self._create = create
        # The connector's own table: items IDEMPOTENCY#create / <hash>, TTL expires_at.
        persistence = DynamoDBPersistenceLayer(
            table_name=table,
            key_attr="pk",
            sort_key_attr="sk",
            static_pk_value="IDEMPOTENCY#create",
            expiry_attr="expires_at",
            boto3_client=dynamodb,
        )
        self._config = config = IdempotencyConfig(
            event_key_jmespath="[connection_id, resource, key]",
            payload_validation_jmespath="fields",
            expires_after_seconds=REMEMBER_SECONDS,
        )
        self._once = idempotent_function(
            data_keyword_argument="request", persistence_store=persistence, config=config
        )(self._run)

    def register_lambda_context(self, context: Any) -> None:
        """Lets an interrupted create expire with the Lambda invocation, not after 24 h."""
        self._config.register_lambda_context(context)

    def create(
        self, connection_id: str, resource: str, key: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        request = {"connection_id": connection_id, "resource": resource, "key": key,
                   "fields": fields}
        try:
            answer: dict[str, Any] = self._once(request=request)
        except IdempotencyAlreadyInProgressError as error:
            raise Problem(409, "request-in-progress", "Request in progress",
                          "a create with this Idempotency-Key is still running; "
                          "repeat it in a moment") from error
        except IdempotencyValidationError as error:
            raise Problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                          "this Idempotency-Key was used with a different body") from error
        return answer

    def _run(self, request: dict[str, Any]) -> dict[str, Any]:
        fields = {**request["fields"], "uuid": record_uuid_for(
            request["connection_id"], request["resource"], request["key"])}
        return self._create(request["connection_id"], request["resource"], fields)
