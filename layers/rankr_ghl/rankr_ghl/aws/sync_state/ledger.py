"""`LedgerStore` on SyncStateTable (digests only, never values)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rankr_ghl.aws.dynamodb import DynamoDBClientSource, write_batches
from rankr_ghl.aws.sync_state.items import (
    DEFAULT_LEDGER_TTL_S,
    TableBase,
    epoch_now,
    ledger_item,
    parse_ledger_entry,
    record_pk,
)
from rankr_ghl.sync.ports import (
    LedgerEntry,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


class DynamoLedgerStore(TableBase):
    """`LedgerStore` on SyncStateTable (digests only, never values)."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
        ttl_s: int = DEFAULT_LEDGER_TTL_S,
    ) -> None:
        super().__init__(table_name, client=client, client_source=client_source)
        self.ttl_s = ttl_s

    def _item(self, entry: LedgerEntry) -> dict[str, AttributeValueTypeDef]:
        return ledger_item(entry, self.ttl_s)

    def get(self, location_id: str, entity: Entity, side: Side, record_id: str) -> LedgerEntry | None:
        values = self._get(record_pk(location_id, entity, side, record_id), "LEDGER")
        if values is None:
            return None
        return parse_ledger_entry(location_id, entity, side, record_id, values)

    def get_many(
        self, location_id: str, entity: Entity, keys: Sequence[tuple[Side, str]]
    ) -> dict[tuple[Side, str], LedgerEntry]:
        wanted = {record_pk(location_id, entity, side, rid): (Side(side), rid) for side, rid in keys}
        if len(wanted) <= 1:  # a single key: a plain GetItem
            found_one = {key: self.get(location_id, entity, *key) for key in wanted.values()}
            return {key: entry for key, entry in found_one.items() if entry is not None}
        items = self._batch_get([(pk, "LEDGER") for pk in wanted], what="ledger entries")
        now = epoch_now()
        found: dict[tuple[Side, str], LedgerEntry] = {}
        for values in items:
            expires = values.get("expiresAt")
            if expires is not None and int(expires) < now:
                continue  # moto never expires TTL items
            side, rid = wanted[str(values["pk"])]
            found[(side, rid)] = parse_ledger_entry(location_id, entity, side, rid, values)
        return found

    def put(self, entry: LedgerEntry) -> None:
        self.client.put_item(TableName=self.table_name, Item=self._item(entry))

    def put_many(self, entries: Sequence[LedgerEntry]) -> None:
        requests = self.put_requests(entries)
        if len(requests) <= 1:
            for request in requests:
                self.client.put_item(TableName=self.table_name, Item=request["PutRequest"]["Item"])
            return
        write_batches(self.client, self.table_name, requests, what="ledger entries")

    def put_requests(self, entries: Sequence[LedgerEntry]) -> list[dict[str, Any]]:
        """BatchWriteItem requests that store `entries`: one item per key (a batch may not repeat a
        key), the last entry of a key winning, as with consecutive puts."""
        by_key = {(e.location_id, e.entity, e.side, e.record_id): e for e in entries}
        return [{"PutRequest": {"Item": self._item(entry)}} for entry in by_key.values()]

    def delete(self, location_id: str, entity: Entity, side: Side, record_id: str) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": record_pk(location_id, entity, side, record_id)}, "sk": {"S": "LEDGER"}},
        )
