"""The bases of the typed models of docs/rankr-api.yaml, and Rankr's timestamp format.

Attributes are snake_case, the wire is camelCase (aliases). Response models ignore unknown fields so that
Rankr can add fields without breaking the connector. Request models forbid unknown fields, so a typo is a
local error rather than a 422 from Rankr.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from rankr_ghl.rankr.timestamps import format_timestamp, in_utc_range

__all__ = [
    "CustomFieldValue",
    "RankrRecord",
    "RankrRequest",
    "RankrResponse",
    "Timestamp",
    "format_timestamp",
]

CustomFieldValue = str | bool | int | float | list[str] | None


# Aware datetime that goes on the wire in Rankr's exact format (so it must exist in UTC: 0001-01-01 at
# +09:30 does not, and the checked-without-pydantic reader refuses it too).
Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(in_utc_range),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]


class RankrResponse(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, defer_build=True
    )


class RankrRecord(RankrResponse):
    """A stored Rankr record: its timestamps, and soft deletes."""

    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: Timestamp | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class RankrRequest(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True
    )

    def to_json(self, *, partial: bool) -> dict[str, Any]:
        """Wire body. `partial` (PATCH) sends only the fields that were set; explicit None clears."""
        if partial:
            return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
