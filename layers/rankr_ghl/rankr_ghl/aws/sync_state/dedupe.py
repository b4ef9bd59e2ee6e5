"""`DedupeStore` on SyncStateTable (webhook deliveries, used install states)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from rankr_ghl.aws.sync_state.items import (
    TableBase,
    epoch_now,
    error_code,
)


class DynamoDedupeStore(TableBase):
    """`DedupeStore`: a conditional put with a TTL; an expired marker counts as absent."""

    def claim_once(self, key: str, ttl_s: int) -> bool:
        now = epoch_now()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": f"DEDUPE#{key}"},
                    "sk": {"S": "DEDUPE"},
                    "expiresAt": {"N": str(now + ttl_s)},
                },
                ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def extend(self, key: str, ttl_s: int) -> None:
        """Make a held claim last `ttl_s` from now (the webhook intake's lease, once the event is queued)."""
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": f"DEDUPE#{key}"},
                "sk": {"S": "DEDUPE"},
                "expiresAt": {"N": str(epoch_now() + ttl_s)},
            },
        )

    def release(self, key: str) -> None:
        self.client.delete_item(
            TableName=self.table_name, Key={"pk": {"S": f"DEDUPE#{key}"}, "sk": {"S": "DEDUPE"}}
        )
