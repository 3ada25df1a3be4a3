"""OAuth 2.0 authorization-code flow and API credentials (FACTS §1.2-§1.6).

Modelled: consent page, single-use 10-minute codes, 3600 s access tokens, refresh tokens that
rotate on every use (the used one dies, §1.5), form-encoded-only token endpoint (§1.5, S21),
X-API-Key for the default account. Not modelled: 426 for plain HTTP (loopback only), PKCE.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from local.emulator.config import KNOWN_SCOPES
from local.emulator.consent import consent_page, error_page
from local.emulator.replies import api_error, json_reply, oauth_error, text_reply

if TYPE_CHECKING:
    from local.emulator.emulator import Emulator


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    scope: str
    account_uuid: str
    expires_at: float
    used: bool = False


@dataclass
class AccessToken:
    client_id: str
    account_uuid: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class RefreshToken:
    client_id: str
    account_uuid: str
    scope: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account, granted scopes (None = all, for API keys), rate bucket."""

    account_uuid: str
    scopes: frozenset[str] | None
    app_key: str


class OAuthServer:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.reset()

    def reset(self) -> None:
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.token_calls = 0

    # -- browser half ---------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        params = request.form if request.method == "POST" else request.args
        config = self.emulator.config
        if params.get("client_id") != config.client_id:
            return _html(error_page("Unknown client_id: no application is registered with it."))
        redirect_uri = params.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _html(error_page("redirect_uri must be an absolute http(s) URL."))
        state = params.get("state")
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, state, error="unsupported_response_type")
        scopes = params.get("scope", "").split()
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        if not scopes or unknown:
            detail = f"{unknown[0]} is not a valid OAuth scope" if unknown else "scope is required"
            return _redirect(redirect_uri, state, error="invalid_scope", error_description=detail)
        if request.method == "GET" and not config.auto_approve:
            return self._consent(scopes, redirect_uri, state)
        account_uuid = self.emulator.default_account_uuid
        if request.method == "POST":
            if params.get("decision") != "allow":
                return _redirect(redirect_uri, state, error="access_denied")
            account_uuid = params.get("account_uuid") or account_uuid
            if account_uuid not in self.emulator.store.accounts:
                return _html(error_page("Unknown account."))
        code = secrets.token_urlsafe(24)
        with self.emulator.store.lock:
            self.codes[code] = AuthorizationCode(
                config.client_id,
                redirect_uri,
                " ".join(scopes),
                account_uuid,
                self.emulator.now() + config.code_lifetime,
            )
        return _redirect(redirect_uri, state, code=code)

    def _consent(self, scopes: list[str], redirect_uri: str, state: str | None) -> Response:
        accounts = [(a.uuid, a.name) for a in self.emulator.store.accounts.values()]
        hidden = {
            "response_type": "code",
            "client_id": self.emulator.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
        }
        if state is not None:
            hidden["state"] = state
        page = consent_page(
            app_name=self.emulator.config.app_name,
            scopes=scopes,
            accounts=accounts,
            selected_account=self.emulator.default_account_uuid,
            hidden=hidden,
        )
        return Response(page, 200, content_type="text/html; charset=utf-8")

    # -- token endpoint -------------------------------------------------------------
    def token(self, request: Request) -> Response:
        with self.emulator.store.lock:
            self.token_calls += 1
        injected = self.emulator.faults.take_token_fail()
        if injected is not None:
            return _injected_token_failure(injected)
        if request.mimetype != "application/x-www-form-urlencoded":
            return oauth_error(
                "invalid_request", "The request body must be application/x-www-form-urlencoded"
            )
        form = request.form
        grant_type = form.get("grant_type")
        if not grant_type:
            return oauth_error("invalid_request", "grant_type is required")
        if grant_type not in ("authorization_code", "refresh_token"):
            return oauth_error("unsupported_grant_type", f"{grant_type} is not supported")
        basic = request.authorization
        basic_user = basic.username if basic is not None and basic.type == "basic" else None
        basic_pass = basic.password if basic is not None and basic.type == "basic" else None
        client_id = form.get("client_id") or basic_user
        secret = form.get("client_secret") or basic_pass
        config = self.emulator.config
        if client_id != config.client_id or not hmac.compare_digest(
            str(secret or ""), config.client_secret
        ):
            return oauth_error("invalid_client", "Client authentication failed", 401)
        with self.emulator.store.lock:
            if grant_type == "authorization_code":
                return self._exchange_code(form.get("code"), form.get("redirect_uri"))
            return self._refresh(form.get("refresh_token"))

    def _exchange_code(self, code: str | None, redirect_uri: str | None) -> Response:
        if not code:
            return oauth_error("invalid_request", "code is required")
        grant = self.codes.get(code)
        if grant is None or grant.used or grant.expires_at <= self.emulator.now():
            return oauth_error("invalid_grant", "The authorization code is invalid or expired")
        grant.used = True
        if redirect_uri != grant.redirect_uri:
            return oauth_error("invalid_grant", "redirect_uri does not match the authorize request")
        return self._issue(grant.account_uuid, grant.scope)

    def _refresh(self, refresh_token: str | None) -> Response:
        if not refresh_token:
            return oauth_error("invalid_request", "refresh_token is required")
        # pop: the presented refresh token dies whatever happens next (rotation, §1.5).
        stored = self.refresh_tokens.pop(refresh_token, None)
        if stored is None:
            return oauth_error("invalid_grant", "The refresh token is invalid or was already used")
        return self._issue(stored.account_uuid, stored.scope)

    def _issue(self, account_uuid: str, scope: str) -> Response:
        config = self.emulator.config
        access, refresh = secrets.token_hex(20), secrets.token_hex(20)
        self.access_tokens[access] = AccessToken(
            config.client_id,
            account_uuid,
            frozenset(scope.split()),
            self.emulator.now() + config.access_token_lifetime,
        )
        self.refresh_tokens[refresh] = RefreshToken(config.client_id, account_uuid, scope)
        return json_reply(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": config.access_token_lifetime,
                "refresh_token": refresh,
                "scope": scope,
            },
            200,
            {"Cache-Control": "no-store"},
        )

    # -- API credentials ------------------------------------------------------------
    def authenticate(self, request: Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential:
            with self.emulator.store.lock:
                token = self.access_tokens.get(credential.strip())
            if token is None or token.expires_at <= self.emulator.now():
                return None
            return Principal(token.account_uuid, token.scopes, token.client_id)
        api_key = request.headers.get("X-Api-Key")
        configured = self.emulator.config.api_key
        if configured and api_key and hmac.compare_digest(api_key, configured):
            return Principal(self.emulator.default_account_uuid, None, "api-key")
        return None

    def revoke_account(self, account_uuid: str) -> None:
        """The account owner removed the add-on: every token for the account stops working."""
        with self.emulator.store.lock:
            for table in (self.access_tokens, self.refresh_tokens):
                for key in [k for k, v in table.items() if v.account_uuid == account_uuid]:
                    del table[key]


def _html(page: str) -> Response:
    return Response(page, 400, content_type="text/html; charset=utf-8")


def _redirect(redirect_uri: str, state: str | None, **params: str) -> Response:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    if state is not None:
        query.append(("state", state))
    location = urlunsplit(parts._replace(query=urlencode(query)))
    return Response("", 302, headers={"Location": location})


def _injected_token_failure(injected: int | str) -> Response:
    if isinstance(injected, str):
        return oauth_error(injected, f"Injected {injected} failure")
    if injected == 401:
        return oauth_error("invalid_client", "Client authentication failed", 401)
    if injected == 400:
        return oauth_error("invalid_request", "Injected invalid_request failure")
    if injected == 429:
        return text_reply("Number of allowed API requests per minute exceeded", 429)
    if injected >= 500:
        return json_reply({"error": "server_error"}, injected)
    return api_error(injected)
