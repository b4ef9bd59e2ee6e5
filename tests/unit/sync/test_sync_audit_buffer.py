"""AuditBuffer: entries reach the sink in batches, in order, none lost, and at every flush."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from fakes import InMemoryAuditLog
from rankr_ghl.sync.audit_buffer import AuditBuffer
from rankr_ghl.sync.ports import AuditAction, AuditEntry, AuditOutcome
from rankr_ghl.sync.types import Entity


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        "loc", Entity.CONTACT, AuditAction.CREATE, AuditOutcome.SUCCESS, "rankr_to_ghl", rankr_id=f"L{i}"
    )


class BatchSink(InMemoryAuditLog):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def record_many(self, entries: Sequence[AuditEntry]) -> None:
        self.batches.append(len(entries))
        for e in entries:
            self.record(e)


def test_full_batches_go_at_once_and_the_rest_at_flush() -> None:
    sink = BatchSink()
    buffer = AuditBuffer(sink, flush_at=25)
    for i in range(60):
        buffer.record(entry(i))
    assert sink.batches == [25, 25] and buffer.pending == 10
    buffer.flush()
    buffer.flush()  # nothing left: no empty batch
    assert sink.batches == [25, 25, 10]
    assert [e.rankr_id for e in sink.entries] == [f"L{i}" for i in range(60)]


def test_a_sink_without_batches_gets_entries_one_by_one() -> None:
    sink = InMemoryAuditLog()
    buffer = AuditBuffer(sink, flush_at=3)
    for i in range(4):
        buffer.record(entry(i))
    assert len(sink.entries) == 3
    buffer.flush()
    assert [e.rankr_id for e in sink.entries] == ["L0", "L1", "L2", "L3"]


def test_concurrent_writers_lose_nothing() -> None:
    sink = BatchSink()
    buffer = AuditBuffer(sink, flush_at=7)

    def write(base: int) -> None:
        for i in range(100):
            buffer.record(entry(base * 1000 + i))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    buffer.flush()
    assert len(sink.entries) == 800 and len({e.rankr_id for e in sink.entries}) == 800


def test_flush_at_must_be_positive() -> None:
    with pytest.raises(ValueError):
        AuditBuffer(InMemoryAuditLog(), flush_at=0)
