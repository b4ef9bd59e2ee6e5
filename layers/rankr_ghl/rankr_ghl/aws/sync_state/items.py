"""SyncStateTable items: keys, (de)serialisation, the mapping, ledger and lead-claim items every store
shares, and the base of the stores (docs/table-design.md has the key design).

moto never expires TTL items, so every read treats `expiresAt` in the past as absent.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from rankr_ghl.aws.dynamodb import BATCH_ATTEMPTS, DynamoDBClientSource, LazyDynamoDBClient
from rankr_ghl.sync.ports import IdMapping, LeadClaim, LedgerEntry, utcnow
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

_SER = TypeSerializer()
_DESER = TypeDeserializer()

DEFAULT_TOMBSTONE_TTL_S = 30 * 86400
DEFAULT_LEDGER_TTL_S = 180 * 86400
MAPPING_TRANSACTION_ATTEMPTS = 6


def table_name_or_fail(name: str | None) -> str:
    if not name:
        raise RuntimeError("SyncStateTable name missing (Settings.sync_table)")
    return name


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {k: _SER.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _DESER.deserialize(v) for k, v in item.items()}


def iso_time(value: datetime) -> str:
    return value.isoformat()


def epoch_now() -> int:
    return int(time.time())


def record_pk(location_id: str, entity: Entity, side: Side, record_id: str) -> str:
    return f"LOC#{location_id}#{Entity(entity).value}#{Side(side).value}#{record_id}"


def mapping_key(location_id: str, entity: Entity, side: Side, record_id: str) -> dict[str, Any]:
    """The key of one side's mapping item."""
    return {"pk": {"S": record_pk(location_id, entity, side, record_id)}, "sk": {"S": "MAP"}}


class TableBase:
    """A store on SyncStateTable: its table name and the (lazily fetched) shared client."""

    def __init__(
        self,
        table_name: str | None = None,
        *,
        client: DynamoDBClient | None = None,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        self.table_name = table_name_or_fail(table_name)
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
        values = from_item(item)
        expires = values.get("expiresAt")
        if expires is not None and int(expires) < epoch_now():
            return None
        return values

    def _batch_get(self, keys: Sequence[tuple[str, str]], *, what: str) -> list[dict[str, Any]]:
        """The items of `keys` ((pk, sk) pairs) in one consistent BatchGetItem, in no particular order,
        re-asking for what DynamoDB leaves unprocessed (with backoff); items past `expiresAt` included."""
        pending: list[Any] = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys]
        items: list[dict[str, Any]] = []
        for attempt in range(BATCH_ATTEMPTS):
            resp = self.client.batch_get_item(
                RequestItems={self.table_name: {"Keys": pending, "ConsistentRead": True}}
            )
            items.extend(from_item(item) for item in resp.get("Responses", {}).get(self.table_name, []))
            unprocessed = resp.get("UnprocessedKeys", {}).get(self.table_name)
            pending = list(unprocessed["Keys"]) if unprocessed else []
            if not pending:
                return items
            time.sleep(0.02 * (2**attempt))
        raise RuntimeError(f"{what} not read: DynamoDB left keys unprocessed")


def mapping_item(m: IdMapping, side: Side) -> dict[str, Any]:
    """The values of `m`'s item on `side` (the GHL side carries the gsi1 keys that list a location)."""
    values: dict[str, Any] = {
        "pk": record_pk(m.location_id, m.entity, side, m.ghl_id if side is Side.GHL else m.rankr_id),
        "sk": "MAP",
        "kind": "mapping",
        "locationId": m.location_id,
        "entity": m.entity.value,
        "ghlId": m.ghl_id,
        "rankrId": m.rankr_id,
        "createdAt": iso_time(m.created_at),
        "ghlParentId": m.ghl_parent_id,
        "rankrParentId": m.rankr_parent_id,
        "accountId": m.account_id,
        "attributes": dict(m.attributes) or None,
    }
    if side is Side.GHL:
        values["gsi1pk"] = f"LOC#{m.location_id}#MAP#{m.entity.value}"
        values["gsi1sk"] = m.ghl_id
    return values


