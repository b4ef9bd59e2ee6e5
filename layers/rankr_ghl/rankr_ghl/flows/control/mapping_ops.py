"""The control API's mapping ops: read, validate and store the field mapping of an account or of
one of its locations. A document is validated before it is stored; its digest is its version, and
the flows pick a stored change up within the resolver's cache TTL (no redeploy)."""

from __future__ import annotations

from typing import Any, Protocol

from rankr_ghl.flows.control.contract import (
    ControlError,
    MappingGetRequest,
    MappingPutRequest,
    MappingValidateRequest,
)
from rankr_ghl.flows.control.operator_contract import (
    OpsMappingDeleteRequest,
    OpsMappingGetRequest,
    OpsMappingPutRequest,
)
from rankr_ghl.sync.mapping import MappingError, default_mapping, load_mapping


class MappingDocuments(Protocol):
    def get_scoped_document(
        self, *, location_id: str | None = None, account_id: str | None = None
    ) -> dict[str, Any] | None: ...

    def put_mapping_document(
        self, document: dict[str, Any], *, location_id: str | None = None, account_id: str | None = None
    ) -> None: ...


class DeletableMappingDocuments(MappingDocuments, Protocol):
    def delete_mapping_document(
        self, *, location_id: str | None = None, account_id: str | None = None
    ) -> None: ...


def _scope(location_id: str | None, account_id: str | None) -> dict[str, str | None]:
    return {"location_id": location_id, "account_id": None if location_id else account_id}


def get_mapping(
    documents: MappingDocuments, request: MappingGetRequest | OpsMappingGetRequest
) -> dict[str, Any]:
    own = documents.get_scoped_document(**_scope(request.location_id, request.rankr_account_id))
    if own is None:
        fallback = default_mapping()
        return {
            "source": "default",
            "version": fallback.digest,
            "document": fallback.document.to_json(),
        }
    try:
        version: str | None = load_mapping(own).digest
    except MappingError:
        version = None  # stored before a stricter validator; mapping.put replaces it
    return {"source": "location" if request.location_id else "account", "version": version, "document": own}


def validate_mapping(
    request: MappingValidateRequest | MappingPutRequest | OpsMappingPutRequest,
) -> dict[str, Any]:
    try:
        mapping = load_mapping(request.document)
    except MappingError as err:
        return {"valid": False, "problems": err.problems[:50]}
    fields = {e.value: len(m.fields) for e, m in mapping.entities.items() if m.enabled}
    return {"valid": True, "version": mapping.digest, "fieldsPerEntity": fields}


def put_mapping(
    documents: MappingDocuments, request: MappingPutRequest | OpsMappingPutRequest
) -> dict[str, Any]:
    checked = validate_mapping(request)
    if not checked["valid"]:
        raise ControlError("invalid_mapping", "; ".join(checked["problems"][:10]))
    document = load_mapping(request.document).document.to_json()
    documents.put_mapping_document(document, **_scope(request.location_id, request.rankr_account_id))
    return {
        "stored": True,
        "version": checked["version"],
        "scope": "location" if request.location_id else "account",
    }


def delete_mapping(documents: DeletableMappingDocuments, request: OpsMappingDeleteRequest) -> dict[str, Any]:
    documents.delete_mapping_document(**_scope(request.location_id, request.rankr_account_id))
    return {"deleted": True, "scope": "location" if request.location_id else "account"}
