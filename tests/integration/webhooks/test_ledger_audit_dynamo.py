"""A mirror step's ledger and audit entries on the embedded AWS: one BatchWriteItem over both tables,
and, when that shared write fails, the ledger written alone and the audit entry after it (best effort:
an audit table that refuses never fails the step; a ledger that cannot be written does)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from counting_client import CountingClient
from rankr_ghl.aws.audit import DynamoAuditLog
from rankr_ghl.aws.ledger_audit import DynamoLedgerAuditWriter
from rankr_ghl.aws.sync_state import DynamoLedgerStore
from rankr_ghl.sync.ports import AuditAction, AuditEntry, AuditOutcome, LedgerEntry
from rankr_ghl.sync.types import Entity, Side

pytestmark = pytest.mark.integration


def _entries(location: str) -> list[LedgerEntry]:
    return [
        LedgerEntry(
            location_id=location,
            entity=Entity.CONTACT,
            side=side,
            record_id=record_id,
            field_digests={"email": f"d-{record_id}"},
            digest=f"x-{record_id}",
            written_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
            correlation_id="corr-1",
        )
        for side, record_id in ((Side.GHL, "g1"), (Side.RANKR, "r1"))
    ]


def _audit(location: str) -> AuditEntry:
    return AuditEntry(
        location_id=location,
        entity=Entity.CONTACT,
        action=AuditAction.CREATE,
        outcome=AuditOutcome.SUCCESS,
        direction="ghl_to_rankr",
        ghl_id="g1",
        rankr_id="r1",
        fields=("email",),
        flow="webhook",
    )


def _stores(embedded_aws: Any, client: Any, audit_table: str | None = None) -> tuple[Any, Any]:
    ledger = DynamoLedgerStore(embedded_aws.physical["SyncStateTable"]["Ref"], client=client)
    audit = DynamoAuditLog(audit_table or embedded_aws.physical["AuditTable"]["Ref"], client=client)
    return ledger, audit


def _stored(ledger: DynamoLedgerStore, audit: DynamoAuditLog, location: str) -> tuple[Any, Any, list[Any]]:
    return (
        ledger.get(location, Entity.CONTACT, Side.GHL, "g1"),
        ledger.get(location, Entity.CONTACT, Side.RANKR, "r1"),
        audit.query_location(location, limit=10),
    )


def test_ledger_and_audit_entries_are_written_in_one_call(embedded_aws: Any) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    client = CountingClient(embedded_aws.client("dynamodb"))
    ledger, audit = _stores(embedded_aws, client)
    entries, entry = _entries(location), _audit(location)

    DynamoLedgerAuditWriter(ledger, audit).write(entries, entry)

    assert client.calls == {"batch_write_item": 1}
    ghl, rankr, audited = _stored(ledger, audit, location)
    assert (ghl, rankr) == (entries[0], entries[1])
    assert [a.entry_id for a in audited] == [entry.entry_id] and audited[0].fields == ("email",)


def test_an_audit_table_that_refuses_never_loses_the_ledger(embedded_aws: Any) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    client = embedded_aws.client("dynamodb")
    ledger, audit = _stores(embedded_aws, client, audit_table="no-such-audit-table")
    entries = _entries(location)

    DynamoLedgerAuditWriter(ledger, audit).write(entries, _audit(location))  # no raise

    assert ledger.get(location, Entity.CONTACT, Side.GHL, "g1") == entries[0]
    assert ledger.get(location, Entity.CONTACT, Side.RANKR, "r1") == entries[1]


def test_a_ledger_that_cannot_be_written_fails_the_step(embedded_aws: Any) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    client = embedded_aws.client("dynamodb")
    ledger = DynamoLedgerStore("no-such-sync-table", client=client)
    audit = DynamoAuditLog(embedded_aws.physical["AuditTable"]["Ref"], client=client)

    with pytest.raises(Exception, match="ResourceNotFound|not found|does not exist"):
        DynamoLedgerAuditWriter(ledger, audit).write(_entries(location), _audit(location))
