"""The lead's fields as a GHL contact body, through the location's field mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rankr_ghl.flows.lead_push.lead import Lead
from rankr_ghl.flows.lead_push.results import ErrorCode, LeadPushFailure
from rankr_ghl.sync import diff
from rankr_ghl.sync.entity_mapping import RankrCustomAccessor
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.types import Side

if TYPE_CHECKING:
    from rankr_ghl.sync.mapping import FieldMapping


def _unknown_custom_fields(mapping: FieldMapping, lead: Lead) -> list[str]:
    known = {
        spec.rankr for spec in mapping.document.contact.custom_fields if spec.direction.allows(Side.RANKR)
    }
    return sorted(set(lead.customFields) - known)


class SyncLeadMapper:
    """Lead fields -> GHL body through the location's field mapping (custom fields by Rankr name)."""

    def __init__(self, resolver: MappingResolver) -> None:
        self._resolver = resolver

    def to_ghl(self, location_id: str, lead: Lead) -> dict[str, Any]:
        mapping = self._resolver.for_location(location_id, lead.rankrAccountId)
        unknown = _unknown_custom_fields(mapping, lead)
        if unknown:
            raise LeadPushFailure(
                ErrorCode.INVALID_LEAD,
                f"customFields: {', '.join(unknown)} not in the field mapping of location {location_id}",
                retryable=False,
            )
        contact = mapping.contact
        write = contact.to_ghl(contact.from_rankr(lead.rankr_record()), mode="create")
        body = {k: v for k, v in write.body.items() if k not in ("tags", "customFields")}
        # Only the custom fields the lead carries (null clears one): an absent one is left alone.
        given = {
            ref
            for spec in mapping.document.contact.custom_fields
            if spec.rankr in lead.customFields
            for ref in (spec.ghl_id, spec.ghl_key)
            if ref
        }
        custom = [
            item
            for item in write.body.get("customFields") or []
            if item.get("id") in given or item.get("key") in given
        ]
        if custom:
            body["customFields"] = custom
        return body

    def superseded_fields(self, location_id: str, lead: Lead, current: Mapping[str, Any]) -> list[str]:
        """The fields lead push would write (those flowing Rankr -> GHL), compared in canonical form so
        formatting alone never supersedes a payload. Only what the lead carries is compared: a field it
        omits (or fills from a default, such as `source`) is read from `current`, and a custom field
        counts only when the lead carries it."""
        contact = self._resolver.for_location(location_id, lead.rankrAccountId).contact
        names = [
            spec.name
            for spec in contact.fields
            if spec.flows_from(Side.RANKR)
            and (not isinstance(spec.rankr, RankrCustomAccessor) or spec.rankr.key in lead.customFields)
        ]
        given = set(lead.given_fields) | ({"firstName", "lastName"} if "name" in lead.given_fields else set())
        sent = {
            key: value if key in given else current.get(key) for key, value in lead.rankr_record().items()
        }
        return diff.changed_fields(contact.from_rankr(sent), contact.from_rankr(current), names)
