"""A small SAM project written into a temp dir, used to exercise the local runner."""

from __future__ import annotations

import textwrap
from pathlib import Path

from runner_handlers import HANDLERS

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Feature:
    Type: String
    Default: ""
  Retention:
    Type: Number
    Default: 4
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  HasFeature: !Not [!Equals [!Ref Feature, ""]]
  ProdOrFeature: !Or [!Condition IsProd, !Condition HasFeature]
  DevAndNoFeature: !And [!Not [!Condition IsProd], !Not [!Condition HasFeature]]
Mappings:
  Sizes:
    dev: {Memory: 256}
    prod: {Memory: 1024}
Globals:
  Function:
    Runtime: python3.12
    Handler: app.lambda_handler
    Timeout: 10
    MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
    Layers:
      - !Ref SharedLayer
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        WORK_QUEUE_URL: !Ref WorkQueue
        BUS_NAME: !Ref Bus
        BUS_ARN: !Sub "${Bus.Arn}"
        KEY_ARN: !GetAtt Key.Arn
        QUEUE_NAME: !GetAtt [WorkQueue, QueueName]
        SECRET_ARN: !Ref Secret
        STACK_LABEL: !Sub "${AWS::StackName}/${Stage}/${AWS::AccountId}/${AWS::Partition}"
        LITERAL: !Sub "${!NotAVar}-x"
        SUB_LIST: !Sub
          - "${Prefix}-${AWS::Region}"
          - Prefix: !Ref Stage
        MODE: !If [IsProd, production, development]
        OPTIONAL: !If [HasFeature, !Ref Feature, !Ref AWS::NoValue]
        EITHER: !If [ProdOrFeature, "yes", "no"]
        BOTH: !If [DevAndNoFeature, "yes", "no"]
        JOINED: !Join [":", [a, !Select [1, !Split [",", "x,y,z"]]]]
        RETENTION: !Ref Retention
        PUBLIC_BASE_URL: !Sub "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        POWERTOOLS_SERVICE_NAME: fixture
        POWERTOOLS_METRICS_NAMESPACE: Fixture
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared/
    Metadata:
      BuildMethod: python3.12
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: fixture key
      EnableKeyRotation: true
      KeyPolicy:
        Version: 2012-10-17
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: "kms:*"
            Resource: "*"
  KeyAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: !Sub "alias/${AWS::StackName}"
      TargetKeyId: !Ref Key
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      KmsKeyId: !Ref Key
      SecretString: !Sub '{"token": "${Stage}-token"}'
  GeneratedSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"user": "app"}'
        GenerateStringKey: password
        PasswordLength: 24
        ExcludePunctuation: true
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: gsi1, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: by-gsi1
          KeySchema: [{AttributeName: gsi1, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
      SSESpecification: {SSEEnabled: true, SSEType: KMS, KMSMasterKeyId: !Ref Key}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDLQ.Arn
        maxReceiveCount: 2
  WorkDLQ:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
  ProdOnlyQueue:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "${AWS::StackName}-bus"
  Archive:
    Type: AWS::Events::Archive
    Properties:
      SourceArn: !GetAtt Bus.Arn
      RetentionDays: 1
  EventsQueue:
    Type: AWS::SQS::Queue
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [fixture.app]
      Targets:
        - Id: events-queue
          Arn: !GetAtt EventsQueue.Arn
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: !GetAtt WorkDLQ.QueueName}]
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      AlarmActions: !If [IsProd, ["arn:aws:sns:us-east-1:123456789012:x"], !Ref AWS::NoValue]
  HttpApi:
    Type: AWS::Serverless::HttpApi
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      Timeout: 7
      Environment:
        Variables:
          ONLY_ECHO: echo-only
      Events:
        GetItem:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: "/items/{item_id}", Method: GET}
        AnyEcho:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: /echo, Method: ANY}
        Files:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: "/files/{proxy+}", Method: GET}
  SpecialFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/special/
      Environment:
        Variables:
          POWERTOOLS_SERVICE_NAME: special
      Events:
        Special:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: /items/special, Method: GET}
        Slow:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: /slow, Method: GET}
  BoomFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/boom/
      Events:
        Boom:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: /boom, Method: POST}
  PtFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/pt/
      Events:
        Pt:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: "/pt/{proxy+}", Method: ANY}
  WriterFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/writer/
      Events:
        Put:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: "/things/{id}", Method: PUT}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  EventsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/events/
      Events:
        Events:
          Type: SQS
          Properties:
            Queue: !GetAtt EventsQueue.Arn
            BatchSize: 5
  TimerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/timer/
      Events:
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
            Input: '{"job": "nightly"}'
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/aws/lambda/${EchoFunction}"
"""


def write_project(root: Path, template: str = TEMPLATE) -> Path:
    """Write template.yaml and the handler files under ``root``; returns ``root``."""
    (root / "template.yaml").write_text(textwrap.dedent(template).lstrip())
    for rel, source in HANDLERS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
    return root
