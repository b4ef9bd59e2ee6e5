"""The shared GHL rate budget's record (ghl.budget_record.BudgetStore) in the SyncStateTable.

One item per resource: ``pk = RATEBUDGET#<resource id>``, ``sk = BUDGET``, holding a version, the
learned window and the entries as compact JSON ``[holder, count, end, start, rank]`` (closed
entries have an empty holder). A reservation is one conditional PutItem on the
version; a lost race returns the current item with the failure (ReturnValuesOnConditionCheckFailure),
so it costs no extra read. The item expires a day after its last write.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from rankr_ghl.aws.dynamodb import DynamoDBClientSource, LazyDynamoDBClient
from rankr_ghl.ghl.budget_record import Entry, Limits, Snapshot

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

KEY_PREFIX = "RATEBUDGET#"
SORT_KEY = "BUDGET"
ITEM_TTL_S = 86_400


def _entry(raw: list[Any]) -> Entry:
    holder, count, end, *rest = raw
    start = float(rest[0]) if rest else 0.0
    rank = int(rest[1]) if len(rest) > 1 else 1
    return Entry(str(holder), int(count), float(end), start, rank)


def _encode(entry: Entry) -> list[Any]:
    return [entry.holder, entry.count, round(entry.end, 3), round(entry.start, 3), entry.rank]


def _decode(item: dict[str, Any] | None) -> Snapshot:
    if not item:
        return Snapshot()
    entries = tuple(_entry(raw) for raw in json.loads(item["entries"]["S"]))
    limits = None
    if "maxRequests" in item and "intervalMs" in item:
        limits = Limits(int(item["maxRequests"]["N"]), int(item["intervalMs"]["N"]) / 1000.0)
    return Snapshot(int(item["version"]["N"]), entries, limits)


class DynamoBudgetStore:
    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        if not table_name:
            raise RuntimeError("SyncStateTable name missing (Settings.sync_table)")
        self.table_name = table_name
        self._client = LazyDynamoDBClient(client, client_source)

    @staticmethod
    def _key(resource_id: str) -> dict[str, Any]:
        return {"pk": {"S": KEY_PREFIX + resource_id}, "sk": {"S": SORT_KEY}}

    def load(self, resource_id: str) -> Snapshot:
        response = self._client.get().get_item(
            TableName=self.table_name, Key=self._key(resource_id), ConsistentRead=True
        )
        return _decode(response.get("Item"))

    def compare_and_set(self, resource_id: str, expected_version: int, new: Snapshot) -> Snapshot | None:
        item: dict[str, Any] = {
            **self._key(resource_id),
            "version": {"N": str(new.version)},
            "entries": {"S": json.dumps([_encode(e) for e in new.entries], separators=(",", ":"))},
            "expiresAt": {"N": str(int(time.time()) + ITEM_TTL_S)},
        }
        if new.limits is not None:
            item["maxRequests"] = {"N": str(new.limits.max_requests)}
            item["intervalMs"] = {"N": str(round(new.limits.interval_s * 1000))}
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected_version:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self._client.get().put_item(
                TableName=self.table_name,
                Item=item,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            current = exc.response.get("Item")
            return _decode(current) if current else self.load(resource_id)  # type: ignore[arg-type]
        return None
