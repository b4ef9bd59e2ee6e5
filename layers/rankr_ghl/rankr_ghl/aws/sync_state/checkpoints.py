"""`CheckpointStore` on SyncStateTable."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from rankr_ghl.aws.dynamodb import BATCH_GET_MAX
from rankr_ghl.aws.sync_state.items import (
    TableBase,
    error_code,
    from_item,
    iso_time,
)
from rankr_ghl.sync.ports import (
    Checkpoint,
    CheckpointConflict,
    utcnow,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


class DynamoCheckpointStore(TableBase):
    """`CheckpointStore` on SyncStateTable: pk `LOC#<loc>`, sk `CHECKPOINT#<name>`, value as JSON."""

    def load(self, location_id: str, name: str) -> Checkpoint | None:
        values = self._get(f"LOC#{location_id}", f"CHECKPOINT#{name}")
        return None if values is None else _checkpoint(location_id, name, values)

    def load_many(self, location_ids: Sequence[str], name: str) -> dict[str, Checkpoint]:
        """The checkpoint `name` of each location that has one, by location id: consistent
        BatchGetItem calls of at most 100 keys (the reconcile planner reads one per location)."""
        found: dict[str, Checkpoint] = {}
        unique = list(dict.fromkeys(location_ids))  # a batch may not repeat a key
        for start in range(0, len(unique), BATCH_GET_MAX):
            keys = [
                (f"LOC#{location}", f"CHECKPOINT#{name}")
                for location in unique[start : start + BATCH_GET_MAX]
            ]
            for values in self._batch_get(keys, what="checkpoints"):
                location = str(values["pk"]).removeprefix("LOC#")
                found[location] = _checkpoint(location, name, values)
        return found

    def save(
        self, location_id: str, name: str, value: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Checkpoint:
        now = utcnow()
        names = {"#v": "version", "#val": "value"}
        values: dict[str, AttributeValueTypeDef] = {
            ":one": {"N": "1"},
            ":zero": {"N": "0"},
            ":val": {"S": json.dumps(dict(value), sort_keys=True, default=str)},
            ":now": {"S": iso_time(now)},
            ":loc": {"S": location_id},
            ":name": {"S": name},
        }
        condition: str | None = None
        if expected_version == 0:
            condition = "attribute_not_exists(pk)"
        elif expected_version is not None:
            condition = "#v = :expected"
            values[":expected"] = {"N": str(expected_version)}
        kwargs: dict[str, Any] = {}
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            resp = self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"LOC#{location_id}"}, "sk": {"S": f"CHECKPOINT#{name}"}},
                UpdateExpression=(
                    "SET #v = if_not_exists(#v, :zero) + :one, #val = :val, updatedAt = :now, "
                    "locationId = :loc, checkpointName = :name"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                **kwargs,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise CheckpointConflict(
                    f"checkpoint {name} of {location_id} is not at version {expected_version}"
                ) from None
            raise
        saved = from_item(resp.get("Attributes", {}))
        return Checkpoint(location_id, name, dict(value), int(saved["version"]), now)

    def delete(self, location_id: str, name: str) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"LOC#{location_id}"}, "sk": {"S": f"CHECKPOINT#{name}"}},
        )


def _checkpoint(location_id: str, name: str, values: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint(
        location_id=location_id,
        name=name,
        value=json.loads(values["value"]),
        version=int(values["version"]),
        updated_at=datetime.fromisoformat(values["updatedAt"]),
    )
