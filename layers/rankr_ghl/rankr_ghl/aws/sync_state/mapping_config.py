"""Per-location / per-account mapping documents on SyncStateTable."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rankr_ghl.aws.sync_state.items import (
    TableBase,
    iso_time,
    to_item,
)
from rankr_ghl.sync.ports import (
    utcnow,
)


def document_pk(location_id: str | None = None, account_id: str | None = None) -> str:
    if location_id:
        return f"MAPPING#LOC#{location_id}"
    if account_id:
        return f"MAPPING#ACCT#{account_id}"
    raise ValueError("give a location_id or an account_id")


def document_keys(location_id: str, account_id: str | None) -> list[tuple[str, str]]:
    """The keys of a location's and (if given) its account's documents, to read in one BatchGetItem."""
    keys = [(document_pk(location_id=location_id), "CONFIG")]
    if account_id:
        keys.append((document_pk(account_id=account_id), "CONFIG"))
    return keys


def pick_document(
    found: Sequence[Mapping[str, Any]], location_id: str, account_id: str | None
) -> dict[str, Any] | None:
    """The document that applies among `found` items: the location's own, else its account's."""
    by_pk = {str(item["pk"]): item for item in found if item.get("sk") == "CONFIG"}
    values = by_pk.get(document_pk(location_id=location_id))
    if values is None and account_id:
        values = by_pk.get(document_pk(account_id=account_id))
    return None if values is None else _document(values)


def _document(values: Mapping[str, Any]) -> dict[str, Any]:
    document = json.loads(values["document"])
    return document if isinstance(document, dict) else {"_invalid": document}


class DynamoMappingConfigSource(TableBase):
    """Per-location / per-account mapping documents: pk `MAPPING#LOC#<id>` or `MAPPING#ACCT#<id>`,
    sk `CONFIG`, attribute `document` (JSON text). Read through `MappingResolver` (cached with a TTL)."""

    def get_mapping_document(self, location_id: str, account_id: str | None = None) -> dict[str, Any] | None:
        if account_id:
            # Both scopes in one round trip: the location's own document wins over its account's.
            found = self._batch_get(document_keys(location_id, account_id), what="mapping")
            return pick_document(found, location_id, account_id)
        values = self._get(document_pk(location_id=location_id), "CONFIG")
        return None if values is None else _document(values)

    def get_scoped_document(
        self, *, location_id: str | None = None, account_id: str | None = None
    ) -> dict[str, Any] | None:
        """Exactly one scope's own document (no fallback), e.g. for `rankr-ghl mapping show`."""
        values = self._get(document_pk(location_id, account_id), "CONFIG")
        return None if values is None else _document(values)

    def put_mapping_document(
        self, document: Mapping[str, Any], *, location_id: str | None = None, account_id: str | None = None
    ) -> None:
        """Store a document (validate it first: `rankr_ghl.sync.mapping.load_mapping`)."""
        self.client.put_item(
            TableName=self.table_name,
            Item=to_item(
                {
                    "pk": document_pk(location_id, account_id),
                    "sk": "CONFIG",
                    "kind": "mapping-config",
                    "document": json.dumps(dict(document), sort_keys=True),
                    "updatedAt": iso_time(utcnow()),
                }
            ),
        )

    def delete_mapping_document(
        self, *, location_id: str | None = None, account_id: str | None = None
    ) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": document_pk(location_id, account_id)}, "sk": {"S": "CONFIG"}},
        )
