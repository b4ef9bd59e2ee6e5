"""Per-location dead-letter counts on SyncStateTable, written by the dead-letter sweep and read by
`connection.get` with one GetItem (flows.control.dead_letter_sweep has the design).

One item per location that has, or last sweep had, dead letters: `pk = DLQ_COUNT#<locationId>`,
`sk = COUNT`, a number per queue, when it was counted and whether every queue was read in full. One
sweep item (`pk = DLQ_COUNT_SWEEP`) lists the locations the last sweep counted, so the next sweep
writes zeros for those whose dead letters are gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from rankr_ghl.aws.sync_state.items import TableBase, error_code

_PREFIX = "DLQ_COUNT#"
_SK = "COUNT"
_SWEEP_PK = "DLQ_COUNT_SWEEP"
_SWEEP_SK = "LAST"


class DynamoDeadLetterCounts(TableBase):
    def read(self, location_id: str) -> dict[str, Any] | None:
        """{"counts": {queue: n}, "countedAt", "complete": {queue: bool}}, or None when no sweep has
        counted a dead letter of the location."""
        item = self._get(_PREFIX + location_id, _SK)
        if item is None:
            return None
        return {
            "counts": {str(k): int(v) for k, v in dict(item.get("counts") or {}).items()},
            "countedAt": item.get("countedAt"),
            "complete": {str(k): bool(v) for k, v in dict(item.get("complete") or {}).items()},
        }

    def previous_locations(self) -> set[str]:
        item = self._get(_SWEEP_PK, _SWEEP_SK)
        return {str(loc) for loc in (item or {}).get("locations") or ()}

    def write(
        self, location_id: str, counts: Mapping[str, int], complete: Mapping[str, bool], counted_at: str
    ) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": _PREFIX + location_id},
                "sk": {"S": _SK},
                "counts": {"M": {k: {"N": str(int(v))} for k, v in counts.items()}},
                "complete": {"M": {k: {"BOOL": bool(v)} for k, v in complete.items()}},
                "countedAt": {"S": counted_at},
            },
        )

    def finish_sweep(self, locations: set[str], counted_at: str) -> None:
        item: dict[str, Any] = {
            "pk": {"S": _SWEEP_PK},
            "sk": {"S": _SWEEP_SK},
            "countedAt": {"S": counted_at},
        }
        if locations:  # DynamoDB refuses an empty set
            item["locations"] = {"SS": sorted(locations)}
        self.client.put_item(TableName=self.table_name, Item=item)

    def subtract(self, location_id: str, queue: str, replayed: int) -> None:
        """Replayed messages leave the count at once (never below zero); the next sweep recounts."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": _PREFIX + location_id}, "sk": {"S": _SK}},
                UpdateExpression="SET counts.#q = counts.#q - :n",
                ConditionExpression="counts.#q >= :n",
                ExpressionAttributeNames={"#q": queue},
                ExpressionAttributeValues={":n": {"N": str(replayed)}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
