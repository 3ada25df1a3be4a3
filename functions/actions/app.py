"""The ten actions on a connection's ServiceM8 clients and jobs."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from servicem8_connector import actions, runtime, settings, tokens  # noqa: F401 - every request
from servicem8_connector.access import require_api_key
from servicem8_connector.api_routes import (
    CONNECTION_ID,
    RECORD_UUID,
    ActionAnswer,
    DeletedAnswer,
    ListAnswer,
    UpdatedAnswer,
)
from servicem8_connector.http_api import install_problem_handlers, refuse_unknown_query
from servicem8_connector.records import ClientCreate, ClientUpdate, JobCreate, JobUpdate
from servicem8_connector.servicem8.filters import Filter

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
install_problem_handlers(app)

LIST_PARAMETERS = {"filter", "include_inactive"}
ConnectionId = Annotated[str, Path(pattern=CONNECTION_ID, description="Connection id")]
RecordUuid = Annotated[str, Path(pattern=RECORD_UUID, description="ServiceM8 record uuid")]
FilterText = Annotated[
    str | None,
    Query(alias="filter", max_length=2000,
          description="ServiceM8 $filter syntax, e.g. status eq 'Quote' (encoded for you)"),
]
IncludeInactive = Annotated[
    bool, Query(description="Include soft-deleted records (active = 0)")
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="idempotency-key", max_length=200,
           description="Repeat a create safely: the same key creates the same record"),
]


def _created(answer: dict[str, Any], resource: str, connection_id: str) -> Response[Any]:
    location = f"/connections/{connection_id}/{resource}/{answer['uuid']}"
    return Response(status_code=201, body=answer, headers={"Location": location},
                    content_type="application/json")


def _filter(text: str | None) -> Filter | None:
    refuse_unknown_query(app.current_event.query_string_parameters, LIST_PARAMETERS)
    return Filter.parse(text) if text else None


@app.post("/connections/<connection_id>/clients", responses={201: {"description": "Created"}})
def create_client(
    connection_id: ConnectionId, body: Annotated[ClientCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[ActionAnswer]:
    answer = runtime.actions().create(connection_id, "clients", body, idempotency_key)
    return _created(answer, "clients", connection_id)


@app.get("/connections/<connection_id>/clients")
def list_clients(
    connection_id: ConnectionId, filter_text: FilterText = None,
    include_inactive: IncludeInactive = False,
) -> ListAnswer:
    return ListAnswer.model_validate(
        runtime.actions().list(connection_id, "clients", _filter(filter_text), include_inactive)
    )


@app.get("/connections/<connection_id>/clients/<uuid>")
def retrieve_client(connection_id: ConnectionId, uuid: RecordUuid) -> dict[str, Any]:
    return runtime.actions().retrieve(connection_id, "clients", uuid)


@app.patch("/connections/<connection_id>/clients/<uuid>")
def update_client(
    connection_id: ConnectionId, uuid: RecordUuid, body: Annotated[ClientUpdate, Body()]
) -> UpdatedAnswer:
    return UpdatedAnswer.model_validate(
        runtime.actions().update(connection_id, "clients", uuid, body)
    )


@app.delete("/connections/<connection_id>/clients/<uuid>")
def delete_client(connection_id: ConnectionId, uuid: RecordUuid) -> DeletedAnswer:
    return DeletedAnswer.model_validate(runtime.actions().delete(connection_id, "clients", uuid))


@app.post("/connections/<connection_id>/jobs", responses={201: {"description": "Created"}})
def create_job(
    connection_id: ConnectionId, body: Annotated[JobCreate, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[ActionAnswer]:
    answer = runtime.actions().create(connection_id, "jobs", body, idempotency_key)
    return _created(answer, "jobs", connection_id)


@app.get("/connections/<connection_id>/jobs")
def list_jobs(
    connection_id: ConnectionId, filter_text: FilterText = None,
    include_inactive: IncludeInactive = False,
) -> ListAnswer:
    return ListAnswer.model_validate(
        runtime.actions().list(connection_id, "jobs", _filter(filter_text), include_inactive)
    )


@app.get("/connections/<connection_id>/jobs/<uuid>")
def retrieve_job(connection_id: ConnectionId, uuid: RecordUuid) -> dict[str, Any]:
    return runtime.actions().retrieve(connection_id, "jobs", uuid)


@app.patch("/connections/<connection_id>/jobs/<uuid>")
def update_job(
    connection_id: ConnectionId, uuid: RecordUuid, body: Annotated[JobUpdate, Body()]
) -> UpdatedAnswer:
    return UpdatedAnswer.model_validate(
        runtime.actions().update(connection_id, "jobs", uuid, body)
    )


@app.delete("/connections/<connection_id>/jobs/<uuid>")
def delete_job(connection_id: ConnectionId, uuid: RecordUuid) -> DeletedAnswer:
    return DeletedAnswer.model_validate(runtime.actions().delete(connection_id, "jobs", uuid))


@require_api_key(runtime.access)
def _authorized(event: dict, context: LambdaContext) -> dict:
    runtime.actions().register_lambda_context(context)
    return app.resolve(event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    metrics.add_metric("ActionRequests", MetricUnit.Count, 1)
    return _authorized(event, context)
