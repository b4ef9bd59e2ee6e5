"""SyncStateTable adapters: ID mappings, write ledger, tombstones, checkpoints, webhook dedupe, lead
claims and per-location mapping documents (docs/table-design.md has the key design).

Record-scoped items share a partition per record side, so one record's mapping, ledger and tombstone
sit together:  pk = `LOC#<locationId>#<entity>#<side>#<id>`, sk = `MAP` | `LEDGER` | `TOMB`.
A mapping is two items (one per side) written in one transaction, each conditioned on
`attribute_not_exists(pk)`: under concurrent writers exactly one pair wins. Only the GHL-side item
carries the gsi1 keys (`LOC#<loc>#MAP#<entity>` / `<ghlId>`), to list a location's mappings.
moto never expires TTL items, so every read treats `expiresAt` in the past as absent.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from rankr_ghl.aws.dynamodb import DynamoDBClientSource, LazyDynamoDBClient
from rankr_ghl.sync.ports import (
    Checkpoint,
    CheckpointConflict,
    IdMapping,
    LeadClaim,
    LeadClaimResult,
    LedgerEntry,
    MappingConflict,
    Tombstone,
    utcnow,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

_SER = TypeSerializer()
_DESER = TypeDeserializer()

DEFAULT_TOMBSTONE_TTL_S = 30 * 86400
DEFAULT_LEDGER_TTL_S = 180 * 86400
MAPPING_TRANSACTION_ATTEMPTS = 6
BATCH_ATTEMPTS = 5  # rounds for the keys/items a batch call leaves unprocessed
BATCH_WRITE_MAX = 25  # DynamoDB's BatchWriteItem limit


def _table_name(name: str | None) -> str:
    if not name:
        raise RuntimeError("SyncStateTable name missing (Settings.sync_table)")
    return name


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {k: _SER.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _DESER.deserialize(v) for k, v in item.items()}


def _iso(value: datetime) -> str:
    return value.isoformat()


def _epoch() -> int:
    return int(time.time())


def record_pk(location_id: str, entity: Entity, side: Side, record_id: str) -> str:
    return f"LOC#{location_id}#{Entity(entity).value}#{Side(side).value}#{record_id}"


def write_batches(client: DynamoDBClient, table_name: str, requests: Sequence[Any], *, what: str) -> None:
    """BatchWriteItem in chunks of 25, re-sending what DynamoDB leaves unprocessed (with backoff);
    raises RuntimeError when some requests are still unprocessed after `BATCH_ATTEMPTS` rounds."""
    pending = list(requests)
    while pending:
        chunk, pending = pending[:BATCH_WRITE_MAX], pending[BATCH_WRITE_MAX:]
        for attempt in range(BATCH_ATTEMPTS):
            resp = client.batch_write_item(RequestItems={table_name: chunk})
            chunk = list((resp.get("UnprocessedItems") or {}).get(table_name, []))
            if not chunk:
                break
            time.sleep(0.02 * (2**attempt))
        else:
            raise RuntimeError(f"{what} not written: DynamoDB left {len(chunk)} items unprocessed")


def mapping_key(location_id: str, entity: Entity, side: Side, record_id: str) -> dict[str, Any]:
    """The key of one side's mapping item."""
    return {"pk": {"S": record_pk(location_id, entity, side, record_id)}, "sk": {"S": "MAP"}}


class _TableBase:
    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        self.table_name = _table_name(table_name)
        self._client = LazyDynamoDBClient(client, client_source)

    @property
    def client(self) -> DynamoDBClient:
        return self._client.get()

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        resp = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item = resp.get("Item")
        if not item:
            return None
        values = _from_item(item)
        expires = values.get("expiresAt")
        if expires is not None and int(expires) < _epoch():
            return None
        return values


# --------------------------------------------------------------------------------------------------


