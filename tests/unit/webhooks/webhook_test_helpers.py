"""Helpers for webhook intake tests: signing with a locally generated key and in-memory ports."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakes.metrics import CountingMetrics
from rankr_ghl.flows.intake import QueuedWebhook, RawWebhookRequest, WebhookIntake

APP_ID = "testapp"
LOCATION_ID = "loc0000000000000000a"
NOW = 1_780_000_000.0  # fixed clock for the timestamp window


def spki_b64(private_key: Ed25519PrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign(private_key: Ed25519PrivateKey, body: bytes) -> str:
    return base64.b64encode(private_key.sign(body)).decode()


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z"


def contact_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ContactUpdate",
        "locationId": LOCATION_ID,
        "id": "contact0000000000001",
        "appId": APP_ID,
        "firstName": "Ada",
        "timestamp": iso(NOW),
        "webhookId": "wh-0001",
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


class FakeDedupe:
    def __init__(self) -> None:
        self.claims: dict[str, int] = {}
        self.released: list[str] = []
        self.fail = False

    def claim_once(self, key: str, ttl_s: int) -> bool:
        if self.fail:
            raise RuntimeError("dynamodb down")
        if key in self.claims:
            return False
        self.claims[key] = ttl_s
        return True

    def extend(self, key: str, ttl_s: int) -> None:
        self.claims[key] = ttl_s

    def release(self, key: str) -> None:
        self.released.append(key)
        self.claims.pop(key, None)


@dataclass
class FakeQueue:
    messages: list[QueuedWebhook] = field(default_factory=list)
    fail: bool = False

    def send(self, message: QueuedWebhook) -> str:
        if self.fail:
            raise ConnectionError("sqs unreachable")
        self.messages.append(message)
        return f"msg-{len(self.messages)}"


@dataclass
class IntakeHarness:
    intake: WebhookIntake
    dedupe: FakeDedupe
    queue: FakeQueue
    metrics: CountingMetrics
    key: Ed25519PrivateKey

    def request(
        self,
        payload: dict[str, Any] | bytes | str | None,
        *,
        signature: str | None = "auto",
        headers: dict[str, str] | None = None,
        base64_encoded: bool = False,
    ) -> RawWebhookRequest:
        if payload is None:
            raw = b""
        elif isinstance(payload, bytes):
            raw = payload
        elif isinstance(payload, str):
            raw = payload.encode()
        else:
            raw = json.dumps(payload).encode()
        all_headers = {"content-type": "application/json"}
        if signature == "auto":
            all_headers["x-ghl-signature"] = sign(self.key, raw)
        elif signature is not None:
            all_headers["x-ghl-signature"] = signature
        all_headers.update(headers or {})
        body: str | None
        if payload is None:
            body = None
        elif base64_encoded:
            body = base64.b64encode(raw).decode()
        else:
            body = raw.decode("utf-8", errors="surrogateescape")
        return RawWebhookRequest(
            body=body, headers=all_headers, is_base64_encoded=base64_encoded, correlation_id="corr-1"
        )
