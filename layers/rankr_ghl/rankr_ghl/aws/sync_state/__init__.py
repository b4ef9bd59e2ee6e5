"""SyncStateTable adapters: ID mappings, write ledger, tombstones, checkpoints, webhook dedupe, lead
claims and per-location mapping documents (docs/table-design.md has the key design).

Record-scoped items share a partition per record side, so one record's mapping, ledger and tombstone
sit together:  pk = `LOC#<locationId>#<entity>#<side>#<id>`, sk = `MAP` | `LEDGER` | `TOMB`.
A mapping is two items (one per side) written in one transaction, each conditioned on
`attribute_not_exists(pk)`: under concurrent writers exactly one pair wins. Only the GHL-side item
carries the gsi1 keys (`LOC#<loc>#MAP#<entity>` / `<ghlId>`), to list a location's mappings.
moto never expires TTL items, so every read treats `expiresAt` in the past as absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rankr_ghl.aws.dynamodb import DynamoDBClientSource, LazyDynamoDBClient, write_batches
from rankr_ghl.aws.sync_state.checkpoints import DynamoCheckpointStore
from rankr_ghl.aws.sync_state.dedupe import DynamoDedupeStore
from rankr_ghl.aws.sync_state.items import (
    DEFAULT_LEDGER_TTL_S,
    DEFAULT_TOMBSTONE_TTL_S,
    claim_pk,
    from_item,
    mapping_item,
    record_pk,
    table_name_or_fail,
    to_item,
)
from rankr_ghl.aws.sync_state.lead_claims import DynamoLeadClaimStore
from rankr_ghl.aws.sync_state.lead_push_writes import DynamoLeadPushStore
from rankr_ghl.aws.sync_state.ledger import DynamoLedgerStore
from rankr_ghl.aws.sync_state.mapping_config import DynamoMappingConfigSource
from rankr_ghl.aws.sync_state.mappings import DynamoMappingStore
from rankr_ghl.aws.sync_state.mirror_reads import DynamoMirrorReads
from rankr_ghl.aws.sync_state.tombstones import DynamoTombstoneStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class SyncStateTable:
    """Every SyncStateTable store over one table name and one shared client (built lazily)."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        tombstone_ttl_s: int = DEFAULT_TOMBSTONE_TTL_S,
        ledger_ttl_s: int = DEFAULT_LEDGER_TTL_S,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        name = table_name_or_fail(table_name)
        # One holder for every store: the first store used builds (or fetches) the client for all.
        shared = LazyDynamoDBClient(client, client_source).get if client is None else None
        self.table_name = name
        kw: dict[str, Any] = {"client": client, "client_source": shared}
        self.mappings = DynamoMappingStore(name, **kw)
        self.ledger = DynamoLedgerStore(name, ttl_s=ledger_ttl_s, **kw)
        self.tombstones = DynamoTombstoneStore(name, default_ttl_s=tombstone_ttl_s, **kw)
        self.checkpoints = DynamoCheckpointStore(name, **kw)
        self.dedupe = DynamoDedupeStore(name, **kw)
        self.lead_claims = DynamoLeadClaimStore(name, **kw)
        self.lead_push_writes = DynamoLeadPushStore(name, ledger_ttl_s=ledger_ttl_s, **kw)
        self.mapping_config = DynamoMappingConfigSource(name, **kw)
        self.mirror_reads = DynamoMirrorReads(name, **kw)


__all__ = [
    "DEFAULT_LEDGER_TTL_S",
    "DEFAULT_TOMBSTONE_TTL_S",
    "DynamoCheckpointStore",
    "DynamoDedupeStore",
    "DynamoLeadClaimStore",
    "DynamoLeadPushStore",
    "DynamoLedgerStore",
    "DynamoMappingConfigSource",
    "DynamoMappingStore",
    "DynamoMirrorReads",
    "DynamoTombstoneStore",
    "SyncStateTable",
    "claim_pk",
    "from_item",
    "mapping_item",
    "record_pk",
    "to_item",
    "write_batches",
]
