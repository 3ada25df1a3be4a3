"""The template's resources under moto's in-process mock, for unit tests.

Resources come from ``template.yaml`` through the local runner's provisioner,
so unit tests, the local stack and the deployed stack share one definition.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local.runner.cfn import parameter_values
from local.runner.cfn_yaml import load_template
from local.runner.provision import Provisioner
from servicem8_connector.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_BASE_URL = "https://connector.example.test"
API_URL = "https://servicem8.example.test"
PARAMETERS = {
    "ServiceM8ApiUrl": API_URL,
    "ServiceM8AuthorizeUrl": f"{API_URL}/oauth/authorize",
    "ServiceM8TokenUrl": f"{API_URL}/oauth/access_token",
    "PublicBaseUrl": PUBLIC_BASE_URL,
    "AllowedReturnUrls": "https://app.example.test/return",
}


@dataclass
class MockedStack:
    provisioner: Provisioner
    env: dict[str, str]
    settings: Settings

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1")

    def physical_id(self, logical_id: str) -> Any:
        return self.provisioner.ref(logical_id)


def provision_template() -> MockedStack:
    """Create every resource moto can hold; call inside ``mock_aws()``."""
    template = load_template(ROOT / "template.yaml")
    values = parameter_values(template, PARAMETERS)
    # endpoint_url None: the boto3 default, which moto's in-process mock intercepts.
    provisioner = Provisioner(template, values, "connector-test",
                              endpoint_url=None)  # type: ignore[arg-type]
    provisioner.provision()
    env = function_env(provisioner, template)
    os.environ.update(env)
    return MockedStack(provisioner, env, Settings.from_env(env))


def function_env(provisioner: Provisioner, template: dict[str, Any]) -> dict[str, str]:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    resolved = provisioner.resolver.resolve(variables)
    return {key: str(value) for key, value in resolved.items()}


def create_connector_table(client: Any, name: str = "connector") -> tuple[Any, str]:
    """Only the connector table, with template.yaml's key schema, for stores under test."""
    properties = load_template(ROOT / "template.yaml")["Resources"]["ConnectorTable"][
        "Properties"]
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
    )
    return client, name
