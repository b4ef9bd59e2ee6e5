"""Signed webhook delivery with GHL's current retry policy and chaos switches.

Every event is signed over its compact JSON (like JSON.stringify) with Ed25519 (`X-GHL-Signature`,
base64). The bytes on the wire are that compact JSON too, unless the wire_format variant says they are
pretty-printed or ASCII-escaped (the signature still covers the compact form). Deliveries run in
background threads; retries follow
"any non-2xx or no response -> exponential backoff + jitter, up to 12 retries".
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .config import SandboxConfig
from .variants import VariantRegistry


class Signer:
    def __init__(self, with_rsa: bool = False) -> None:
        self._ed25519 = ed25519.Ed25519PrivateKey.generate()
        self._rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048) if with_rsa else None

    def sign(self, body: bytes) -> dict[str, str]:
        headers = {"X-GHL-Signature": base64.b64encode(self._ed25519.sign(body)).decode()}
        if self._rsa is not None:
            signature = self._rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())
            headers["X-WH-Signature"] = base64.b64encode(signature).decode()
        return headers

    def public_keys(self) -> dict[str, Any]:
        public = self._ed25519.public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        keys: dict[str, Any] = {
            "ed25519_pem": pem.decode(),
            "ed25519_spki_b64": base64.b64encode(der).decode(),
        }
        if self._rsa is not None:
            rsa_pem = self._rsa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            keys["rsa_pem"] = rsa_pem.decode()
        return keys


@dataclass
class WebhookSettings:
    urls: list[str] = field(default_factory=list)
    duplicate_rate: float = 0.0
    drop_rate: float = 0.0
    delay_ms: float = 0.0
    reorder: bool = False
    retry: bool = True
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "urls": list(self.urls),
            "duplicateRate": self.duplicate_rate,
            "dropRate": self.drop_rate,
            "delayMs": self.delay_ms,
            "reorder": self.reorder,
            "retry": self.retry,
            "enabled": self.enabled,
        }


@dataclass
class Delivery:
    webhook_id: str
    event_type: str
    url: str
    body: bytes
    headers: dict[str, str]
    duplicate: bool = False
    attempts: int = 0
    status: str = "pending"  # pending | delivered | failed | dropped
    http_status: int | None = None
    error: str | None = None
    delivered_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "webhookId": self.webhook_id,
            "type": self.event_type,
            "url": self.url,
            "attempts": self.attempts,
            "status": self.status,
            "httpStatus": self.http_status,
            "error": self.error,
            "duplicate": self.duplicate,
        }


def iso_now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookDispatcher:
    def __init__(self, config: SandboxConfig, variants: VariantRegistry | None = None) -> None:
        self.config = config
        self.variants = variants or VariantRegistry()
        self.signer = Signer(with_rsa=config.sign_rsa)
        self.settings = WebhookSettings(urls=list(config.webhook_urls))
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._reorder_buffer: list[Delivery] = []
        self._reorder_since = 0.0
        self._rng = random.Random(config.seed)
        self.log: deque[Delivery] = deque(maxlen=200_000)
        self.events: deque[dict[str, Any]] = deque(maxlen=200_000)
        self._stopped = False
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for index in range(max(1, int(self.config.webhook_workers))):
            thread = threading.Thread(target=self._run, name=f"ghl-sandbox-webhooks-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=2)

    def reset(self) -> None:
        with self._cond:
            self._heap.clear()
            self._reorder_buffer.clear()
            self.log.clear()
            self.events.clear()
            self.settings = WebhookSettings(urls=list(self.config.webhook_urls))
            self._rng = random.Random(self.config.seed)
            self._cond.notify_all()

    def configure(self, body: dict[str, Any]) -> WebhookSettings:
        urls = body.get("urls", self.settings.urls)
        if not isinstance(urls, list) or not all(isinstance(u, str) and u.startswith("http") for u in urls):
            raise ValueError("urls must be a list of http(s) URLs")
        rates = {k: float(body.get(k, 0) or 0) for k in ("duplicateRate", "dropRate")}
        if any(not 0 <= v <= 1 for v in rates.values()):
            raise ValueError("duplicateRate and dropRate must be between 0 and 1")
        settings = WebhookSettings(
            urls=list(urls),
            duplicate_rate=rates["duplicateRate"],
            drop_rate=rates["dropRate"],
            delay_ms=float(body.get("delayMs", 0) or 0),
            reorder=bool(body.get("reorder", False)),
            retry=bool(body.get("retry", True)),
            enabled=bool(body.get("enabled", True)),
        )
        with self._cond:
            self.settings = settings
            if body.get("seed") is not None:
                self._rng = random.Random(int(body["seed"]))
            if not settings.reorder:
                self._release_reorder_buffer()
            self._cond.notify_all()
        return settings

    # ------------------------------------------------------------------ emission

    def emit(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Stamp, sign and queue one event; returns the envelope that was sent."""
        envelope = {**payload, "type": payload.get("type", event_type)}
        envelope.setdefault("timestamp", iso_now())
        envelope.setdefault("webhookId", str(uuid.uuid4()))
        signed = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **self.signer.sign(signed)}
        body = self._wire_bytes(envelope, signed)
        with self._cond:
            self.events.append(envelope)
            settings = self.settings
            if not settings.enabled:
                return envelope
            for url in settings.urls:
                delivery = Delivery(envelope["webhookId"], envelope["type"], url, body, headers)
                self.log.append(delivery)
                if settings.drop_rate and self._rng.random() < settings.drop_rate:
                    delivery.status = "dropped"
                    continue
                copies = [delivery]
                if settings.duplicate_rate and self._rng.random() < settings.duplicate_rate:
                    twin = Delivery(
                        delivery.webhook_id, delivery.event_type, url, body, headers, duplicate=True
                    )
                    self.log.append(twin)
                    copies.append(twin)
                for copy in copies:
                    if settings.reorder:
                        if not self._reorder_buffer:
                            self._reorder_since = time.monotonic()
                        self._reorder_buffer.append(copy)
                    else:
                        self._schedule(copy, time.monotonic() + settings.delay_ms / 1000)
            if settings.reorder and len(self._reorder_buffer) >= max(
                1, int(self.config.webhook_reorder_batch)
            ):
                self._release_reorder_buffer()
            self._cond.notify_all()
        return envelope

    def _wire_bytes(self, envelope: dict[str, Any], signed: bytes) -> bytes:
        resource = envelope.get("locationId") or envelope.get("companyId")
        wire_format = self.variants.effective(resource if isinstance(resource, str) else None).wire_format
        if wire_format == "pretty":
            return json.dumps(envelope, indent=2, ensure_ascii=False).encode()
        if wire_format == "ascii_escaped":
            return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True).encode()
        return signed

    def resend(self, webhook_id: str) -> int:
        """Manual "Resend" of the dashboard: one fresh delivery per URL of the original."""
        with self._cond:
            originals = {d.url: d for d in self.log if d.webhook_id == webhook_id and not d.duplicate}
            for original in originals.values():
                again = Delivery(
                    original.webhook_id, original.event_type, original.url, original.body, original.headers
                )
                self.log.append(again)
                self._schedule(again, time.monotonic())
            self._cond.notify_all()
            return len(originals)

    def _schedule(self, delivery: Delivery, due: float) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), delivery))

    def _release_reorder_buffer(self) -> None:
        now = time.monotonic() + self.settings.delay_ms / 1000
        # Newest first; the sequence number keeps that order among equal due times.
        for delivery in reversed(self._reorder_buffer):
            self._schedule(delivery, now)
        self._reorder_buffer.clear()

    # ------------------------------------------------------------------ delivery

    def _run(self) -> None:
        client = httpx.Client(timeout=float(self.config.webhook_timeout_s))
        try:
            while True:
                with self._cond:
                    delivery = self._next_due()
                    if delivery is None:
                        return
                    self._in_flight += 1
                try:
                    self._attempt(client, delivery)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
        finally:
            client.close()

    def _next_due(self) -> Delivery | None:
        while not self._stopped:
            now = time.monotonic()
            if self._reorder_buffer and now - self._reorder_since >= float(
                self.config.webhook_reorder_hold_s
            ):
                self._release_reorder_buffer()
            if self._heap and self._heap[0][0] <= now:
                return heapq.heappop(self._heap)[2]
            timeout = self._heap[0][0] - now if self._heap else 0.5
            if self._reorder_buffer:
                timeout = min(timeout, 0.05)
            self._cond.wait(timeout=max(0.001, min(timeout, 0.5)))
        return None

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> None:
        delivery.attempts += 1
        try:
            response = client.post(delivery.url, content=delivery.body, headers=delivery.headers)
            delivery.http_status, delivery.error = response.status_code, None
            ok = 200 <= response.status_code < 300
        except httpx.HTTPError as exc:
            delivery.http_status, delivery.error = None, type(exc).__name__
            ok = False
        with self._cond:
            if ok:
                delivery.status, delivery.delivered_at = "delivered", time.time()
                return
            retries_done = delivery.attempts - 1
            if self.settings.retry and retries_done < int(self.config.webhook_max_retries):
                base = float(self.config.webhook_retry_base_s)
                delay = min(base * (2**retries_done), float(self.config.webhook_retry_max_delay_s))
                delay *= self._rng.uniform(0.5, 1.5)  # jitter
                self._schedule(delivery, time.monotonic() + delay)
            else:
                delivery.status = "failed"

    # ------------------------------------------------------------------ inspection

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + len(self._reorder_buffer) + self._in_flight

    def flush(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Block until every queued delivery (and its retries) has finished, or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._release_reorder_buffer()
            self._cond.notify_all()
            while self._heap or self._in_flight or self._reorder_buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(timeout=min(remaining, 0.05))
            pending = len(self._heap) + self._in_flight + len(self._reorder_buffer)
        return {"pending": pending, "done": pending == 0}

    def log_view(self) -> list[dict[str, Any]]:
        with self._cond:
            return [d.to_dict() for d in self.log]
