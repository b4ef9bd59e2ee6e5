"""Webhook intake handler on the embedded AWS: env from the template, a private FIFO queue per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rankr_ghl_tools.local.aws import EmbeddedAws
from webhook_itest_helpers import APP_ID, IntakeEnv, load_handler_module, spki_b64


@pytest.fixture(scope="session")
def webhook_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def intake_env(
    embedded_aws: EmbeddedAws, webhook_key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IntakeEnv]:
    function = embedded_aws.template.functions["WebhookIntakeFunction"]
    spec = embedded_aws.template.queues["WebhookQueue"]
    sqs = embedded_aws.client("sqs")
    # A private copy of the template's queue, so tests sharing the session never see each other's messages.
    queue_url = sqs.create_queue(
        QueueName=f"itest-{uuid.uuid4().hex[:12]}.fifo",
        Attributes=spec.create_attributes(embedded_aws.physical["WebhookDLQ"]["Arn"]),
    )["QueueUrl"]
    for name, value in function.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", queue_url)
    monkeypatch.setenv("WEBHOOK_PUBLIC_KEYS", spki_b64(webhook_key))
    monkeypatch.setenv("GHL_CLIENT_ID", f"{APP_ID}-suffix")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "RankrGhlTest")
    module = load_handler_module("webhook_intake", f"webhook_intake_app_{uuid.uuid4().hex[:8]}")
    yield IntakeEnv(embedded_aws, module, queue_url, function.env["SYNC_TABLE"], webhook_key)
    sqs.delete_queue(QueueUrl=queue_url)
