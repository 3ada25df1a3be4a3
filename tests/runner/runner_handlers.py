"""Source of the fixture project's tiny handlers (echo, fail on purpose, write to the table)."""

HANDLERS = {
    "layers/shared/shared_lib.py": """
        GREETING = "hello from the layer"
    """,
    "functions/echo/app.py": """
        import base64
        import json
        import os

        from shared_lib import GREETING

        IMPORT_ENV = {k: os.environ.get(k) for k in (
            "TABLE_NAME", "ONLY_ECHO", "AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_SERVICE_NAME")}


        def lambda_handler(event, context):
            mode = (event.get("queryStringParameters") or {}).get("mode")
            if mode == "plain":
                return {"plain": True}
            if mode == "binary":
                return {"statusCode": 201, "isBase64Encoded": True,
                        "headers": {"content-type": "application/octet-stream"},
                        "body": base64.b64encode(b"\\x00\\x01binary").decode()}
            return {
                "statusCode": 200,
                "headers": {"content-type": "application/json",
                            "x-function": context.function_name},
                "multiValueHeaders": {"x-multi": ["one", "two"]},
                "cookies": ["session=abc; Path=/", "theme=dark"],
                "body": json.dumps({
                    "event": event,
                    "greeting": GREETING,
                    "import_env": IMPORT_ENV,
                    "context": {
                        "function_name": context.function_name,
                        "function_version": context.function_version,
                        "invoked_function_arn": context.invoked_function_arn,
                        "memory_limit_in_mb": context.memory_limit_in_mb,
                        "aws_request_id": context.aws_request_id,
                        "log_group_name": context.log_group_name,
                        "remaining": context.get_remaining_time_in_millis(),
                    },
                }),
            }
    """,
    "functions/special/app.py": """
        import time


        def lambda_handler(event, context):
            if event.get("rawPath") == "/slow":
                time.sleep(0.6)
                return {"statusCode": 200, "body": "slow"}
            return "special"
    """,
    "functions/boom/app.py": """
        def lambda_handler(event, context):
            raise RuntimeError("boom on purpose")
    """,
    "functions/pt/app.py": """
        from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
        from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

        app = APIGatewayHttpResolver()


        @app.get("/pt/users/<user_id>")
        def get_user(user_id):
            event = app.current_event
            return {"user_id": user_id, "q": event.query_string_parameters,
                    "cookies": event.cookies, "method": event.request_context.http.method}


        @app.post("/pt/form")
        def post_form():
            return {"decoded": app.current_event.decoded_body,
                    "b64": app.current_event.is_base64_encoded}


        def lambda_handler(event, context):
            APIGatewayProxyEventV2(event)
            return app.resolve(event, context)
    """,
    "functions/writer/app.py": """
        import json
        import os

        import boto3

        TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


        def lambda_handler(event, context):
            item = {"pk": "thing#" + event["pathParameters"]["id"], **json.loads(event["body"])}
            TABLE.put_item(Item=item)
            return {"statusCode": 204}
    """,
    "functions/worker/app.py": """
        import os

        import boto3

        TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


        def lambda_handler(event, context):
            failures = []
            for record in event["Records"]:
                TABLE.update_item(
                    Key={"pk": "work#" + record["body"]},
                    UpdateExpression="ADD seen :one",
                    ExpressionAttributeValues={":one": 1},
                )
                if record["body"].startswith("raise"):
                    raise RuntimeError("whole batch fails")
                if record["body"].startswith("fail"):
                    failures.append({"itemIdentifier": record["messageId"]})
            return {"batchItemFailures": failures}
    """,
    "functions/events/app.py": """
        import os

        import boto3

        TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


        def lambda_handler(event, context):
            for record in event["Records"]:
                TABLE.put_item(Item={"pk": "event#" + record["messageId"],
                                     "body": record["body"], "arn": record["eventSourceARN"]})
    """,
    "functions/timer/app.py": """
        def lambda_handler(event, context):
            return event
    """,
}
