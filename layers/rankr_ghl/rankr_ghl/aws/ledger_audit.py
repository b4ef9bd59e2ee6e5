"""`LedgerAuditWriter` on DynamoDB: a mirror step's ledger entries (SyncStateTable) and its audit
entry (AuditTable) in one BatchWriteItem, where storing them apart costs two round trips.

The audit stays best effort: when the shared write fails, the ledger is written alone (its failure
raises, as before) and the audit entry after it (a failure is logged, never raised).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from rankr_ghl.aws.dynamodb import write_batch_items
from rankr_ghl.observability import logger

if TYPE_CHECKING:
    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.aws.sync_state.ledger import DynamoLedgerStore
    from rankr_ghl.sync.ports import AuditEntry, LedgerEntry


class DynamoLedgerAuditWriter:
    def __init__(self, ledger: DynamoLedgerStore, audit: DynamoAuditLog) -> None:
        self._ledger = ledger
        self._audit = audit

    def write(self, entries: Sequence[LedgerEntry], audit: AuditEntry) -> None:
        requests = [(self._ledger.table_name, request) for request in self._ledger.put_requests(entries)]
        requests.append((self._audit.table_name, {"PutRequest": {"Item": self._audit.to_item(audit)}}))
        try:
            write_batch_items(self._ledger.client, requests, what="ledger and audit entries")
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            logger.warning(
                "ledger and audit write failed; writing them apart",
                extra={"location_id": audit.location_id, "error_type": type(exc).__name__},
            )
            self._ledger.put_many(entries)
            self._audit.record(audit)
