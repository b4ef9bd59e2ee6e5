"""An audit sink that collects entries and writes them in batches.

A lead push writes one audit entry per lead; one store round trip each is a tenth of the push's
store traffic. The buffer holds them until it has a batch, or until the flow flushes (at the end of
an invocation), and the sink writes a batch in one call where it can (`record_many`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from rankr_ghl.sync.ports import AuditEntry, AuditSink

DEFAULT_FLUSH_AT = 25  # DynamoDB's BatchWriteItem limit


@runtime_checkable
class BatchAuditSink(Protocol):
    def record_many(self, entries: Sequence[AuditEntry]) -> None: ...


class AuditBuffer:
    """Thread-safe; entries keep their own timestamps, so batching changes no order."""

    def __init__(self, sink: AuditSink, *, flush_at: int = DEFAULT_FLUSH_AT) -> None:
        if flush_at < 1:
            raise ValueError("flush_at must be at least 1")
        self._sink = sink
        self._flush_at = flush_at
        self._pending: list[AuditEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._pending.append(entry)
            full = len(self._pending) >= self._flush_at
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            entries, self._pending = self._pending, []
        if not entries:
            return
        if isinstance(self._sink, BatchAuditSink):
            self._sink.record_many(entries)
        else:
            for entry in entries:
                self._sink.record(entry)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)