def parse_mapping(values: Mapping[str, Any]) -> IdMapping:
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


def mapping_pair_puts(table_name: str, mapping: IdMapping) -> list[TransactWriteItemTypeDef]:
    """Transaction items that store both sides of `mapping`, each only where that side is unmapped."""
    return [
        {
            "Put": {
                "TableName": table_name,
                "Item": to_item(mapping_item(mapping, side)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for side in (Side.GHL, Side.RANKR)
    ]


def mapping_side_key(mapping: IdMapping, side: Side) -> tuple[dict[str, Any], str, str]:
    """The key of `mapping`'s item on `side`, and the attribute and value naming the other side
    (what proves the item still belongs to this pair)."""
    record_id, other_attr, other_id = (
        (mapping.ghl_id, "rankrId", mapping.rankr_id)
        if side is Side.GHL
        else (mapping.rankr_id, "ghlId", mapping.ghl_id)
    )
    return mapping_key(mapping.location_id, mapping.entity, side, record_id), other_attr, other_id


def parse_ledger_entry(
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
        link_base=bool(values.get("linkBase")),
    )


def ledger_item(entry: LedgerEntry, ttl_s: int) -> dict[str, AttributeValueTypeDef]:
    return to_item(
        {
            "pk": record_pk(entry.location_id, entry.entity, entry.side, entry.record_id),
            "sk": "LEDGER",
            "kind": "ledger",
            "fieldDigests": dict(entry.field_digests) or None,
            "digest": entry.digest,
            "writtenAt": iso_time(entry.written_at),
            "origin": entry.origin,
            "correlationId": entry.correlation_id,
            "linkBase": True if entry.link_base else None,
            "expiresAt": epoch_now() + ttl_s,
        }
    )


CLAIM_SK = "CLAIM"


def claim_pk(location_id: str, identity: str) -> str:
    """A claim's key: the identity (an e-mail or phone) is hashed, so no PII sits in the table."""
    kind = identity.partition(":")[0]
    digest = hashlib.sha256(identity.encode()).hexdigest()[:40]
    return f"LOC#{location_id}#LEADCLAIM#{kind}#{digest}"


def claim_pks(location_id: str, identities: Sequence[str]) -> dict[str, str]:
    """The claim key of each distinct identity, in the order given: pk -> identity."""
    return {claim_pk(location_id, identity): identity for identity in dict.fromkeys(identities)}


def live_claims(
    location_id: str, by_pk: Mapping[str, str], found: Sequence[Mapping[str, Any]]
) -> list[LeadClaim]:
    """The claims among `found` items (read for `by_pk`'s keys) that have not expired, in the order of
    `by_pk` (moto never expires TTL items)."""
    by_key = {str(values["pk"]): values for values in found if values.get("sk") == CLAIM_SK}
    now = epoch_now()
    claims: list[LeadClaim] = []
    for pk, identity in by_pk.items():
        values = by_key.get(pk)
        if values is None or int(values.get("expiresAt") or 0) < now:
            continue
        claims.append(
            LeadClaim(
                location_id=location_id,
                identity=identity,
                lead_id=str(values["leadId"]),
                claimed_at=datetime.fromisoformat(values["claimedAt"]),
            )
        )
    return claims


def claim_items(
    location_id: str, identities: Sequence[str], lead_id: str, ttl_s: int
) -> list[dict[str, AttributeValueTypeDef]]:
    """The lead's claim items, one per distinct identity."""
    at = iso_time(utcnow())
    expires = epoch_now() + ttl_s
    return [
        to_item(
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


def claim_release(table_name: str, location_id: str, identity: str, lead_id: str) -> Any:
    """A delete of one claim that holds only while `lead_id` still owns it (DeleteItem's arguments,
    or a transaction's Delete)."""
    return {
        "TableName": table_name,
        "Key": {"pk": {"S": claim_pk(location_id, identity)}, "sk": {"S": CLAIM_SK}},
        "ConditionExpression": "leadId = :lead",
        "ExpressionAttributeValues": {":lead": {"S": lead_id}},
    }
