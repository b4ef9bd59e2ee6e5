"""`MirrorReads` on SyncStateTable: a record's tombstone (and mapping) in one Query of its partition,
then its mapping, ledger entries, lead claims and (when asked) the location's mapping document in
one BatchGetItem.

A record's mapping, ledger entry and tombstone share its partition (`record_pk`), so a consistent
Query of that partition reads all three for the price of one small read. Every read is consistent,
as the stores' own reads are; items past `expiresAt` count as absent (moto never expires them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankr_ghl.aws.sync_state.items import (
    CLAIM_SK,
    TableBase,
    claim_pks,
    epoch_now,
    from_item,
    live_claims,
    parse_ledger_entry,
    parse_mapping,
    record_pk,
)
from rankr_ghl.aws.sync_state.mapping_config import document_keys, pick_document
from rankr_ghl.sync.record_state import MirrorState, RecordState
from rankr_ghl.sync.types import Entity, Side


class DynamoMirrorReads(TableBase):
    def _partition(self, pk: str) -> dict[str, dict[str, Any]]:
        """The live items of partition `pk` by sort key."""
        items: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**request)
            for raw in page.get("Items", []):
                values = from_item(raw)
                items[str(values["sk"])] = values
            if not page.get("LastEvaluatedKey"):
                return _live(items)
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record_state(self, location_id: str, entity: Entity, ghl_id: str) -> RecordState:
        items = self._partition(record_pk(location_id, Entity(entity), Side.GHL, ghl_id))
        mapping = items.get("MAP")
        return RecordState("TOMB" in items, parse_mapping(mapping) if mapping else None)

    def mirror_state(
        self,
        location_id: str,
        entity: Entity,
        ghl_id: str,
        *,
        rankr_id: str | None,
        claim_identities: Sequence[str],
        with_mapping_document: bool = False,
        account_id: str | None = None,
    ) -> MirrorState:
        entity = Entity(entity)
        ghl_pk = record_pk(location_id, entity, Side.GHL, ghl_id)
        rankr_pk = record_pk(location_id, entity, Side.RANKR, rankr_id) if rankr_id else None
        claims_by_pk = claim_pks(location_id, claim_identities)
        keys = [(ghl_pk, "MAP"), (ghl_pk, "LEDGER")]
        if rankr_pk is not None:
            keys.append((rankr_pk, "LEDGER"))
        keys += [(pk, CLAIM_SK) for pk in claims_by_pk]
        if with_mapping_document:
            keys += document_keys(location_id, account_id)
        found = self._batch_get(keys, what="mirror state")
        by_key = _live({f"{values['pk']}\n{values['sk']}": values for values in found})
        mapping = by_key.get(f"{ghl_pk}\nMAP")
        ledger_ghl = by_key.get(f"{ghl_pk}\nLEDGER")
        ledger_rankr = by_key.get(f"{rankr_pk}\nLEDGER") if rankr_pk else None
        return MirrorState(
            mapping=parse_mapping(mapping) if mapping else None,
            ledger_ghl=(
                parse_ledger_entry(location_id, entity, Side.GHL, ghl_id, ledger_ghl) if ledger_ghl else None
            ),
            rankr_id=rankr_id,
            ledger_rankr=(
                parse_ledger_entry(location_id, entity, Side.RANKR, rankr_id, ledger_rankr)
                if ledger_rankr and rankr_id
                else None
            ),
            claims=live_claims(location_id, claims_by_pk, found) if claim_identities else None,
            mapping_document_read=with_mapping_document,
            mapping_document=pick_document(found, location_id, account_id) if with_mapping_document else None,
        )


def _live(items: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    now = epoch_now()
    return {
        key: values
        for key, values in items.items()
        if values.get("expiresAt") is None or int(values["expiresAt"]) >= now
    }
