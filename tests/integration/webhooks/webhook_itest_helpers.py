"""Helpers for the webhook intake integration tests (handler loading, API events, queue reads)."""

from __future__ import annotations

import base64
import importlib.util
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rankr_ghl_tools.local.aws import EmbeddedAws

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_ID = "itestapp"


@dataclass
class FakeLambdaContext:
    function_name: str = "WebhookIntakeFunction"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:WebhookIntakeFunction"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def load_handler_module(function_dir: str, module_name: str) -> ModuleType:
    """Import functions/<dir>/app.py under a unique name (as Lambda would, once per container)."""
    path = REPO_ROOT / "functions" / function_dir / "app.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def api_event(body: bytes, headers: dict[str, str], *, base64_encoded: bool = False) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/ghl",
        "rawPath": "/webhooks/ghl",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "http": {
                "method": "POST",
                "path": "/webhooks/ghl",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
            },
            "requestId": request_id,
            "routeKey": "POST /webhooks/ghl",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode() if base64_encoded else body.decode(),
        "isBase64Encoded": base64_encoded,
    }


def spki_b64(key: Ed25519PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@dataclass
class IntakeEnv:
    aws: EmbeddedAws
    module: ModuleType
    queue_url: str
    table: str
    key: Ed25519PrivateKey

    def deliver(self, payload: dict[str, Any], *, signature: str | None = None, **kw: Any) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        sig = signature if signature is not None else base64.b64encode(self.key.sign(body)).decode()
        return self.module.lambda_handler(
            api_event(body, {"x-ghl-signature": sig}, **kw), FakeLambdaContext()
        )

    def messages(self) -> list[dict[str, Any]]:
        """Drain the private queue (every message, with attributes)."""
        sqs = self.aws.client("sqs")
        found: list[dict[str, Any]] = []
        for _ in range(20):
            batch = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=60,
            ).get("Messages", [])
            if not batch:
                break
            found.extend(batch)
        return found

    def dedupe_item(self, key: str) -> dict[str, Any] | None:
        ddb = self.aws.client("dynamodb")
        item = ddb.get_item(TableName=self.table, Key={"pk": {"S": f"DEDUPE#{key}"}, "sk": {"S": "DEDUPE"}})
        return item.get("Item")


def unique_event(**overrides: Any) -> dict[str, Any]:
    import time

    event: dict[str, Any] = {
        "type": "ContactUpdate",
        "locationId": "loc" + uuid.uuid4().hex[:17],
        "id": "c" + uuid.uuid4().hex[:19],
        "appId": APP_ID,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "webhookId": str(uuid.uuid4()),
    }
    event.update(overrides)
    return event


EventFactory = Callable[..., dict[str, Any]]
