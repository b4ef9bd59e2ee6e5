"""Fixtures for webhook intake tests: a locally generated signing key and in-memory ports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakes.metrics import CountingMetrics
from rankr_ghl.flows.intake import IntakeConfig, WebhookIntake
from rankr_ghl.ghl.signatures import SignatureVerifier, parse_ed25519_keys
from webhook_test_helpers import (
    APP_ID,
    NOW,
    FakeDedupe,
    FakeQueue,
    IntakeHarness,
    spki_b64,
)


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def verifier(signing_key: Ed25519PrivateKey) -> SignatureVerifier:
    return SignatureVerifier(parse_ed25519_keys(spki_b64(signing_key)))


@pytest.fixture
def make_harness(signing_key: Ed25519PrivateKey, verifier: SignatureVerifier) -> Callable[..., IntakeHarness]:
    def factory(**config: Any) -> IntakeHarness:
        dedupe, queue, metrics = FakeDedupe(), FakeQueue(), CountingMetrics()
        intake = WebhookIntake(
            verifier=verifier,
            dedupe=dedupe,
            queue=queue,
            config=IntakeConfig(app_id=APP_ID, **config),
            metrics=metrics,
            clock=lambda: NOW,
        )
        return IntakeHarness(intake, dedupe, queue, metrics, signing_key)

    return factory


@pytest.fixture
def harness(make_harness: Callable[..., IntakeHarness]) -> IntakeHarness:
    return make_harness()
