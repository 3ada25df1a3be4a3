"""The runner against the fixture project: provisioning, gateway, SQS, EventBridge, schedules."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from local.runner import LocalStack

V2_KEYS = {
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "pathParameters",
    "isBase64Encoded",
}
CONTEXT_KEYS = {
    "accountId",
    "apiId",
    "domainName",
    "domainPrefix",
    "http",
    "requestId",
    "routeKey",
    "stage",
    "time",
    "timeEpoch",
}


@pytest.fixture
def http(stack: LocalStack) -> httpx.Client:
    transport = httpx.WSGITransport(app=stack.wsgi_app)
    return httpx.Client(transport=transport, base_url="http://testserver")


def scan(stack: LocalStack, prefix: str) -> dict[str, dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.physical_id("Table"))["Items"]
    return {i["pk"]["S"]: i for i in items if i["pk"]["S"].startswith(prefix)}


def test_provisions_resources_from_the_template(stack: LocalStack) -> None:
    ddb, sqs = stack.client("dynamodb"), stack.client("sqs")
    table = stack.physical_id("Table")
    assert table == "fixture-stack-Table"
    desc = ddb.describe_table(TableName=table)["Table"]
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert desc["GlobalSecondaryIndexes"][0]["IndexName"] == "by-gsi1"
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    attrs = sqs.get_queue_attributes(
        QueueUrl=stack.physical_id("WorkQueue"), AttributeNames=["All"]
    )["Attributes"]
    assert attrs["VisibilityTimeout"] == "1"
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.attribute("WorkDLQ", "Arn"),
        "maxReceiveCount": 2,
    }
    assert stack.attribute("WorkQueue", "QueueUrl") == stack.physical_id("WorkQueue")
    assert stack.attribute("WorkQueue", "QueueName") == "fixture-stack-WorkQueue"
    events = stack.client("events")
    assert events.describe_event_bus(Name="fixture-stack-bus")["Arn"] == stack.attribute(
        "Bus", "Arn"
    )
    rule = stack.physical_id("Rule")
    targets = events.list_targets_by_rule(Rule=rule, EventBusName="fixture-stack-bus")
    assert targets["Targets"][0]["Arn"] == stack.attribute("EventsQueue", "Arn")
    kms = stack.client("kms")
    key = kms.describe_key(KeyId=stack.physical_id("Key"))["KeyMetadata"]
    assert key["Arn"] == stack.attribute("Key", "Arn")
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    aliases = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/fixture-stack"]
    secrets = stack.client("secretsmanager")
    value = secrets.get_secret_value(SecretId=stack.physical_id("Secret"))["SecretString"]
    assert json.loads(value) == {"token": "dev-token"}
    generated = json.loads(
        secrets.get_secret_value(SecretId=stack.physical_id("GeneratedSecret"))["SecretString"]
    )
    assert generated["user"] == "app"
    assert len(generated["password"]) == 24
    assert "ProdOnlyQueue" not in stack.provisioner.records  # Condition IsProd is false
    assert stack.skipped.keys() == {"Alarm", "Logs"}
    assert stack.physical_id("HttpApi") == "localapi"


def test_function_env_merges_globals_and_resolves_intrinsics(stack: LocalStack) -> None:
    env = stack.function_env("EchoFunction")
    assert env["TABLE_NAME"] == "fixture-stack-Table"
    assert env["WORK_QUEUE_URL"] == stack.physical_id("WorkQueue")
    assert env["BUS_ARN"] == stack.attribute("Bus", "Arn")
    assert env["KEY_ARN"] == stack.attribute("Key", "Arn")
    assert env["SECRET_ARN"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:")
    assert env["STACK_LABEL"] == "fixture-stack/dev/123456789012/aws"
    assert env["LITERAL"] == "${NotAVar}-x"
    assert env["SUB_LIST"] == "dev-us-east-1"
    assert (env["MODE"], env["EITHER"], env["BOTH"]) == ("development", "no", "yes")
    assert "OPTIONAL" not in env  # AWS::NoValue removes the key
    assert env["JOINED"] == "a:y"
    assert env["RETENTION"] == "4"
    assert env["PUBLIC_BASE_URL"] == "https://localapi.execute-api.us-east-1.amazonaws.com"
    assert env["ONLY_ECHO"] == "echo-only"
    assert "ONLY_ECHO" not in stack.function_env("BoomFunction")
    assert stack.functions["EchoFunction"].memory == 256  # FindInMap in Globals
    assert stack.functions["EchoFunction"].timeout == 7


def test_v2_event_shape_and_response_mapping(stack: LocalStack, http: httpx.Client) -> None:
    response = http.get(
        "/items/42?a=1&a=2&b=x%20y&empty=",
        headers={"X-Repeat": "one", "User-Agent": "tests", "Cookie": "c1=v1; c2=v2"},
    )
    assert response.status_code == 200
    assert response.headers.get_list("x-multi") == ["one", "two"]
    assert response.headers.get_list("set-cookie") == ["session=abc; Path=/", "theme=dark"]
    assert response.headers["x-function"] == "fixture-stack-EchoFunction"
    payload = response.json()
    event = payload["event"]
    assert set(event) == V2_KEYS
    assert set(event["requestContext"]) == CONTEXT_KEYS
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /items/{item_id}"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert sorted(event["cookies"]) == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-repeat"] == "one"
    assert event["headers"]["user-agent"] == "tests"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["http"] == {
        "method": "GET",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests",
    }
    parsed = APIGatewayProxyEventV2(event)
    assert parsed.path == "/items/42"
    assert parsed.path_parameters == {"item_id": "42"}
    assert parsed.request_context.http.method == "GET"
    assert parsed.get_query_string_value("b") == "x y"
    APIGatewayProxyEventV2Model.model_validate(event)
    known = {f.alias or n for n, f in APIGatewayProxyEventV2Model.model_fields.items()}
    assert set(event) <= known
    assert known - set(event) <= {"stageVariables", "body"}
    assert payload["greeting"] == "hello from the layer"
    assert payload["import_env"] == {
        "TABLE_NAME": "fixture-stack-Table",
        "ONLY_ECHO": "echo-only",
        "AWS_LAMBDA_FUNCTION_NAME": "fixture-stack-EchoFunction",
        "POWERTOOLS_SERVICE_NAME": "fixture",
    }
    ctx = payload["context"]
    assert ctx["function_version"] == "$LATEST"
    assert ctx["memory_limit_in_mb"] == 256
    assert ctx["invoked_function_arn"].endswith(":function:fixture-stack-EchoFunction")
    assert ctx["log_group_name"] == "/aws/lambda/fixture-stack-EchoFunction"
    assert 6000 < ctx["remaining"] <= 7000


def test_bodies_text_and_base64(http: httpx.Client) -> None:
    event = http.post("/echo", json={"k": "v"}).json()["event"]
    assert event["routeKey"] == "ANY /echo"
    assert (event["body"], event["isBase64Encoded"]) == ('{"k":"v"}', False)
    assert "pathParameters" not in event
    assert "queryStringParameters" not in event
    raw = bytes(range(256))
    event = http.put(
        "/echo", content=raw, headers={"content-type": "application/octet-stream"}
    ).json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    event = http.get("/files/a/b%20c.txt").json()["event"]
    assert event["pathParameters"] == {"proxy": "a/b c.txt"}
    assert event["rawPath"] == "/files/a/b%20c.txt"
    binary = http.get("/echo?mode=binary")
    assert binary.status_code == 201
    assert binary.content == b"\x00\x01binary"
    plain = http.get("/echo?mode=plain")
    assert plain.status_code == 200
    assert plain.json() == {"plain": True}
    assert plain.headers["content-type"] == "application/json"


def test_route_precedence_404_and_500(
    http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    special = http.get("/items/special")
    assert special.status_code == 200
    assert special.json() == "special"
    for method, path in [("GET", "/nope"), ("DELETE", "/items/1"), ("GET", "/items/1/x")]:
        missing = http.request(method, path)
        assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    boom = http.post("/boom")
    assert (boom.status_code, boom.json()) == (500, {"message": "Internal Server Error"})
    assert "boom on purpose" in capsys.readouterr().err


def test_powertools_resolver_routes_the_event(http: httpx.Client) -> None:
    got = http.get("/pt/users/u1?x=1", headers={"Cookie": "a=b"})
    assert got.status_code == 200
    assert got.json() == {"user_id": "u1", "q": {"x": "1"}, "cookies": ["a=b"], "method": "GET"}
    form = http.post("/pt/form", data={"f": "1"})
    assert form.json() == {"decoded": "f=1", "b64": True}
    assert http.get("/pt/unknown").status_code == 404


def test_real_port_and_concurrent_handlers(stack: LocalStack) -> None:
    results: list[int] = []

    def call() -> None:
        results.append(httpx.get(f"{stack.api_url}/slow", timeout=10).status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200, 200, 200]
    assert time.monotonic() - started < 1.5  # three 0.6 s handlers ran side by side


def test_handler_writes_to_the_table(stack: LocalStack, http: httpx.Client) -> None:
    assert http.put("/things/7", json={"name": "seven"}).status_code == 204
    assert scan(stack, "thing#")["thing#7"]["name"] == {"S": "seven"}


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Redelivery waits out a visibility timeout; on a busy machine drain() can see an
    empty queue while a message is still invisible, so poll for the outcome itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.2)


def _seen(stack: LocalStack, prefix: str) -> dict[str, int]:
    return {k: int(v["seen"]["N"]) for k, v in scan(stack, prefix).items()}


def test_sqs_partial_batch_failure_then_dlq(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=stack.physical_id("WorkQueue"), MessageBody=body)
    stack.drain(timeout=15)
    _eventually(lambda: _seen(stack, "work#").get("work#fail-1") == 2)
    seen = _seen(stack, "work#")
    # maxReceiveCount 2: the failed message is delivered twice, then moved to the DLQ
    assert seen == {"work#ok-1": 1, "work#ok-2": 1, "work#fail-1": 2}
    dlq: dict[str, Any] = {}
    for _ in range(20):  # the move to the DLQ happens on the next receive
        dlq = sqs.receive_message(QueueUrl=stack.physical_id("WorkDLQ"), WaitTimeSeconds=1)
        if dlq.get("Messages"):
            break
    assert [m["Body"] for m in dlq["Messages"]] == ["fail-1"]
    sqs.delete_message(
        QueueUrl=stack.physical_id("WorkDLQ"), ReceiptHandle=dlq["Messages"][0]["ReceiptHandle"]
    )


def test_sqs_raising_handler_deletes_nothing(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.physical_id("WorkQueue"), MessageBody="raise-1")
    stack.drain(timeout=15)
    _eventually(lambda: _seen(stack, "work#raise").get("work#raise-1") == 2)
    assert _seen(stack, "work#raise")["work#raise-1"] == 2
    dlq: dict[str, Any] = {}
    for _ in range(20):  # the move to the DLQ happens on the next receive
        dlq = sqs.receive_message(QueueUrl=stack.physical_id("WorkDLQ"), WaitTimeSeconds=1)
        if dlq.get("Messages"):
            break
    assert [m["Body"] for m in dlq["Messages"]] == ["raise-1"]


def test_eventbridge_rule_delivers_to_sqs_fed_function(stack: LocalStack) -> None:
    bus = stack.physical_id("Bus")
    result = stack.client("events").put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "fixture.app",
                "DetailType": "thing.created",
                "Detail": json.dumps({"id": 1}),
            },
            {"EventBusName": bus, "Source": "someone.else", "DetailType": "x", "Detail": "{}"},
        ]
    )
    assert result["FailedEntryCount"] == 0
    stack.drain(timeout=10)
    bodies = [json.loads(i["body"]["S"]) for i in scan(stack, "event#").values()]
    assert len(bodies) == 1
    envelope = bodies[0]
    assert envelope["source"] == "fixture.app"
    assert envelope["detail"] == {"id": 1}
    assert envelope["account"] == "123456789012"  # added by the runner; moto leaves it out


def test_schedules_and_direct_invoke(stack: LocalStack) -> None:
    hourly = stack.invoke_schedule("TimerFunction")
    assert hourly["source"] == "aws.scheduler"
    assert hourly["detail-type"] == "Scheduled Event"
    assert hourly["resources"][0].startswith("arn:aws:scheduler:us-east-1:123456789012:")
    assert stack.invoke_schedule("TimerFunction", "Nightly") == {"job": "nightly"}
    assert stack.invoke("TimerFunction", {"direct": True}) == {"direct": True}
    with pytest.raises(KeyError):
        stack.invoke("NoSuchFunction", {})
    with pytest.raises(RuntimeError, match="boom on purpose"):
        stack.invoke("BoomFunction", {})
