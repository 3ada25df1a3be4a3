"""Webhook delivery worker and challenge handshake (FACTS §4.2, §4.3, §4.4).

Deliveries are real HTTP POSTs (JSON) from one background thread, so a connector under test
sees ServiceM8's timing: asynchronous, retried after failures, and deactivating the
subscription after too many consecutive failures. Only loopback callback URLs are ever
contacted; any other host is treated as unreachable.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from local.emulator.emulator import Emulator


@dataclass
class Delivery:
    subscription_uuid: str
    kind: str  # "object" or "event"
    url: str
    body: dict[str, object]
    attempt: int = 1
    entries: int = field(default=1, repr=False)


def is_loopback_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _client(timeout: float) -> httpx.Client:
    # trust_env=False: no proxy from the environment may redirect traffic off this machine.
    return httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)


class DeliveryWorker:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._busy = False
        self._last_enqueue = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._shuffle = random.Random(11)
        self._handshake_client: httpx.Client | None = None
        self._handshake_lock = threading.Lock()

    def _client_for_handshakes(self) -> httpx.Client:
        # Shared: building an httpx client (TLS context) per subscribe call costs ~30 ms.
        with self._handshake_lock:
            if self._handshake_client is None:
                self._handshake_client = _client(self.emulator.config.handshake_timeout)
            return self._handshake_client

    # -- handshake (synchronous, during the subscribe call) ---------------------------
    def handshake(self, url: str) -> bool:
        challenge = secrets.token_hex(16)
        record: dict[str, object] = {"url": url, "status": None, "ok": False, "error": ""}
        if not is_loopback_url(url):
            record["error"] = "refused: the emulator only contacts loopback callback URLs"
        else:
            try:
                answer = self._client_for_handshakes().post(
                    url, data={"mode": "subscribe", "challenge": challenge}
                )
                record["status"] = answer.status_code
                record["ok"] = answer.status_code == 200 and answer.text == challenge
                if not record["ok"]:
                    record["error"] = "callback did not echo the challenge"
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
        self.emulator.log_handshake(record)
        return bool(record["ok"])

    # -- queue -----------------------------------------------------------------------
    def enqueue(self, deliveries: list[Delivery], delay: float = 0.0) -> None:
        if not deliveries:
            return
        with self._cond:
            due = time.monotonic() + delay
            for delivery in deliveries:
                heapq.heappush(self._heap, (due, next(self._seq), delivery))
            self._last_enqueue = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._stopped = False
                self._thread = threading.Thread(
                    target=self._run, name="servicem8-emulator-deliveries", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: not self._heap and not self._busy, timeout):
                raise TimeoutError(f"webhook deliveries still pending after {timeout} s")

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        with self._handshake_lock:
            if self._handshake_client is not None:
                self._handshake_client.close()
                self._handshake_client = None

    def _needs_settle(self) -> bool:
        faults = self.emulator.faults
        return faults.reorder_deliveries or faults.object_entries_per_delivery > 1

    def _next_ready(self) -> list[Delivery] | None:
        """Block until deliveries are due; None when stopped. Called with _cond held."""
        settle = self.emulator.config.settle_seconds
        while True:
            if self._stopped:
                return None
            now = time.monotonic()
            if self._heap and self._heap[0][0] <= now:
                quiet = now - self._last_enqueue
                if self._needs_settle() and quiet < settle:
                    self._cond.wait(settle - quiet)
                    continue
                ready = []
                while self._heap and self._heap[0][0] <= now:
                    ready.append(heapq.heappop(self._heap)[2])
                return ready
            self._cond.wait(self._heap[0][0] - now if self._heap else None)

    def _run(self) -> None:
        client = _client(self.emulator.config.delivery_timeout)
        try:
            while True:
                with self._cond:
                    ready = self._next_ready()
                    if ready is None:
                        return
                    self._busy = True
                try:
                    for delivery in self._arrange(ready):
                        self._send(client, delivery)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        finally:
            client.close()

    def _arrange(self, ready: list[Delivery]) -> list[Delivery]:
        faults = self.emulator.faults
        per_delivery = max(1, faults.object_entries_per_delivery)
        arranged: list[Delivery] = []
        open_batches: dict[str, Delivery] = {}
        for delivery in ready:
            batch = open_batches.get(delivery.subscription_uuid)
            if (
                per_delivery > 1
                and delivery.kind == "object"
                and delivery.attempt == 1
                and batch is not None
                and batch.entries < per_delivery
            ):
                entries, more = batch.body["entry"], delivery.body["entry"]
                assert isinstance(entries, list) and isinstance(more, list)
                entries.extend(more)
                batch.entries += 1
                continue
            if delivery.kind == "object" and delivery.attempt == 1:
                open_batches[delivery.subscription_uuid] = delivery
            arranged.append(delivery)
        if faults.reorder_deliveries and len(arranged) > 1:
            original = list(arranged)
            self._shuffle.shuffle(arranged)
            if arranged == original:
                arranged.reverse()
        return arranged

    def _send(self, client: httpx.Client, delivery: Delivery) -> None:
        subscription = self.emulator.subscriptions.by_uuid(delivery.subscription_uuid)
        if subscription is None or not subscription.active:
            return  # deleted, replaced or deactivated meanwhile: ServiceM8 sends nothing
        # A replaced subscription (same object, new URL) receives what was still queued.
        delivery.url = subscription.callback_url
        status: int | None = None
        error = ""
        if not is_loopback_url(delivery.url):
            error = "refused: the emulator only contacts loopback callback URLs"
        else:
            try:
                answer = client.post(delivery.url, json=delivery.body)
                status = answer.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except httpx.TimeoutException:
                error = "timeout"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        ok = not error
        self.emulator.log_delivery(
            {
                "url": delivery.url,
                "body": delivery.body,
                "status": status,
                "ok": ok,
                "attempt": delivery.attempt,
                "kind": delivery.kind,
                "subscription_uuid": delivery.subscription_uuid,
                "error": error,
            }
        )
        retry_in = self.emulator.record_delivery_outcome(subscription, ok, error, delivery.attempt)
        if retry_in is not None:
            delivery.attempt += 1
            self.enqueue([delivery], delay=retry_in)
