"""Process-environment handling: point every AWS SDK in this process at moto, and undo it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .cfn import REGION

#: removed so that nothing can pick up real credentials, roles or per-service endpoints
_REMOVE = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_LAMBDA_RUNTIME_API",
)


def sdk_env(moto_url: str) -> dict[str, str | None]:
    """Variables (``None`` = unset) that make boto3/Powertools talk only to ``moto_url``."""
    env: dict[str, str | None] = {name: None for name in _REMOVE}
    env.update({name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")})
    local = "127.0.0.1,localhost"
    env.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_SECURITY_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # like `sam local`: Powertools' Tracer disables itself, no X-Ray daemon traffic
            "AWS_SAM_LOCAL": "true",
            "NO_PROXY": ",".join(filter(None, [os.environ.get("NO_PROXY"), local])),
            "no_proxy": ",".join(filter(None, [os.environ.get("no_proxy"), local])),
        }
    )
    return env


class EnvPatch:
    """Sets/unsets ``os.environ`` entries and restores exactly the ones it touched."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def apply(self, values: Mapping[str, str | None]) -> None:
        """Set each name (``None`` unsets it), remembering its value from before any change."""
        for name, value in values.items():
            if name not in self._saved:
                self._saved[name] = os.environ.get(name)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        """Put back every touched variable as it was before ``apply``."""
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


def split_function_env(envs: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, str], set[str]]:
    """Union of all functions' variables that never conflict, and the names that do.

    Functions share one process, so only non-conflicting values can live in ``os.environ`` for
    the stack's lifetime; conflicting ones are applied while the function's module is imported.
    """
    shared: dict[str, str] = {}
    conflicts: set[str] = set()
    for env in envs.values():
        for name, value in env.items():
            if name in shared and shared[name] != value:
                conflicts.add(name)
            shared.setdefault(name, value)
    for name in conflicts:
        shared.pop(name, None)
    return shared, conflicts
