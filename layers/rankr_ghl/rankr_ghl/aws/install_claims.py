"""`ClaimCodeStore` on SyncStateTable: one item per claim code hash, deleted when it is taken."""

from __future__ import annotations

from botocore.exceptions import ClientError

from rankr_ghl.aws.sync_state.items import TableBase, epoch_now, error_code

_SK = "INSTALL_CLAIM"


class DynamoClaimCodeStore(TableBase):
    def put(self, code_hash: str, location_ids: list[str], ttl_s: int) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": f"INSTALL_CLAIM#{code_hash}"},
                "sk": {"S": _SK},
                "connectionIds": {"L": [{"S": c} for c in location_ids]},
                "expiresAt": {"N": str(epoch_now() + ttl_s)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def take(self, code_hash: str) -> list[str] | None:
        # One conditional delete: two concurrent claims of one code cannot both succeed, and an
        # expired code (TTL may not have removed it yet) is refused.
        try:
            response = self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"INSTALL_CLAIM#{code_hash}"}, "sk": {"S": _SK}},
                ConditionExpression="attribute_exists(pk) AND expiresAt >= :now",
                ExpressionAttributeValues={":now": {"N": str(epoch_now())}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        old = response.get("Attributes") or {}
        return [v["S"] for v in old.get("connectionIds", {}).get("L", []) if "S" in v]
