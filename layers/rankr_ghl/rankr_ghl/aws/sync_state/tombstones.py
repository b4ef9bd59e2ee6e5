"""`TombstoneStore` on SyncStateTable."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rankr_ghl.aws.dynamodb import DynamoDBClientSource
from rankr_ghl.aws.sync_state.items import (
    DEFAULT_TOMBSTONE_TTL_S,
    TableBase,
    epoch_now,
    iso_time,
    record_pk,
    to_item,
)
from rankr_ghl.sync.ports import (
    Tombstone,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class DynamoTombstoneStore(TableBase):
    """`TombstoneStore` on SyncStateTable."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
        default_ttl_s: int = DEFAULT_TOMBSTONE_TTL_S,
    ) -> None:
        super().__init__(table_name, client=client, client_source=client_source)
        self.default_ttl_s = default_ttl_s

    def bury(self, tombstone: Tombstone, *, ttl_s: int | None = None) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=to_item(
                {
                    "pk": record_pk(
                        tombstone.location_id, tombstone.entity, tombstone.side, tombstone.record_id
                    ),
                    "sk": "TOMB",
                    "kind": "tombstone",
                    "deletedAt": iso_time(tombstone.deleted_at),
                    "reason": tombstone.reason,
                    "expiresAt": epoch_now() + (ttl_s if ttl_s is not None else self.default_ttl_s),
                }
            ),
        )

    def get(self, location_id: str, side: Side, entity: Entity, record_id: str) -> Tombstone | None:
        values = self._get(record_pk(location_id, entity, side, record_id), "TOMB")
        if values is None:
            return None
        return Tombstone(
            location_id=location_id,
            side=Side(side),
            entity=Entity(entity),
            record_id=record_id,
            deleted_at=datetime.fromisoformat(values["deletedAt"]),
            reason=values.get("reason"),
        )

    def is_tombstoned(self, location_id: str, side: Side, entity: Entity, record_id: str) -> bool:
        return self.get(location_id, side, entity, record_id) is not None