class DynamoMappingStore(_TableBase):
    """`MappingStore` on SyncStateTable."""

    def _item(self, m: IdMapping, side: Side) -> dict[str, Any]:
        values: dict[str, Any] = {
            "pk": record_pk(m.location_id, m.entity, side, m.ghl_id if side is Side.GHL else m.rankr_id),
            "sk": "MAP",
            "kind": "mapping",
            "locationId": m.location_id,
            "entity": m.entity.value,
            "ghlId": m.ghl_id,
            "rankrId": m.rankr_id,
            "createdAt": _iso(m.created_at),
            "ghlParentId": m.ghl_parent_id,
            "rankrParentId": m.rankr_parent_id,
            "accountId": m.account_id,
            "attributes": dict(m.attributes) or None,
        }
        if side is Side.GHL:
            values["gsi1pk"] = f"LOC#{m.location_id}#MAP#{m.entity.value}"
            values["gsi1sk"] = m.ghl_id
        return values

    @staticmethod
    def _parse(values: Mapping[str, Any]) -> IdMapping:
        return IdMapping(
            location_id=values["locationId"],
            entity=Entity(values["entity"]),
            ghl_id=values["ghlId"],
            rankr_id=values["rankrId"],
            created_at=datetime.fromisoformat(values["createdAt"]),
            ghl_parent_id=values.get("ghlParentId"),
            rankr_parent_id=values.get("rankrParentId"),
            account_id=values.get("accountId"),
            attributes={str(k): str(v) for k, v in (values.get("attributes") or {}).items()},
        )

    def _get_side(self, location_id: str, entity: Entity, side: Side, record_id: str) -> IdMapping | None:
        values = self._get(record_pk(location_id, entity, side, record_id), "MAP")
        return self._parse(values) if values else None

    def get_by_ghl(self, location_id: str, entity: Entity, ghl_id: str) -> IdMapping | None:
        return self._get_side(location_id, Entity(entity), Side.GHL, ghl_id)

    def get_by_rankr(self, location_id: str, entity: Entity, rankr_id: str) -> IdMapping | None:
        return self._get_side(location_id, Entity(entity), Side.RANKR, rankr_id)

    def new_pair_puts(self, mapping: IdMapping) -> list[TransactWriteItemTypeDef]:
        """Transaction items that store both sides of `mapping`, each only where that side is unmapped."""
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _to_item(self._item(mapping, side)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for side in (Side.GHL, Side.RANKR)
        ]

    def put(self, mapping: IdMapping) -> IdMapping:
        items = self.new_pair_puts(mapping)
        for attempt in range(MAPPING_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return mapping
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                reasons = [str(r.get("Code", "")) for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    by_ghl = self.get_by_ghl(mapping.location_id, mapping.entity, mapping.ghl_id)
                    if by_ghl is not None and by_ghl.same_pair(mapping):
                        return by_ghl
                    if by_ghl is not None:
                        raise MappingConflict(mapping, by_ghl, Side.GHL) from None
                    by_rankr = self.get_by_rankr(mapping.location_id, mapping.entity, mapping.rankr_id)
                    if by_rankr is not None:
                        raise MappingConflict(mapping, by_rankr, Side.RANKR) from None
                # A concurrent transaction on the same items, or the winner was deleted meanwhile.
                time.sleep(0.02 * (2**attempt))
        raise MappingConflict(mapping, None, Side.GHL)

    @staticmethod
    def _side_of(mapping: IdMapping, side: Side) -> tuple[dict[str, Any], str, str]:
        """The key of `mapping`'s item on `side`, and the attribute and value naming the other side
        (what proves the item still belongs to this pair)."""
        record_id, other_attr, other_id = (
            (mapping.ghl_id, "rankrId", mapping.rankr_id)
            if side is Side.GHL
            else (mapping.rankr_id, "ghlId", mapping.ghl_id)
        )
        return mapping_key(mapping.location_id, mapping.entity, side, record_id), other_attr, other_id

    def delete(self, mapping: IdMapping) -> None:
        for side in (Side.GHL, Side.RANKR):
            key, attr, value = self._side_of(mapping, side)
            try:
                self.client.delete_item(
                    TableName=self.table_name,
                    Key=key,
                    ConditionExpression="attribute_not_exists(pk) OR #a = :v",
                    ExpressionAttributeNames={"#a": attr},
                    ExpressionAttributeValues={":v": {"S": value}},
                )
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise  # the item now belongs to another pair: leave it

    def update_attributes(self, mapping: IdMapping) -> bool:
        attributes = _to_item({"a": dict(mapping.attributes) or None}).get("a", {"M": {}})
        for side in (Side.RANKR, Side.GHL):
            key, attr, value = self._side_of(mapping, side)
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="SET attributes = :attrs",
                    ConditionExpression="attribute_exists(pk) AND #a = :v",
                    ExpressionAttributeNames={"#a": attr},
                    ExpressionAttributeValues={":attrs": attributes, ":v": {"S": value}},
                )
            except ClientError as exc:
                if _code(exc) == "ConditionalCheckFailedException":
                    return False  # the pair is gone or was re-mapped meanwhile
                raise
        return True

    def list_for_location(self, location_id: str, entity: Entity) -> Iterator[IdMapping]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table_name,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": f"LOC#{location_id}#MAP#{Entity(entity).value}"}},
            # 1,000 mappings (~330 KB) a page: under DynamoDB's 1 MB page cap, so half the round trips of
            # 500, and one page at a time in memory; LastEvaluatedKey is followed by the paginator.
            PaginationConfig={"PageSize": 1000},
        ):
            for item in page.get("Items", []):
                yield self._parse(_from_item(item))


