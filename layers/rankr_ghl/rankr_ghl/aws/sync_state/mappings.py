"""`MappingStore` on SyncStateTable: both sides of a pair written in one transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from rankr_ghl.aws.sync_state.items import (
    MAPPING_TRANSACTION_ATTEMPTS,
    TableBase,
    error_code,
    from_item,
    mapping_pair_puts,
    mapping_side_key,
    parse_mapping,
    record_pk,
    to_item,
)
from rankr_ghl.sync.ports import (
    IdMapping,
    MappingConflict,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class DynamoMappingStore(TableBase):
    """`MappingStore` on SyncStateTable."""

    def _get_side(self, location_id: str, entity: Entity, side: Side, record_id: str) -> IdMapping | None:
        values = self._get(record_pk(location_id, entity, side, record_id), "MAP")
        return parse_mapping(values) if values else None

    def get_by_ghl(self, location_id: str, entity: Entity, ghl_id: str) -> IdMapping | None:
        return self._get_side(location_id, Entity(entity), Side.GHL, ghl_id)

    def get_by_rankr(self, location_id: str, entity: Entity, rankr_id: str) -> IdMapping | None:
        return self._get_side(location_id, Entity(entity), Side.RANKR, rankr_id)

    def new_pair_puts(self, mapping: IdMapping) -> list[TransactWriteItemTypeDef]:
        """Transaction items that store both sides of `mapping`, each only where that side is unmapped."""
        return mapping_pair_puts(self.table_name, mapping)

    def put(self, mapping: IdMapping) -> IdMapping:
        items = self.new_pair_puts(mapping)
        for attempt in range(MAPPING_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return mapping
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [str(r.get("Code", "")) for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    by_ghl = self.get_by_ghl(mapping.location_id, mapping.entity, mapping.ghl_id)
                    if by_ghl is not None and by_ghl.same_pair(mapping):
                        return by_ghl
                    if by_ghl is not None:
                        raise MappingConflict(mapping, by_ghl, Side.GHL) from None
                    by_rankr = self.get_by_rankr(mapping.location_id, mapping.entity, mapping.rankr_id)
                    if by_rankr is not None:
                        raise MappingConflict(mapping, by_rankr, Side.RANKR) from None
                # A concurrent transaction on the same items, or the winner was deleted meanwhile.
                time.sleep(0.02 * (2**attempt))
        raise MappingConflict(mapping, None, Side.GHL)

    def delete(self, mapping: IdMapping) -> None:
        """Both sides in one transaction, so a crash never leaves half a pair. A side that belongs to
        another pair by now (its condition fails) is left alone; the other side is still removed."""
        items: list[TransactWriteItemTypeDef] = []
        for side in (Side.GHL, Side.RANKR):
            key, attr, value = mapping_side_key(mapping, side)
            items.append(
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": key,
                        "ConditionExpression": "attribute_not_exists(pk) OR #a = :v",
                        "ExpressionAttributeNames": {"#a": attr},
                        "ExpressionAttributeValues": {":v": {"S": value}},
                    }
                }
            )
        for attempt in range(MAPPING_TRANSACTION_ATTEMPTS):
            if not items:
                return
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [str(r.get("Code", "")) for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    items = [
                        item
                        for item, code in zip(items, reasons, strict=False)
                        if code != "ConditionalCheckFailed"
                    ]
                    continue
                time.sleep(0.02 * (2**attempt))  # a concurrent transaction on the same items
        raise MappingConflict(mapping, None, Side.GHL)

    def update_attributes(self, mapping: IdMapping) -> bool:
        attributes = to_item({"a": dict(mapping.attributes) or None}).get("a", {"M": {}})
        for side in (Side.RANKR, Side.GHL):
            key, attr, value = mapping_side_key(mapping, side)
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="SET attributes = :attrs",
                    ConditionExpression="attribute_exists(pk) AND #a = :v",
                    ExpressionAttributeNames={"#a": attr},
                    ExpressionAttributeValues={":attrs": attributes, ":v": {"S": value}},
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False  # the pair is gone or was re-mapped meanwhile
                raise
        return True

    def list_for_location(self, location_id: str, entity: Entity) -> Iterator[IdMapping]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table_name,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": f"LOC#{location_id}#MAP#{Entity(entity).value}"}},
            # 1,000 mappings (~330 KB) a page: under DynamoDB's 1 MB page cap, so half the round trips of
            # 500, and one page at a time in memory; LastEvaluatedKey is followed by the paginator.
            PaginationConfig={"PageSize": 1000},
        ):
            for item in page.get("Items", []):
                yield parse_mapping(from_item(item))
