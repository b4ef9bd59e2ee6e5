"""AuditTable adapter (`rankr_ghl.sync.ports.AuditLog`).

Item: pk `LOC#<locationId>`, sk `<UTC ISO timestamp, microseconds>#<entryId>` (time-ordered within a
location), `entityKey` = `<locationId>#<entity>` for the byEntity GSI (same sk), `expiresAt` = TTL
(30 days unless `retention_days`, from Settings.audit_retention_days, says otherwise). Field names only, never
values; the error text is redacted and truncated before it is stored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from rankr_ghl.aws.dynamodb import DynamoDBClientSource, LazyDynamoDBClient, write_batches
from rankr_ghl.aws.sync_state.items import from_item, to_item
from rankr_ghl.observability import logger, redact_text
from rankr_ghl.sync.ports import AuditAction, AuditEntry, AuditOutcome, utcnow
from rankr_ghl.sync.types import Entity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

DEFAULT_RETENTION_DAYS = 30
MAX_ERROR_CHARS = 1000
_SK_END = "~"  # sorts after every timestamp suffix


def _sk_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DynamoAuditLog:
    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
        retention_days: int | None = None,
        strict: bool = False,
    ) -> None:
        """`strict=False`: a failed audit write is logged, never raised into the flow that did the work."""
        if not table_name:
            raise RuntimeError("AuditTable name missing (Settings.audit_table)")
        self.table_name = table_name
        self._client = LazyDynamoDBClient(client, client_source)
        self.retention_days = retention_days or DEFAULT_RETENTION_DAYS
        self.strict = strict

    @property
    def client(self) -> DynamoDBClient:
        return self._client.get()

    def to_item(self, entry: AuditEntry) -> dict[str, AttributeValueTypeDef]:
        error = redact_text(entry.error)[:MAX_ERROR_CHARS] if entry.error else None
        expires = int(entry.at.timestamp()) + self.retention_days * 86400
        return to_item(
            {
                "pk": f"LOC#{entry.location_id}",
                "sk": f"{_sk_time(entry.at)}#{entry.entry_id}",
                "entityKey": f"{entry.location_id}#{entry.entity.value}",
                "locationId": entry.location_id,
                "entity": entry.entity.value,
                "action": entry.action.value,
                "outcome": entry.outcome.value,
                "direction": entry.direction,
                "ghlId": entry.ghl_id,
                "rankrId": entry.rankr_id,
                "fields": list(entry.fields),
                "reason": entry.reason,
                "error": error,
                "correlationId": entry.correlation_id,
                "flow": entry.flow,
                "at": entry.at.astimezone(UTC).isoformat(),
                "entryId": entry.entry_id,
                "expiresAt": expires,
            }
        )

    def record(self, entry: AuditEntry) -> None:
        try:
            self.client.put_item(TableName=self.table_name, Item=self.to_item(entry))
        except (ClientError, BotoCoreError) as exc:
            if self.strict:
                raise
            logger.error(
                "audit write failed",
                extra={
                    "location_id": entry.location_id,
                    "entity": entry.entity.value,
                    "audit_action": entry.action.value,
                    "error_type": type(exc).__name__,
                },
            )

    def record_many(self, entries: Sequence[AuditEntry]) -> None:
        """Several entries in BatchWriteItem calls of 25 (each entry has its own key)."""
        requests = [{"PutRequest": {"Item": self.to_item(entry)}} for entry in entries]
        try:
            write_batches(self.client, self.table_name, requests, what="audit entries")
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            if self.strict:
                raise
            logger.error(
                "audit batch write failed",
                extra={"entries": len(requests), "error_type": type(exc).__name__},
            )

    @staticmethod
    def from_item(values: dict[str, Any]) -> AuditEntry:
        return AuditEntry(
            location_id=values["locationId"],
            entity=Entity(values["entity"]),
            action=AuditAction(values["action"]),
            outcome=AuditOutcome(values["outcome"]),
            direction=values.get("direction", "none"),
            ghl_id=values.get("ghlId"),
            rankr_id=values.get("rankrId"),
            fields=tuple(values.get("fields") or ()),
            reason=values.get("reason"),
            error=values.get("error"),
            correlation_id=values.get("correlationId"),
            flow=values.get("flow"),
            at=datetime.fromisoformat(values["at"]),
            entry_id=values["entryId"],
        )

    def query_location(
        self,
        location_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        entity: Entity | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first. With `entity`, reads the byEntity GSI; otherwise the location's partition."""
        now = utcnow()
        floor = now - timedelta(days=self.retention_days)
        lower = _sk_time(max(since, floor) if since else floor)
        upper = _sk_time(until) + _SK_END if until else _SK_END
        if entity is not None:
            index: dict[str, Any] = {"IndexName": "byEntity"}
            key_name, key_value = "entityKey", f"{location_id}#{Entity(entity).value}"
        else:
            index, key_name, key_value = {}, "pk", f"LOC#{location_id}"
        found: list[AuditEntry] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            kwargs: dict[str, Any] = dict(index)
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(
                TableName=self.table_name,
                KeyConditionExpression="#k = :k AND sk BETWEEN :lo AND :hi",
                FilterExpression="expiresAt > :now",  # moto never expires items
                ExpressionAttributeNames={"#k": key_name},
                ExpressionAttributeValues={
                    ":k": {"S": key_value},
                    ":lo": {"S": lower},
                    ":hi": {"S": upper},
                    ":now": {"N": str(int(time.time()))},
                },
                ScanIndexForward=False,
                Limit=max(limit - len(found), 1) * 2,
                **kwargs,
            )
            found.extend(self.from_item(from_item(item)) for item in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        return found[:limit]