class DynamoLedgerStore(_TableBase):
    """`LedgerStore` on SyncStateTable (digests only, never values)."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
        ttl_s: int = DEFAULT_LEDGER_TTL_S,
    ) -> None:
        super().__init__(table_name, client=client, client_source=client_source)
        self.ttl_s = ttl_s

    @staticmethod
    def _parse(
        location_id: str, entity: Entity, side: Side, record_id: str, values: Mapping[str, Any]
    ) -> LedgerEntry:
        return LedgerEntry(
            location_id=location_id,
            entity=Entity(entity),
            side=Side(side),
            record_id=record_id,
            field_digests=dict(values.get("fieldDigests") or {}),
            digest=values["digest"],
            written_at=datetime.fromisoformat(values["writtenAt"]),
            origin="observed" if values.get("origin") == "observed" else "write",
            correlation_id=values.get("correlationId"),
        )

    def _item(self, entry: LedgerEntry) -> dict[str, AttributeValueTypeDef]:
        return _to_item(
            {
                "pk": record_pk(entry.location_id, entry.entity, entry.side, entry.record_id),
                "sk": "LEDGER",
                "kind": "ledger",
                "fieldDigests": dict(entry.field_digests) or None,
                "digest": entry.digest,
                "writtenAt": _iso(entry.written_at),
                "origin": entry.origin,
                "correlationId": entry.correlation_id,
                "expiresAt": _epoch() + self.ttl_s,
            }
        )

    def get(self, location_id: str, entity: Entity, side: Side, record_id: str) -> LedgerEntry | None:
        values = self._get(record_pk(location_id, entity, side, record_id), "LEDGER")
        if values is None:
            return None
        return self._parse(location_id, entity, side, record_id, values)

    def get_many(
        self, location_id: str, entity: Entity, keys: Sequence[tuple[Side, str]]
    ) -> dict[tuple[Side, str], LedgerEntry]:
        wanted = {record_pk(location_id, entity, side, rid): (Side(side), rid) for side, rid in keys}
        if len(wanted) <= 1:  # a single key: a plain GetItem
            found_one = {key: self.get(location_id, entity, *key) for key in wanted.values()}
            return {key: entry for key, entry in found_one.items() if entry is not None}
        items = self._batch_get([{"pk": {"S": pk}, "sk": {"S": "LEDGER"}} for pk in wanted])
        now = _epoch()
        found: dict[tuple[Side, str], LedgerEntry] = {}
        for values in items:
            expires = values.get("expiresAt")
            if expires is not None and int(expires) < now:
                continue  # moto never expires TTL items
            side, rid = wanted[str(values["pk"])]
            found[(side, rid)] = self._parse(location_id, entity, side, rid, values)
        return found

    def _batch_get(self, keys: list[Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for attempt in range(BATCH_ATTEMPTS):
            resp = self.client.batch_get_item(
                RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
            )
            items.extend(_from_item(item) for item in resp.get("Responses", {}).get(self.table_name, []))
            unprocessed = resp.get("UnprocessedKeys", {}).get(self.table_name)
            keys = list(unprocessed["Keys"]) if unprocessed else []
            if not keys:
                return items
            time.sleep(0.02 * (2**attempt))
        raise RuntimeError("ledger entries not read: DynamoDB left keys unprocessed")

    def put(self, entry: LedgerEntry) -> None:
        self.client.put_item(TableName=self.table_name, Item=self._item(entry))

    def put_many(self, entries: Sequence[LedgerEntry]) -> None:
        # One item per key (a batch may not repeat a key): the last entry wins, as with consecutive puts.
        by_key = {(e.location_id, e.entity, e.side, e.record_id): e for e in entries}
        if len(by_key) <= 1:
            for entry in by_key.values():
                self.put(entry)
            return
        requests = [{"PutRequest": {"Item": self._item(entry)}} for entry in by_key.values()]
        write_batches(self.client, self.table_name, requests, what="ledger entries")

    def delete(self, location_id: str, entity: Entity, side: Side, record_id: str) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": record_pk(location_id, entity, side, record_id)}, "sk": {"S": "LEDGER"}},
        )


class DynamoTombstoneStore(_TableBase):
    """`TombstoneStore` on SyncStateTable."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
        default_ttl_s: int = DEFAULT_TOMBSTONE_TTL_S,
    ) -> None:
        super().__init__(table_name, client=client, client_source=client_source)
        self.default_ttl_s = default_ttl_s

    def bury(self, tombstone: Tombstone, *, ttl_s: int | None = None) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=_to_item(
                {
                    "pk": record_pk(
                        tombstone.location_id, tombstone.entity, tombstone.side, tombstone.record_id
                    ),
                    "sk": "TOMB",
                    "kind": "tombstone",
                    "deletedAt": _iso(tombstone.deleted_at),
                    "reason": tombstone.reason,
                    "expiresAt": _epoch() + (ttl_s if ttl_s is not None else self.default_ttl_s),
                }
            ),
        )

    def get(self, location_id: str, side: Side, entity: Entity, record_id: str) -> Tombstone | None:
        values = self._get(record_pk(location_id, entity, side, record_id), "TOMB")
        if values is None:
            return None
        return Tombstone(
            location_id=location_id,
            side=Side(side),
            entity=Entity(entity),
            record_id=record_id,
            deleted_at=datetime.fromisoformat(values["deletedAt"]),
            reason=values.get("reason"),
        )

    def is_tombstoned(self, location_id: str, side: Side, entity: Entity, record_id: str) -> bool:
        return self.get(location_id, side, entity, record_id) is not None


