"""ServiceM8's REST and webhook-subscription API, as FACTS.md describes it."""

from servicem8_connector.servicem8.client import ServiceM8Client
from servicem8_connector.servicem8.errors import (
    AccountSuspended,
    MissingScope,
    OutcomeUnknown,
    QuotaExhausted,
    ReconnectRequired,
    RecordNotFound,
    RejectedByServiceM8,
    RetryLater,
    ServiceM8Error,
)
from servicem8_connector.servicem8.filters import Filter

__all__ = [
    "AccountSuspended",
    "Filter",
    "MissingScope",
    "OutcomeUnknown",
    "QuotaExhausted",
    "ReconnectRequired",
    "RecordNotFound",
    "RejectedByServiceM8",
    "RetryLater",
    "ServiceM8Client",
    "ServiceM8Error",
]
