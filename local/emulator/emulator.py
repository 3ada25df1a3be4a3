"""The Emulator facade: state, the Python control API, and the glue between parts."""

from __future__ import annotations

import copy
import json
import threading
import uuid as uuid_lib
from collections import deque

from werkzeug.wrappers import Request

from local.emulator.app import EmulatorApp
from local.emulator.config import EVENT_NAMES, OBJECT_DISPLAY_NAMES, EmulatorConfig
from local.emulator.delivery import Delivery, DeliveryWorker
from local.emulator.faults import Faults
from local.emulator.notify import deliveries_for, event_deliveries
from local.emulator.oauth import OAuthServer
from local.emulator.ratelimit import RateLimiter
from local.emulator.seed import seed_account
from local.emulator.server import EmulatorServer
from local.emulator.store import Change, Record, Store
from local.emulator.subscriptions import Subscription, SubscriptionRegistry
from local.emulator.validation import canonical_uuid, validate_write

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})
_SECRET_FIELDS = frozenset({"client_secret", "refresh_token", "code", "access_token"})
_REDACTED = "[redacted]"
_ACCOUNT_NAMESPACE = uuid_lib.UUID("5e1d2c3b-8a9f-4b6e-9d0c-1a2b3c4d5e6f")


class Emulator:
    """An in-memory ServiceM8: accounts, OAuth, REST, webhooks, faults. See FACTS.md."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock = self.config.clock
        self.faults = Faults()
        self.wsgi_app = EmulatorApp(self)
        self.store = Store(self.now)
        self.oauth = OAuthServer(self)
        self.subscriptions = SubscriptionRegistry()
        self.delivery = DeliveryWorker(self)
        self.limiter = RateLimiter(self.config.per_minute_limit, self.config.per_day_limit)
        self._log_lock = threading.Lock()
        self._server_url: str | None = None
        self._init_state()

    def _init_state(self) -> None:
        self._clock_offset = 0.0
        self._accounts_created = 0
        # Bounded: a long-running `make emulator` must not grow without limit.
        limit = self.config.log_limit
        self._requests: deque[dict[str, object]] = deque(maxlen=limit)
        self._deliveries: deque[dict[str, object]] = deque(maxlen=limit)
        self._handshakes: deque[dict[str, object]] = deque(maxlen=limit)
        self._dropped: deque[dict[str, object]] = deque(maxlen=limit)
        self.default_account_uuid = self.add_account(
            self.config.default_account_name, self.config.default_timezone_name
        )

    # -- time ---------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move emulator time forward (token expiry, rate-limit windows, edit dates)."""
        self._clock_offset += seconds

    # -- serving ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Host used in webhook resource_url values."""
        return self.config.base_url or self._server_url or "http://127.0.0.1:8090"

    def serve(self, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> EmulatorServer:
        server = EmulatorServer(self.wsgi_app, host, port, quiet)
        self._server_url = server.url
        return server

    # -- accounts -----------------------------------------------------------------------
    def add_account(
        self, name: str, timezone_name: str = "Australia/Brisbane", *, unpaid: bool = False
    ) -> str:
        with self.store.lock:
            # Numbered, not random, ids: the same accounts come back after reset().
            self._accounts_created += 1
            number = self._accounts_created
            account_uuid = str(uuid_lib.uuid5(_ACCOUNT_NAMESPACE, f"account-{number}"))
            account = self.store.add_account(account_uuid, name, timezone_name)
            account.unpaid = unpaid
            seed_account(account, self.config.seed_records, 42 + number * 7919, self.now())
        return account_uuid

    def set_unpaid(self, account_uuid: str, unpaid: bool = True) -> None:
        self.store.account(account_uuid).unpaid = unpaid

    def revoke(self, account_uuid: str) -> None:
        """As if the account owner removed the add-on: tokens die, next API call is 401."""
        self.oauth.revoke_account(account_uuid)

    @property
    def token_calls(self) -> int:
        return self.oauth.token_calls

    # -- records ------------------------------------------------------------------------
    def records(self, account_uuid: str, object_name: str) -> list[Record]:
        with self.store.lock:
            table = self.store.table(account_uuid, _object(object_name))
            return [copy.deepcopy(table.full(table.rows[u])) for u in table.order]

    def put_record(
        self, account_uuid: str, object_name: str, record: Record, *, notify: bool = True
    ) -> Record:
        """Create or update as a ServiceM8 user would in the UI; fires webhooks when notify."""
        name = _object(object_name)
        body = dict(record)
        record_uuid = canonical_uuid(body.pop("uuid", None)) if "uuid" in record else None
        if "uuid" in record and record_uuid is None:
            raise ValueError("uuid must be a valid UUID")
        if name == "vendor":
            # One vendor record per account, keyed by the account uuid: always an update.
            if record_uuid not in (None, account_uuid):
                raise ValueError("the vendor record's uuid is the account uuid")
            record_uuid = account_uuid
        table = self.store.table(account_uuid, name)
        creating = record_uuid is None or record_uuid not in table.rows
        values = validate_write(name, body, creating=creating, trusted=True)
        change = self.apply_write(account_uuid, name, values, record_uuid, notify=notify)
        result = table.get(change.uuid if change else str(record_uuid))
        assert result is not None
        return result

    def apply_write(
        self,
        account_uuid: str,
        object_name: str,
        values: Record,
        record_uuid: str | None,
        *,
        notify: bool = True,
    ) -> Change | None:
        change = self.store.write(account_uuid, object_name, values, record_uuid)
        if change is not None and notify:
            self._dispatch(deliveries_for(self, change))
        return change

    def emit_event(self, account_uuid: str, event: str, data: Record) -> None:
        """Fire an event no emulated record produces (job.note_added, staff.clocked_on, ...)."""
        if event not in EVENT_NAMES:
            raise ValueError(f"unknown event {event}")
        self._dispatch(event_deliveries(self, account_uuid, event, dict(data)))

    def _dispatch(self, deliveries: list[Delivery]) -> None:
        queued: list[Delivery] = []
        for delivery in deliveries:
            if self.faults.take_drop():
                with self._log_lock:
                    self._dropped.append({"url": delivery.url, "body": delivery.body})
                continue
            queued.append(delivery)
            if self.faults.take_duplicate():
                queued.append(copy.deepcopy(delivery))
        self.delivery.enqueue(queued)

    # -- deliveries -----------------------------------------------------------------------
    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        self.delivery.wait_idle(timeout)

    def record_delivery_outcome(
        self, subscription: Subscription, ok: bool, error: str, attempt: int
    ) -> float | None:
        """Update failure counters (§4.3/§4.4); return the retry delay, or None for no retry."""
        with self.subscriptions.lock:
            if ok:
                subscription.consecutive_failures = 0
                return None
            subscription.consecutive_failures += 1
            subscription.last_failure_reason = error
            if subscription.consecutive_failures >= self.config.failures_before_deactivation:
                subscription.active = 0
                return None
        delays = self.config.delivery_retry_delays
        return delays[attempt - 1] if attempt <= len(delays) else None

    # -- logs ---------------------------------------------------------------------------
    @property
    def deliveries(self) -> list[dict[str, object]]:
        with self._log_lock:
            return copy.deepcopy(list(self._deliveries))

    @property
    def requests(self) -> list[dict[str, object]]:
        with self._log_lock:
            return copy.deepcopy(list(self._requests))

    @property
    def handshakes(self) -> list[dict[str, object]]:
        with self._log_lock:
            return copy.deepcopy(list(self._handshakes))

    @property
    def dropped_deliveries(self) -> list[dict[str, object]]:
        with self._log_lock:
            return copy.deepcopy(list(self._dropped))

    def log_delivery(self, entry: dict[str, object]) -> None:
        with self._log_lock:
            self._deliveries.append(copy.deepcopy(entry))

    def log_handshake(self, entry: dict[str, object]) -> None:
        with self._log_lock:
            self._handshakes.append(entry)

    def log_request(self, request: Request) -> dict[str, object]:
        raw = request.get_data(cache=True)  # first, so request.form still parses afterwards
        entry: dict[str, object] = {
            "method": request.method,
            "path": request.path,
            "query": request.environ.get("QUERY_STRING", ""),
            "headers": {
                k.lower(): (_REDACTED if k.lower() in _SECRET_HEADERS else v)
                for k, v in request.headers.items()
            },
            "content_type": request.mimetype,
            "account_uuid": None,
            "status": None,
            "form": None,
            "json": None,
        }
        if request.mimetype == "application/x-www-form-urlencoded":
            entry["form"] = {
                k: (_REDACTED if k in _SECRET_FIELDS else v) for k, v in request.form.items()
            }
        elif request.mimetype == "application/json" and raw:
            entry["json"] = _json_or_none(raw)
        with self._log_lock:
            self._requests.append(entry)
        return entry

    def state(self) -> dict[str, object]:
        with self.store.lock:
            accounts = [
                {
                    "uuid": a.uuid,
                    "name": a.name,
                    "timezone_name": a.timezone_name,
                    "unpaid": a.unpaid,
                }
                for a in self.store.accounts.values()
            ]
        return {
            "default_account_uuid": self.default_account_uuid,
            "token_calls": self.token_calls,
            "base_url": self.base_url,
            "accounts": accounts,
            "subscriptions": [
                {**s.as_json(), "account_uuid": s.account_uuid, "kind": s.kind}
                for s in self.subscriptions.all()
            ],
        }

    # -- lifecycle ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything except config (and a running server); recreate the default account."""
        self.delivery.clear()
        with self.store.lock:
            self.store.accounts.clear()
            self.oauth.reset()
            self.subscriptions.clear()
            self.limiter.reset()
            self.faults.update(Faults().as_dict())
            self._init_state()

    def close(self) -> None:
        """Stop the delivery worker (servers are stopped through their own shutdown())."""
        self.delivery.stop()


def _object(name: str) -> str:
    canonical = name.lower()
    if canonical not in OBJECT_DISPLAY_NAMES:
        raise ValueError(f"unknown object {name}")
    return canonical


def _json_or_none(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None