class DynamoCheckpointStore(_TableBase):
    """`CheckpointStore` on SyncStateTable: pk `LOC#<loc>`, sk `CHECKPOINT#<name>`, value as JSON."""

    def load(self, location_id: str, name: str) -> Checkpoint | None:
        values = self._get(f"LOC#{location_id}", f"CHECKPOINT#{name}")
        if values is None:
            return None
        return Checkpoint(
            location_id=location_id,
            name=name,
            value=json.loads(values["value"]),
            version=int(values["version"]),
            updated_at=datetime.fromisoformat(values["updatedAt"]),
        )

    def save(
        self, location_id: str, name: str, value: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Checkpoint:
        now = utcnow()
        names = {"#v": "version", "#val": "value"}
        values: dict[str, AttributeValueTypeDef] = {
            ":one": {"N": "1"},
            ":zero": {"N": "0"},
            ":val": {"S": json.dumps(dict(value), sort_keys=True, default=str)},
            ":now": {"S": _iso(now)},
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
            if _code(exc) == "ConditionalCheckFailedException":
                raise CheckpointConflict(
                    f"checkpoint {name} of {location_id} is not at version {expected_version}"
                ) from None
            raise
        saved = _from_item(resp.get("Attributes", {}))
        return Checkpoint(location_id, name, dict(value), int(saved["version"]), now)

    def delete(self, location_id: str, name: str) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"LOC#{location_id}"}, "sk": {"S": f"CHECKPOINT#{name}"}},
        )


