"""Sync-state and audit adapters bound to the session's embedded AWS (tables from template.yaml)."""

from __future__ import annotations

import uuid

import pytest
from rankr_ghl.aws.audit import DynamoAuditLog
from rankr_ghl.aws.sync_state import SyncStateTable


@pytest.fixture
def sync_state(embedded_aws) -> SyncStateTable:
    return SyncStateTable(
        embedded_aws.physical["SyncStateTable"]["Ref"], client=embedded_aws.client("dynamodb")
    )


@pytest.fixture
def audit_log(embedded_aws) -> DynamoAuditLog:
    return DynamoAuditLog(embedded_aws.physical["AuditTable"]["Ref"], client=embedded_aws.client("dynamodb"))


@pytest.fixture
def location() -> str:
    return f"loc-{uuid.uuid4().hex[:10]}"
