"""Per-location / per-account mapping documents on SyncStateTable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rankr_ghl.aws.sync_state.items import (
    TableBase,
    iso_time,
    to_item,
)
from rankr_ghl.sync.ports import (
    utcnow,
)


class DynamoMappingConfigSource(TableBase):
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
        location_pk = self._pk(location_id=location_id)
        if account_id:
            # Both scopes in one round trip: the location's own document wins over its account's.
            account_pk = self._pk(account_id=account_id)
            found = {
                str(item["pk"]): item
                for item in self._batch_get([(location_pk, "CONFIG"), (account_pk, "CONFIG")], what="mapping")
            }
            values = found.get(location_pk) or found.get(account_pk)
        else:
            values = self._get(location_pk, "CONFIG")
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
            Item=to_item(
                {
                    "pk": self._pk(location_id, account_id),
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
            Key={"pk": {"S": self._pk(location_id, account_id)}, "sk": {"S": "CONFIG"}},
        )