class DynamoDedupeStore(_TableBase):
    """`DedupeStore`: a conditional put with a TTL; an expired marker counts as absent."""

    def claim_once(self, key: str, ttl_s: int) -> bool:
        now = _epoch()
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
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, key: str) -> None:
        self.client.delete_item(
            TableName=self.table_name, Key={"pk": {"S": f"DEDUPE#{key}"}, "sk": {"S": "DEDUPE"}}
        )


CLAIM_SK = "CLAIM"
CLAIM_BATCH_ATTEMPTS = 5


def claim_pk(location_id: str, identity: str) -> str:
    """A claim's key: the identity (an e-mail or phone) is hashed, so no PII sits in the table."""
    kind = identity.partition(":")[0]
    digest = hashlib.sha256(identity.encode()).hexdigest()[:40]
    return f"LOC#{location_id}#LEADCLAIM#{kind}#{digest}"


def _claim_items(
    location_id: str, identities: Sequence[str], lead_id: str, ttl_s: int
) -> list[dict[str, AttributeValueTypeDef]]:
    """The lead's claim items, one per distinct identity."""
    at = _iso(utcnow())
    expires = _epoch() + ttl_s
    return [
        _to_item(
            {
                "pk": claim_pk(location_id, identity),
                "sk": CLAIM_SK,
                "kind": "lead-claim",
                "identityKind": identity.partition(":")[0],
                "leadId": lead_id,
                "claimedAt": at,
                "expiresAt": expires,
            }
        )
        for identity in dict.fromkeys(identities)
    ]


def _claim_release(table_name: str, location_id: str, identity: str, lead_id: str) -> Any:
    """A delete of one claim that holds only while `lead_id` still owns it (DeleteItem's arguments,
    or a transaction's Delete)."""
    return {
        "TableName": table_name,
        "Key": {"pk": {"S": claim_pk(location_id, identity)}, "sk": {"S": CLAIM_SK}},
        "ConditionExpression": "leadId = :lead",
        "ExpressionAttributeValues": {":lead": {"S": lead_id}},
    }


