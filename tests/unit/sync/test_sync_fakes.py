"""The fakes must keep the adapters' semantics, or every flow's unit tests would lie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import InMemoryAuditLog, InMemorySyncState
from rankr_ghl.sync.ports import (
    AuditAction,
    AuditEntry,
    AuditOutcome,
    CheckpointConflict,
    IdMapping,
    MappingConflict,
    Tombstone,
)
from rankr_ghl.sync.types import Entity, Side


def test_mapping_uniqueness_both_ways() -> None:
    s = InMemorySyncState()
    m = IdMapping("L", Entity.CONTACT, "g1", "r1")
    assert s.mappings.put(m) is m
    assert s.mappings.put(IdMapping("L", Entity.CONTACT, "g1", "r1")) is m  # same pair: idempotent
    with pytest.raises(MappingConflict) as e:
        s.mappings.put(IdMapping("L", Entity.CONTACT, "g1", "r2"))
    assert e.value.side is Side.GHL
    with pytest.raises(MappingConflict) as e:
        s.mappings.put(IdMapping("L", Entity.CONTACT, "g2", "r1"))
    assert e.value.side is Side.RANKR
    assert s.mappings.put(IdMapping("L2", Entity.CONTACT, "g1", "r9"))  # other location
    assert [x.ghl_id for x in s.mappings.list_for_location("L", Entity.CONTACT)] == ["g1"]
    s.mappings.delete(m)
    assert s.mappings.get_by_rankr("L", Entity.CONTACT, "r1") is None


def test_tombstones_expire_and_dedupe_claims_once() -> None:
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    s = InMemorySyncState(clock=lambda: now[0])
    s.tombstones.bury(Tombstone("L", Side.GHL, Entity.CONTACT, "g1"), ttl_s=60)
    assert s.tombstones.is_tombstoned("L", Side.GHL, Entity.CONTACT, "g1")
    assert not s.tombstones.is_tombstoned("L", Side.RANKR, Entity.CONTACT, "g1")
    assert s.dedupe.claim_once("w1", 60) and not s.dedupe.claim_once("w1", 60)
    now[0] += timedelta(seconds=61)
    assert not s.tombstones.is_tombstoned("L", Side.GHL, Entity.CONTACT, "g1")
    assert s.dedupe.claim_once("w1", 60)
    s.dedupe.release("w1")
    assert s.dedupe.claim_once("w1", 60)


def test_checkpoint_versions() -> None:
    s = InMemorySyncState()
    c1 = s.checkpoints.save("L", "cursor", {"after": "x"}, expected_version=0)
    assert c1.version == 1
    with pytest.raises(CheckpointConflict):
        s.checkpoints.save("L", "cursor", {"after": "y"}, expected_version=0)
    assert s.checkpoints.save("L", "cursor", {"after": "y"}, expected_version=1).version == 2
    assert s.checkpoints.load("L", "cursor").value == {"after": "y"}  # type: ignore[union-attr]


def test_audit_redacts_and_filters() -> None:
    log = InMemoryAuditLog()
    t = datetime.now(UTC)
    log.record(
        AuditEntry(
            "L",
            Entity.CONTACT,
            AuditAction.FAILURE,
            AuditOutcome.FAILED,
            "ghl_to_rankr",
            error="duplicate a@b.com +1 555 123 4567",
            at=t,
        )
    )
    log.record(
        AuditEntry(
            "L",
            Entity.TASK,
            AuditAction.CREATE,
            AuditOutcome.SUCCESS,
            "ghl_to_rankr",
            at=t + timedelta(seconds=1),
        )
    )
    got = log.query_location("L")
    assert [e.entity for e in got] == [Entity.TASK, Entity.CONTACT]
    assert "a@b.com" not in (got[1].error or "") and "555" not in (got[1].error or "")
    assert log.query_location("L", entity=Entity.CONTACT)[0].action is AuditAction.FAILURE
    with pytest.raises(ValueError, match="field names"):
        AuditEntry(
            "L", Entity.CONTACT, AuditAction.UPDATE, AuditOutcome.SUCCESS, "none", fields=("a@b.com x",)
        )
