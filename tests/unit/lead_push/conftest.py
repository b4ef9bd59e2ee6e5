"""Fixtures of the lead-push unit tests: the flow over lead_push_world + real Powertools Idempotency
(on an in-memory persistence layer with DynamoDB's conditional-put semantics)."""

from __future__ import annotations

import pytest
from lead_push_world import InMemoryIdempotencyStore, World, make_world


@pytest.fixture
def idempotency_store() -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
def world(idempotency_store: InMemoryIdempotencyStore) -> World:
    return make_world(idempotency_store)
