"""Creators for the resource types the runner emulates in moto, one function per type.

Each creator gets the resolved ``Properties`` and returns the ``Record`` (``Ref`` value and
``GetAtt`` attributes as AWS returns them), or ``None`` when the resource is skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .cfn import TemplateError
from .records import Record

if TYPE_CHECKING:
    from .provision import Provisioner

log = logging.getLogger(__name__)


def _tags(props: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in props.get("Tags") or []]


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _arn_service(arn: str) -> str:
    parts = str(arn).split(":")
    return parts[2] if len(parts) > 2 else ""


Creator = Callable[["Provisioner", str, dict[str, Any]], Record | None]


def _table(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    ddb = p.client("dynamodb")
    name = props.get("TableName") or p.default_name(lid)
    billing = props.get("BillingMode", "PROVISIONED")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    keep = {"IndexName", "KeySchema", "Projection"}
    if billing == "PROVISIONED":
        keep.add("ProvisionedThroughput")
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            kwargs[key] = [{k: v for k, v in ix.items() if k in keep} for ix in props[key]]
    if props.get("StreamSpecification"):
        view = props["StreamSpecification"]["StreamViewType"]
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    sse = props.get("SSESpecification")
    if sse:
        kwargs["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
        for key in ("SSEType", "KMSMasterKeyId"):
            if key in sse:
                kwargs["SSESpecification"][key] = sse[key]
    if props.get("Tags"):
        kwargs["Tags"] = _tags(props)
    if "DeletionProtectionEnabled" in props:
        kwargs["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
    desc = ddb.create_table(**kwargs)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        spec = {"Enabled": True, "AttributeName": ttl["AttributeName"]}
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
    pitr = props.get("PointInTimeRecoverySpecification") or {}
    if pitr.get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    attrs = {"Arn": desc["TableArn"]}
    if desc.get("LatestStreamArn"):
        attrs["StreamArn"] = desc["LatestStreamArn"]
    return Record(lid, "AWS::DynamoDB::Table", name, attrs)


def _kms_key(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    kms = p.client("kms")
    kwargs: dict[str, Any] = {}
    for key in ("Description", "KeyUsage", "KeySpec", "MultiRegion"):
        if key in props:
            kwargs[key] = props[key]
    if "KeyPolicy" in props:
        kwargs["Policy"] = _json(props["KeyPolicy"])
    if props.get("Tags"):
        kwargs["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tags(props)]
    meta = kms.create_key(**kwargs)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    if props.get("Enabled") is False:
        kms.disable_key(KeyId=meta["KeyId"])
    return Record(lid, "AWS::KMS::Key", meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})


def _kms_alias(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    p.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Record(lid, "AWS::KMS::Alias", props["AliasName"])


def _secret_string(p: Provisioner, props: dict[str, Any]) -> str:
    if "SecretString" in props:
        return str(props["SecretString"])
    gen = dict(props.get("GenerateSecretString") or {})
    template = gen.pop("SecretStringTemplate", None)
    key = gen.pop("GenerateStringKey", None)
    password = p.client("secretsmanager").get_random_password(**gen)["RandomPassword"]
    if template and key:
        data = json.loads(template)
        data[key] = password
        return json.dumps(data)
    return str(password)


def _secret(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    kwargs: dict[str, Any] = {
        "Name": props.get("Name") or p.default_name(lid, 512),
        "SecretString": _secret_string(p, props),
    }
    for key in ("Description", "KmsKeyId"):
        if key in props:
            kwargs[key] = props[key]
    if props.get("Tags"):
        kwargs["Tags"] = _tags(props)
    arn = p.client("secretsmanager").create_secret(**kwargs)["ARN"]
    return Record(lid, "AWS::SecretsManager::Secret", arn, {"Id": arn})


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


def _queue(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    sqs = p.client("sqs")
    name = props.get("QueueName") or p.default_name(lid, 75)
    if props.get("FifoQueue") and not name.endswith(".fifo"):
        name += ".fifo"
    attributes: dict[str, str] = {}
    for key in _QUEUE_ATTRIBUTES:
        if key in props:
            value = props[key]
            if isinstance(value, bool):
                value = "true" if value else "false"
            attributes[key] = _json(value) if isinstance(value, dict) else str(value)
    kwargs: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if props.get("Tags"):
        kwargs["tags"] = {t["Key"]: t["Value"] for t in _tags(props)}
    url = sqs.create_queue(**kwargs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attrs = {"Arn": arn, "QueueName": name, "QueueUrl": url}
    return Record(lid, "AWS::SQS::Queue", url, attrs)


def _queue_policy(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    policy = _json(props["PolicyDocument"])
    for url in props.get("Queues") or []:
        p.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return Record(lid, "AWS::SQS::QueuePolicy", p.default_name(lid))


def _event_bus(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    kwargs: dict[str, Any] = {"Name": props["Name"]}
    if props.get("Description"):
        kwargs["Description"] = props["Description"]
    if props.get("Tags"):
        kwargs["Tags"] = _tags(props)
    arn = p.client("events").create_event_bus(**kwargs)["EventBusArn"]
    return Record(lid, "AWS::Events::EventBus", props["Name"], {"Arn": arn, "Name": props["Name"]})


_TARGET_KEYS = (
    "Id",
    "Arn",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
    "SqsParameters",
    "RoleArn",
)


def _rule(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    events = p.client("events")
    name = props.get("Name") or p.default_name(lid, 64)
    bus = str(props.get("EventBusName") or "default").split("event-bus/")[-1]
    kwargs: dict[str, Any] = {
        "Name": name,
        "EventBusName": bus,
        "State": props.get("State", "ENABLED"),
    }
    if "EventPattern" in props:
        kwargs["EventPattern"] = _json(props["EventPattern"])
    for key in ("ScheduleExpression", "Description", "RoleArn"):
        if key in props:
            kwargs[key] = props[key]
    arn = events.put_rule(**kwargs)["RuleArn"]
    targets = []
    for target in props.get("Targets") or []:
        service = _arn_service(target["Arn"])
        if service == "lambda":
            raise TemplateError(
                f"{lid}: target {target.get('Id')} is a Lambda function. moto 5.2.5 cannot "
                "deliver EventBridge events to Lambda (PutEvents on that bus fails with HTTP 500, "
                "NotImplementedError); route the rule to an SQS queue and give the function an "
                "`Events: Type: SQS` source instead."
            )
        if service not in {"sqs", "events", "logs"}:
            raise TemplateError(f"{lid}: {service} rule targets are not emulated (SQS only)")
        if service == "sqs" and not {"Input", "InputPath", "InputTransformer"} & set(target):
            p.event_fed_queue_arns.add(target["Arn"])
        targets.append({k: target[k] for k in _TARGET_KEYS if k in target})
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return Record(lid, "AWS::Events::Rule", name, {"Arn": arn})


def _archive(p: Provisioner, lid: str, props: dict[str, Any]) -> Record | None:
    name = props.get("ArchiveName") or p.default_name(lid, 48)
    kwargs: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    for key in ("Description", "RetentionDays"):
        if key in props:
            kwargs[key] = props[key]
    if "EventPattern" in props:
        kwargs["EventPattern"] = _json(props["EventPattern"])
    try:
        arn = p.client("events").create_archive(**kwargs)["ArchiveArn"]
    except Exception as exc:
        log.debug("archive %s not emulated: %s", lid, exc)
        p.skipped[lid] = f"AWS::Events::Archive: moto refused ({exc})"
        return None
    return Record(lid, "AWS::Events::Archive", name, {"Arn": arn})


def _ssm_parameter(p: Provisioner, lid: str, props: dict[str, Any]) -> Record:
    name = props.get("Name") or f"/{p.default_name(lid)}"
    p.client("ssm").put_parameter(
        Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"), Overwrite=True
    )
    return Record(
        lid,
        "AWS::SSM::Parameter",
        name,
        {"Type": props.get("Type", "String"), "Value": str(props["Value"])},
    )


CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::Events::EventBus": _event_bus,
    "AWS::Events::Rule": _rule,
    "AWS::Events::Archive": _archive,
    "AWS::SSM::Parameter": _ssm_parameter,
}
