"""Shared test set-up: no test may reach AWS or ServiceM8.

Fake credentials and a region are set before anything imports boto3, any
endpoint or profile from the developer's shell is removed, and Powertools is
told not to trace or publish metrics.
"""

from __future__ import annotations

import os

SAFE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "servicem8-connector-tests",
    "POWERTOOLS_METRICS_NAMESPACE": "ServiceM8ConnectorTests",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(name, None)
os.environ.update(SAFE_ENV)

pytest_plugins = ["tests.support.fixtures"]


def pytest_sessionstart(session: object) -> None:
    from tests.support import log_audit

    log_audit.install()
