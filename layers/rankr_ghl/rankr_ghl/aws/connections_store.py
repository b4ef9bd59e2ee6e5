"""ConnectionsTable adapter (`rankr_ghl.connections.ports.ConnectionStore`).

Item = one connection, key `connectionId` (location id, or `company:<companyId>`), camelCase attributes.
The refresh lease lives on the same item as `leaseOwner` + `leaseExpiresAt` (epoch s): taken with a
conditional update that succeeds only if the item exists and the lease is free, expired or already
ours. Keeping it on the item means no orphan lease items, and every other write is an UpdateItem
that never touches the lease attributes. A rotated pair whose secret write failed waits in
`pendingToken` (+ `pendingTokenIssuedAt`) on the same item, encrypted at rest with the table, until a
refresh copies it into the secret; `from_item` never reads it, so a listed connection carries no token.
DynamoDB TTL is not involved (moto never expires items).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from rankr_ghl.aws.dynamodb import DynamoDBClientSource, LazyDynamoDBClient
from rankr_ghl.connections.errors import ConnectionNotFound, TokenStorageError
from rankr_ghl.connections.status import ConnectionStatus, company_connection_id, utcnow

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from rankr_ghl.connections.agency_job import AgencyInstallProgress

    # Imported where a connection is built (`from_item`): a lookup that finds no connection (a
    # webhook for a location that is not connected) needs none of it.
    from rankr_ghl.connections.models import Connection, TokenBundle
    from rankr_ghl.connections.ports import RecordState

_SER = TypeSerializer()
_DESER = TypeDeserializer()
TRANSACTION_LIMIT = 100
BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem limit

# Connection field -> item attribute. Fields left None are removed from the item, except
# rankrAccountId (a re-install without an account must keep an operator's link).
_ATTRS: dict[str, str] = {
    "location_id": "locationId",
    "company_id": "companyId",
    "user_type": "userType",
    "scopes": "scopes",
    "status": "status",
    "status_reason": "statusReason",
    "installed_at": "installedAt",
    "token_expires_at": "tokenExpiresAt",
    "last_refresh_at": "lastRefreshAt",
    "rankr_account_id": "rankrAccountId",
    "token_source": "tokenSource",
    "updated_at": "updatedAt",
    "lifecycle_event_ms": "lifecycleEventMs",
    "lifecycle_event_id": "lifecycleEventId",
}
_KEEP_WHEN_NONE = {"rankr_account_id", "last_refresh_at", "lifecycle_event_ms", "lifecycle_event_id"}


def plain_numbers(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: whole ones as int (JSON views need plain numbers)."""
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _iso(value: datetime) -> str:
    return value.isoformat()


