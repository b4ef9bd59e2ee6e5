"""`LeadPushStore` on SyncStateTable: a lead push's usual outcome in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from rankr_ghl.aws.dynamodb import DynamoDBClientSource
from rankr_ghl.aws.sync_state.items import (
    DEFAULT_LEDGER_TTL_S,
    TableBase,
    claim_items,
    claim_release,
    error_code,
    from_item,
    ledger_item,
    mapping_key,
    mapping_pair_puts,
    mapping_side_key,
    parse_mapping,
    to_item,
)
from rankr_ghl.sync.ports import (
    IdMapping,
    LeadClaimResult,
    LedgerEntry,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class DynamoLeadPushStore(TableBase):
    """`LeadPushStore`: one TransactWriteItems over the mapping, ledger and claim items."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
        ledger_ttl_s: int = DEFAULT_LEDGER_TTL_S,
    ) -> None:
        super().__init__(table_name, client=client, client_source=client_source)
        self._ledger_ttl_s = ledger_ttl_s

    def claim_unless_mapped(
        self, location_id: str, lead_id: str, identities: Sequence[str], ttl_s: int
    ) -> LeadClaimResult:
        items: list[TransactWriteItemTypeDef] = [
            {
                "ConditionCheck": {
                    "TableName": self.table_name,
                    "Key": mapping_key(location_id, Entity.CONTACT, Side.RANKR, lead_id),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        items += [
            {"Put": {"TableName": self.table_name, "Item": item}}
            for item in claim_items(location_id, identities, lead_id, ttl_s)
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
            reasons = exc.response.get("CancellationReasons") or [{}]
            first = reasons[0]
            if first.get("Code") == "ConditionalCheckFailed" and first.get("Item"):
                return LeadClaimResult(claimed=False, mapping=parse_mapping(from_item(first["Item"])))
            return LeadClaimResult(claimed=False)
        return LeadClaimResult(claimed=True)

    def settle_lead(
        self,
        location_id: str,
        lead_id: str,
        *,
        mapping: IdMapping | None,
        ledger: Sequence[LedgerEntry],
        release_identities: Sequence[str],
        attributes_of: IdMapping | None = None,
    ) -> bool:
        items = mapping_pair_puts(self.table_name, mapping) if mapping is not None else []
        if attributes_of is not None:
            items += self._attribute_updates(attributes_of)
        by_key = {(e.location_id, e.entity, e.side, e.record_id): e for e in ledger}
        items += [
            {"Put": {"TableName": self.table_name, "Item": ledger_item(e, self._ledger_ttl_s)}}
            for e in by_key.values()
        ]
        items += [
            {"Delete": claim_release(self.table_name, location_id, identity, lead_id)}
            for identity in dict.fromkeys(release_identities)
        ]
        if not items:
            return True
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) in ("TransactionCanceledException", "TransactionConflictException"):
                return False
            raise
        return True

    def _attribute_updates(self, mapping: IdMapping) -> list[TransactWriteItemTypeDef]:
        """Both sides' attributes set to `mapping`'s, each only while the item still holds this pair."""
        attributes = to_item({"a": dict(mapping.attributes) or None}).get("a", {"M": {}})
        items: list[TransactWriteItemTypeDef] = []
        for side in (Side.RANKR, Side.GHL):
            key, other_attr, other_id = mapping_side_key(mapping, side)
            items.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": key,
                        "UpdateExpression": "SET attributes = :attrs",
                        "ConditionExpression": "attribute_exists(pk) AND #a = :v",
                        "ExpressionAttributeNames": {"#a": other_attr},
                        "ExpressionAttributeValues": {":attrs": attributes, ":v": {"S": other_id}},
                    }
                }
            )
        return items