class DynamoLeadClaimStore(_TableBase):
    """`LeadClaimStore`: one item per (location, identity), last claim wins, TTL `expiresAt`."""

    def claim(self, location_id: str, identities: Sequence[str], lead_id: str, ttl_s: int) -> None:
        requests = [
            {"PutRequest": {"Item": item}} for item in _claim_items(location_id, identities, lead_id, ttl_s)
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
                read = _from_item(item)
                found[str(read["pk"])] = read
            unprocessed = resp.get("UnprocessedKeys", {}).get(self.table_name)
            keys = list(unprocessed["Keys"]) if unprocessed else []
            if not keys:
                break
            time.sleep(0.02 * (2**attempt))
        else:
            raise RuntimeError("lead claims not read: DynamoDB left keys unprocessed")
        now = _epoch()
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
                self.client.delete_item(**_claim_release(self.table_name, location_id, identity, lead_id))
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise  # gone already, or another lead's newer claim: leave it


class DynamoLeadPushStore(_TableBase):
    """`LeadPushStore`: one TransactWriteItems over the mapping, ledger and claim items."""

    def __init__(
        self,
        mappings: DynamoMappingStore,
        ledger: DynamoLedgerStore,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        super().__init__(table_name, client=client, client_source=client_source)
        self._mappings = mappings
        self._ledger = ledger

    def claim_unless_mapped(
        self, location_id: str, lead_id: str, identities: Sequence[str], ttl_s: int
    ) -> LeadClaimResult:
        items: list[TransactWriteItemTypeDef] = [
            {
                "ConditionCheck": {
                    "TableName": self.table_name,
                    "Key": mapping_key(location_id, Entity.CONTACT, Side.RANKR, lead_id),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        items += [
            {"Put": {"TableName": self.table_name, "Item": item}}
            for item in _claim_items(location_id, identities, lead_id, ttl_s)
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
            reasons = exc.response.get("CancellationReasons") or [{}]
            first = reasons[0]
            if first.get("Code") == "ConditionalCheckFailed" and first.get("Item"):
                return LeadClaimResult(
                    claimed=False, mapping=self._mappings._parse(_from_item(first["Item"]))
                )
            return LeadClaimResult(claimed=False)
        return LeadClaimResult(claimed=True)

    def settle_lead(
        self,
        location_id: str,
        lead_id: str,
        *,
        mapping: IdMapping | None,
        ledger: Sequence[LedgerEntry],
        release_identities: Sequence[str],
    ) -> bool:
        items = self._mappings.new_pair_puts(mapping) if mapping is not None else []
        by_key = {(e.location_id, e.entity, e.side, e.record_id): e for e in ledger}
        items += [
            {"Put": {"TableName": self.table_name, "Item": self._ledger._item(e)}} for e in by_key.values()
        ]
        items += [
            {"Delete": _claim_release(self.table_name, location_id, identity, lead_id)}
            for identity in dict.fromkeys(release_identities)
        ]
        if not items:
            return True
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) in ("TransactionCanceledException", "TransactionConflictException"):
                return False
            raise
        return True


class DynamoMappingConfigSource(_TableBase):
    """Per-location / per-account mapping documents: pk `MAPPING#LOC#<id>` or `MAPPING#ACCT#<id>`,
    sk `CONFIG`, attribute `document` (JSON text). Read through `MappingResolver` (cached with a TTL)."""

    @staticmethod
    def _pk(location_id: str | None = None, account_id: str | None = None) -> str:
        if location_id:
            return f"MAPPING#LOC#{location_id}"
        if account_id:
            return f"MAPPING#ACCT#{account_id}"
        raise ValueError("give a location_id or an account_id")

    def get_mapping_document(self, location_id: str, account_id: str | None = None) -> dict[str, Any] | None:
        values = self._get(self._pk(location_id=location_id), "CONFIG")
        if values is None and account_id:
            values = self._get(self._pk(account_id=account_id), "CONFIG")
        if values is None:
            return None
        document = json.loads(values["document"])
        return document if isinstance(document, dict) else {"_invalid": document}

    def get_scoped_document(
        self, *, location_id: str | None = None, account_id: str | None = None
    ) -> dict[str, Any] | None:
        """Exactly one scope's own document (no fallback), e.g. for `rankr-ghl mapping show`."""
        values = self._get(self._pk(location_id, account_id), "CONFIG")
        if values is None:
            return None
        document = json.loads(values["document"])
        return document if isinstance(document, dict) else {"_invalid": document}

    def put_mapping_document(
        self, document: Mapping[str, Any], *, location_id: str | None = None, account_id: str | None = None
    ) -> None:
        """Store a document (validate it first: `rankr_ghl.sync.mapping.load_mapping`)."""
        self.client.put_item(
            TableName=self.table_name,
            Item=_to_item(
                {
                    "pk": self._pk(location_id, account_id),
                    "sk": "CONFIG",
                    "kind": "mapping-config",
                    "document": json.dumps(dict(document), sort_keys=True),
                    "updatedAt": _iso(utcnow()),
                }
            ),
        )

    def delete_mapping_document(
        self, *, location_id: str | None = None, account_id: str | None = None
    ) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": self._pk(location_id, account_id)}, "sk": {"S": "CONFIG"}},
        )


class SyncStateTable:
    """Every SyncStateTable store over one table name and one shared client (built lazily)."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        tombstone_ttl_s: int = DEFAULT_TOMBSTONE_TTL_S,
        ledger_ttl_s: int = DEFAULT_LEDGER_TTL_S,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        name = _table_name(table_name)
        # One holder for every store: the first store used builds (or fetches) the client for all.
        shared = LazyDynamoDBClient(client, client_source).get if client is None else None
        self.table_name = name
        kw: dict[str, Any] = {"client": client, "client_source": shared}
        self.mappings = DynamoMappingStore(name, **kw)
        self.ledger = DynamoLedgerStore(name, ttl_s=ledger_ttl_s, **kw)
        self.tombstones = DynamoTombstoneStore(name, default_ttl_s=tombstone_ttl_s, **kw)
        self.checkpoints = DynamoCheckpointStore(name, **kw)
        self.dedupe = DynamoDedupeStore(name, **kw)
        self.lead_claims = DynamoLeadClaimStore(name, **kw)
        self.lead_push_writes = DynamoLeadPushStore(self.mappings, self.ledger, name, **kw)
        self.mapping_config = DynamoMappingConfigSource(name, **kw)
