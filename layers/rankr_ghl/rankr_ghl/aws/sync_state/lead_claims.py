"""`LeadClaimStore` on SyncStateTable."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from rankr_ghl.aws.dynamodb import write_batches
from rankr_ghl.aws.sync_state.items import (
    CLAIM_SK,
    TableBase,
    claim_items,
    claim_pks,
    claim_release,
    error_code,
    live_claims,
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
        by_pk = claim_pks(location_id, identities)
        if not by_pk:
            return []
        found = self._batch_get([(pk, CLAIM_SK) for pk in by_pk], what="lead claims")
        return live_claims(location_id, by_pk, found)

    def release(self, location_id: str, identities: Sequence[str], lead_id: str) -> None:
        # Only the step-by-step path of a lead push gets here: its usual path releases the claims in
        # `DynamoLeadPushStore.settle_lead`'s transaction.
        for identity in dict.fromkeys(identities):
            try:
                self.client.delete_item(**claim_release(self.table_name, location_id, identity, lead_id))
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise  # gone already, or another lead's newer claim: leave it
