"""`LeadClaimStore` on SyncStateTable."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from rankr_ghl.aws.dynamodb import write_batches
from rankr_ghl.aws.sync_state.items import (
    CLAIM_BATCH_ATTEMPTS,
    CLAIM_SK,
    TableBase,
    claim_items,
    claim_pk,
    claim_release,
    epoch_now,
    error_code,
    from_item,
)
from rankr_ghl.sync.ports import (
    LeadClaim,
)


class DynamoLeadClaimStore(TableBase):
    """`LeadClaimStore`: one item per (location, identity), last claim wins, TTL `expiresAt`."""

    def claim(self, location_id: str, identities: Sequence[str], lead_id: str, ttl_s: int) -> None:
        requests = [
            {"PutRequest": {"Item": item}} for item in claim_items(location_id, identities, lead_id, ttl_s)
        ]
        write_batches(self.client, self.table_name, requests, what=f"lead claims of {lead_id}")

    def find(self, location_id: str, identities: Sequence[str]) -> list[LeadClaim]:
        by_pk = {claim_pk(location_id, identity): identity for identity in dict.fromkeys(identities)}
        if not by_pk:
            return []
        keys: list[Any] = [{"pk": {"S": pk}, "sk": {"S": CLAIM_SK}} for pk in by_pk]
        found: dict[str, dict[str, Any]] = {}
        for attempt in range(CLAIM_BATCH_ATTEMPTS):
            resp = self.client.batch_get_item(
                RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
            )
            for item in resp.get("Responses", {}).get(self.table_name, []):
                read = from_item(item)
                found[str(read["pk"])] = read
            unprocessed = resp.get("UnprocessedKeys", {}).get(self.table_name)
            keys = list(unprocessed["Keys"]) if unprocessed else []
            if not keys:
                break
            time.sleep(0.02 * (2**attempt))
        else:
            raise RuntimeError("lead claims not read: DynamoDB left keys unprocessed")
        now = epoch_now()
        claims: list[LeadClaim] = []
        for pk, identity in by_pk.items():
            values = found.get(pk)
            if values is None or int(values.get("expiresAt") or 0) < now:
                continue  # moto never expires TTL items
            claims.append(
                LeadClaim(
                    location_id=location_id,
                    identity=identity,
                    lead_id=str(values["leadId"]),
                    claimed_at=datetime.fromisoformat(values["claimedAt"]),
                )
            )
        return claims

    def release(self, location_id: str, identities: Sequence[str], lead_id: str) -> None:
        # Only the step-by-step path of a lead push gets here: its usual path releases the claims in
        # `DynamoLeadPushStore.settle_lead`'s transaction.
        for identity in dict.fromkeys(identities):
            try:
                self.client.delete_item(**claim_release(self.table_name, location_id, identity, lead_id))
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise  # gone already, or another lead's newer claim: leave it
