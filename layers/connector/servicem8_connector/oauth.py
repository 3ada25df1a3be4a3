"""ServiceM8's OAuth 2.0 endpoints: authorize URL, code exchange, refresh.

Both token calls are form-encoded POSTs (FACTS.md §1.4, §1.5): a JSON body gets
a 400. Token values never reach a log line or an exception message.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from servicem8_connector.servicem8.errors import ReconnectRequired, RetryLater, ServiceM8Error

MAX_ERROR_CHARS = 64
# The ERROR line an operator alarm matches: our token request is wrong, not the grant.
TOKEN_ENDPOINT_ALARM = "TokenEndpointRejected"
_NOT_AN_ERROR_CODE = re.compile(r"[^a-z_]")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint hands back; ``expires_at`` is epoch seconds."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"TokenGrant(expires_at={self.expires_at}, scopes={self.scopes})"


class TokenEndpointError(ServiceM8Error):
    """The token endpoint refused for a reason other than a dead grant (client bug)."""


class OAuthClient:
    """The app's side of ServiceM8 OAuth; the secret is passed in, never read here."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        authorize_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
    ) -> None:
        self._http = http
        self._authorize_url = authorize_url
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret

    def authorize_url(self, *, scopes: tuple[str, ...], redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "scope": " ".join(scopes),
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self._authorize_url}?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str, now: float) -> TokenGrant:
        return self._token_call(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            now=now,
        )

    def refresh(self, *, refresh_token: str, now: float) -> TokenGrant:
        return self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, now=now
        )

    def _token_call(self, form: dict[str, str], *, now: float) -> TokenGrant:
        form = {**form, "client_id": self._client_id, "client_secret": self._client_secret}
        try:
            response = self._http.post(self._token_url, data=form)
        except httpx.TransportError as exc:
            raise RetryLater(f"token endpoint did not answer: {type(exc).__name__}") from exc
        body = _body(response)
        if response.is_success and isinstance(body.get("access_token"), str):
            return _grant(body, now=now)
        error = str(body.get("error") or "")
        if error == "invalid_grant":
            raise ReconnectRequired("ServiceM8 no longer accepts this grant", status=400)
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryLater(f"token endpoint answered {response.status_code}",
                             status=response.status_code)
        # Only an OAuth error code goes on: the body is the endpoint's, not ours to echo.
        code = _NOT_AN_ERROR_CODE.sub("", error)[:MAX_ERROR_CHARS]
        reason = code or f"status {response.status_code}"
        logger.error("ServiceM8's token endpoint refused the connector's request",
                     extra={"alarm": TOKEN_ENDPOINT_ALARM, "oauth_error": reason,
                            "status": response.status_code, "grant_type": form["grant_type"]})
        raise TokenEndpointError(f"token endpoint refused: {reason}",
                                 status=response.status_code)


def _body(response: httpx.Response) -> dict[str, object]:
    try:
        body = json.loads(response.text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _grant(body: dict[str, object], *, now: float) -> TokenGrant:
    expires_in = body.get("expires_in", 3600)
    try:
        lifetime = float(expires_in)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        lifetime = 3600.0
    refresh_token = body.get("refresh_token")
    scope = body.get("scope")
    return TokenGrant(
        access_token=str(body["access_token"]),
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        expires_at=now + lifetime,
        scopes=tuple(str(scope).split()) if scope else (),
    )
