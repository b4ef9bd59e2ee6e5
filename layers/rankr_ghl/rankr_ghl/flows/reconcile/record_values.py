"""Small pure helpers over records: digests, timestamps, deleted flags, lead markers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rankr_ghl.sync import diff
from rankr_ghl.sync.mapping import EntityMapping
from rankr_ghl.sync.transforms import LEAD_TAG_PREFIX


def digest8(values: Mapping[str, Any], names: tuple[str, ...]) -> bytes:
    return hashlib.sha256(
        json.dumps([diff.value_digest(values.get(n)) for n in names], separators=(",", ":")).encode()
    ).digest()[:8]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sort_key(record_id: str) -> tuple[str, str]:
    """Order of a search sorted by id: case-insensitive, then the raw id (GHL's string sort)."""
    return (record_id.lower(), record_id)


def is_deleted(record: Mapping[str, Any] | None) -> bool:
    return record is None or record.get("deletedAt") is not None or record.get("deleted") is True


def retryable(exc: Exception) -> bool:
    return bool(getattr(exc, "retryable", False))


def lead_id_from_tags(tags: Any) -> str | None:
    for tag in tags or []:
        if isinstance(tag, str) and tag.lower().startswith(LEAD_TAG_PREFIX):
            return tag[len(LEAD_TAG_PREFIX) :]
    return None


def common_fields(mapping: EntityMapping) -> tuple[str, ...]:
    """Canonical fields that exist on both sides: what "the two sides are equal" means."""
    return tuple(f.name for f in mapping.fields if f.ghl is not None and f.rankr is not None)


def ghl_clears_as_empty_strings(body: Mapping[str, Any]) -> dict[str, Any]:
    """A GHL write body whose custom-field clears are empty strings. GHL documents no meaning for
    `field_value: null` (it may clear, be ignored or be refused); an empty string clears everywhere,
    so a person's clear in Rankr reaches GHL and is never read back as GHL still holding the value."""
    items = body.get("customFields")
    if not isinstance(items, list):
        return dict(body)
    cleared = [
        {**item, "field_value": ""}
        if isinstance(item, dict) and item.get("field_value", "") is None
        else item
        for item in items
    ]
    return {**body, "customFields": cleared}