def _is_conditional_failure(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


class DynamoConnectionStore:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = LazyDynamoDBClient(client, client_source)

    @property
    def client(self) -> DynamoDBClient:
        return self._client.get()

    # ----------------------------------------------------------------- mapping
    @staticmethod
    def to_item_values(connection: Connection) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field, attr in _ATTRS.items():
            value = getattr(connection, field)
            if isinstance(value, datetime):
                value = _iso(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif hasattr(value, "value"):
                value = value.value
            values[attr] = value
        return values

    @staticmethod
    def from_item(item: Mapping[str, Any]) -> Connection:
        from rankr_ghl.connections.models import Connection

        plain = {k: _DESER.deserialize(v) for k, v in item.items()}
        values = {field: plain[attr] for field, attr in _ATTRS.items() if attr in plain}
        values.update(
            connection_id=plain["connectionId"],
            scopes=plain.get("scopes") or (),
            installed_at=plain["installedAt"],
            updated_at=plain.get("updatedAt") or plain["installedAt"],
        )
        if "agencyInstall" in plain:
            values["agency_install"] = plain_numbers(plain["agencyInstall"])
        return Connection.from_stored(values)

    def _update_params(self, connection: Connection) -> dict[str, Any]:
        values = self.to_item_values(connection)
        sets: list[str] = []
        removes: list[str] = []
        names: dict[str, str] = {}
        vals: dict[str, Any] = {}
        for i, (field, attr) in enumerate(_ATTRS.items()):
            names[f"#a{i}"] = attr
            value = values[attr]
            if value is None:
                if field not in _KEEP_WHEN_NONE:
                    removes.append(f"#a{i}")
                else:
                    del names[f"#a{i}"]
                continue
            sets.append(f"#a{i} = :v{i}")
            vals[f":v{i}"] = _SER.serialize(value)
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        return {
            "TableName": self.table_name,
            "Key": {"connectionId": {"S": connection.connection_id}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": vals,
        }

    # ----------------------------------------------------------------- ConnectionStore
    def get(self, connection_id: str) -> Connection | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name, Key={"connectionId": {"S": connection_id}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise TokenStorageError("could not read the connection", connection_id=connection_id) from exc
        item = response.get("Item")
        return self.from_item(item) if item else None

    def save(self, connection: Connection) -> None:
        try:
            self.client.update_item(**self._update_params(connection))
        except (ClientError, BotoCoreError) as exc:
            raise TokenStorageError(
                "could not save the connection", connection_id=connection.connection_id
            ) from exc

    def record_states(self, connection_ids: Iterable[str]) -> dict[str, RecordState]:
        """Status and account of the records that exist among `connection_ids`: strongly consistent
        BatchGetItem, 100 keys a call, projected to the attributes an install decides on."""
        import time

        from rankr_ghl.aws.dynamodb import BATCH_ATTEMPTS
        from rankr_ghl.connections.ports import RecordState

        wanted = list(dict.fromkeys(connection_ids))
        found: dict[str, RecordState] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            keys: list[Any] = [{"connectionId": {"S": cid}} for cid in wanted[start : start + BATCH_GET_MAX]]
            for attempt in range(BATCH_ATTEMPTS):
                request: Any = {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "connectionId, #s, statusReason, rankrAccountId",
                    "ExpressionAttributeNames": {"#s": "status"},
                }
                try:
                    response = self.client.batch_get_item(RequestItems={self.table_name: request})
                except (ClientError, BotoCoreError) as exc:
                    raise TokenStorageError("could not read the connections") from exc
                for item in response.get("Responses", {}).get(self.table_name, []):
                    plain = {k: _DESER.deserialize(v) for k, v in item.items()}
                    found[plain["connectionId"]] = RecordState(
                        ConnectionStatus(plain.get("status", ConnectionStatus.ACTIVE.value)),
                        plain.get("statusReason"),
                        plain.get("rankrAccountId"),
                    )
                unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name)
                keys = list(unprocessed["Keys"]) if unprocessed else []
                if not keys:
                    break
                time.sleep(0.02 * (2**attempt))
            else:
                raise TokenStorageError("could not read the connections: keys left unprocessed")
        return found

    def put_all(self, connections: Iterable[Connection]) -> None:
        """Create or replace whole items, 25 per BatchWriteItem (an agency fan-out's new records:
        no lease, pending pair or audit attribute to keep). Not atomic across records."""
        from rankr_ghl.aws.dynamodb import write_batches

        requests: list[dict[str, Any]] = []
        for connection in connections:
            values = {k: v for k, v in self.to_item_values(connection).items() if v is not None}
            item: dict[str, Any] = {k: _SER.serialize(v) for k, v in values.items()}
            item["connectionId"] = {"S": connection.connection_id}
            requests.append({"PutRequest": {"Item": item}})
        try:
            write_batches(self.client, self.table_name, requests, what="connection records")
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            raise TokenStorageError("could not save the connections") from exc

    def record_agency_install(self, company_id: str, progress: AgencyInstallProgress) -> None:
        """`agencyInstall` on the company connection, never creating one (a fan-out racing an
        uninstall's cleanup must not bring back a deleted record)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": company_connection_id(company_id)}},
                UpdateExpression="SET agencyInstall = :p",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeValues={":p": _SER.serialize(progress.to_item())},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise ConnectionNotFound("no such agency connection", connection_id=company_id) from None
            raise TokenStorageError("could not record the agency install", connection_id=company_id) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not record the agency install", connection_id=company_id) from exc

    def save_all(self, connections: Iterable[Connection]) -> None:
        records = list(connections)
        for start in range(0, len(records), TRANSACTION_LIMIT):
            chunk = records[start : start + TRANSACTION_LIMIT]
            try:
                self.client.transact_write_items(
                    TransactItems=cast(Any, [{"Update": self._update_params(c)} for c in chunk])
                )
            except (ClientError, BotoCoreError) as exc:
                raise TokenStorageError("could not save the connections") from exc

    def _scan_or_query(self, **params: Any) -> Iterator[Connection]:
        operation = self.client.query if "KeyConditionExpression" in params else self.client.scan
        start_key: dict[str, Any] | None = None
        while True:
            page_params = dict(params, TableName=self.table_name)
            if start_key:
                page_params["ExclusiveStartKey"] = start_key
            try:
                page = operation(**page_params)
            except (ClientError, BotoCoreError) as exc:
                raise TokenStorageError("could not list connections") from exc
            for item in page.get("Items", []):
                yield self.from_item(item)
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                return

    def list(self) -> Iterator[Connection]:
        return self._scan_or_query()

    def list_by_company(self, company_id: str) -> Iterator[Connection]:
        return self._scan_or_query(
            IndexName="byCompany",
            KeyConditionExpression="companyId = :c",
            ExpressionAttributeValues={":c": {"S": company_id}},
        )

    def list_by_rankr_account(self, rankr_account_id: str) -> Iterator[Connection]:
        return self._scan_or_query(
            IndexName="byRankrAccount",
            KeyConditionExpression="rankrAccountId = :a",
            ExpressionAttributeValues={":a": {"S": rankr_account_id}},
        )

    def _update_existing(self, connection_id: str, expression: str, values: dict[str, Any]) -> None:
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"connectionId": {"S": connection_id}},
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(connectionId)",
            "ExpressionAttributeValues": {k: _SER.serialize(v) for k, v in values.items()},
        }
        if "#s" in expression:  # `status` is a DynamoDB reserved word
            params["ExpressionAttributeNames"] = {"#s": "status"}
        try:
            self.client.update_item(**params)
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise ConnectionNotFound("no such connection", connection_id=connection_id) from None
            raise TokenStorageError("could not update the connection", connection_id=connection_id) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not update the connection", connection_id=connection_id) from exc

    def set_status(self, connection_id: str, status: ConnectionStatus, reason: str | None = None) -> None:
        now = _iso(utcnow())
        if reason is None:
            self._update_existing(
                connection_id,
                "SET #s = :s, updatedAt = :u REMOVE statusReason",
                {":s": status.value, ":u": now},
            )
        else:
            self._update_existing(
                connection_id,
                "SET #s = :s, statusReason = :r, updatedAt = :u",
                {":s": status.value, ":r": reason, ":u": now},
            )

    def record_refresh(self, connection_id: str, token_expires_at: datetime, refreshed_at: datetime) -> None:
        self._update_existing(
            connection_id,
            "SET tokenExpiresAt = :e, lastRefreshAt = :r",
            {":e": _iso(token_expires_at), ":r": _iso(refreshed_at)},
        )

    def link_rankr_account(self, connection_id: str, rankr_account_id: str) -> None:
        self._update_existing(
            connection_id,
            "SET rankrAccountId = :a, updatedAt = :u",
            {":a": rankr_account_id, ":u": _iso(utcnow())},
        )

    def acquire_lease(self, connection_id: str, owner: str, ttl_s: float, now: float) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": connection_id}},
                UpdateExpression="SET leaseOwner = :o, leaseExpiresAt = :e",
                ConditionExpression=(
                    "attribute_exists(connectionId) AND "
                    "(attribute_not_exists(leaseOwner) OR leaseOwner = :o OR leaseExpiresAt < :now)"
                ),
                ExpressionAttributeValues={
                    ":o": {"S": owner},
                    ":e": _SER.serialize(Decimal(str(round(now + ttl_s, 3)))),
                    ":now": _SER.serialize(Decimal(str(round(now, 3)))),
                },
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise TokenStorageError("could not take the refresh lease", connection_id=connection_id) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not take the refresh lease", connection_id=connection_id) from exc
        return True

    def release_lease(self, connection_id: str, owner: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": connection_id}},
                UpdateExpression="REMOVE leaseOwner, leaseExpiresAt",
                ConditionExpression="leaseOwner = :o",
                ExpressionAttributeValues={":o": {"S": owner}},
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise TokenStorageError(
                    "could not release the refresh lease", connection_id=connection_id
                ) from exc

    # ----------------------------------------------------------------- pending token
    def save_pending_token(self, connection_id: str, bundle: TokenBundle) -> None:
        issued = _SER.serialize(Decimal(str(round(bundle.issued_at, 6))))
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": connection_id}},
                UpdateExpression="SET pendingToken = :p, pendingTokenIssuedAt = :i",
                ConditionExpression=(
                    "attribute_exists(connectionId) AND "
                    "(attribute_not_exists(pendingTokenIssuedAt) OR pendingTokenIssuedAt < :i)"
                ),
                ExpressionAttributeValues={":p": {"S": bundle.to_secret_json()}, ":i": issued},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise ConnectionNotFound(
                    "no connection (or a newer pending pair) to keep the token on",
                    connection_id=connection_id,
                ) from None
            raise TokenStorageError("could not store the pending token", connection_id=connection_id) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not store the pending token", connection_id=connection_id) from exc

    def read_pending_token(self, connection_id: str) -> TokenBundle | None:
        from rankr_ghl.connections.models import TokenBundle

        try:
            response = self.client.get_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": connection_id}},
                ConsistentRead=True,
                ProjectionExpression="pendingToken",
            )
        except (ClientError, BotoCoreError) as exc:
            raise TokenStorageError("could not read the pending token", connection_id=connection_id) from exc
        text = response.get("Item", {}).get("pendingToken", {}).get("S")
        return TokenBundle.from_secret_json(text) if text else None

    def clear_pending_token(self, connection_id: str, issued_at: float) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": connection_id}},
                UpdateExpression="REMOVE pendingToken, pendingTokenIssuedAt",
                ConditionExpression="pendingTokenIssuedAt = :i",
                ExpressionAttributeValues={":i": _SER.serialize(Decimal(str(round(issued_at, 6))))},
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):  # a newer pending pair arrived: it stays
                raise TokenStorageError(
                    "could not clear the pending token", connection_id=connection_id
                ) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not clear the pending token", connection_id=connection_id) from exc

    # ----------------------------------------------------------------- lifecycle order
    def claim_lifecycle_event(self, connection_id: str, event_ms: int, event_id: str) -> bool | None:
        """Record an INSTALL/UNINSTALL as the newest applied; False when a newer one was applied
        already (the same event again counts as new: a retry re-applies it), None when no record."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": connection_id}},
                UpdateExpression="SET lifecycleEventMs = :t, lifecycleEventId = :w",
                ConditionExpression=(
                    "attribute_exists(connectionId) AND (attribute_not_exists(lifecycleEventMs) OR "
                    "lifecycleEventMs < :t OR (lifecycleEventMs = :t AND lifecycleEventId <= :w))"
                ),
                ExpressionAttributeValues={":t": {"N": str(event_ms)}, ":w": {"S": event_id}},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False if self.get(connection_id) is not None else None
            raise TokenStorageError(
                "could not order the lifecycle event", connection_id=connection_id
            ) from exc
        except BotoCoreError as exc:
            raise TokenStorageError(
                "could not order the lifecycle event", connection_id=connection_id
            ) from exc
        return True

    def record_stale_lifecycle_event(
        self, connection_id: str, event_type: str, event_ms: int, event_id: str
    ) -> None:
        """The audit of a skipped stale event, on the connection it did not change."""
        self._update_existing(
            connection_id,
            "SET lastStaleEvent = :e ADD staleEventCount :one",
            {
                ":e": {"type": event_type, "eventMs": event_ms, "eventId": event_id, "at": _iso(utcnow())},
                ":one": 1,
            },
        )
