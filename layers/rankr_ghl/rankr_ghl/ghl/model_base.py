"""The base of every GHL payload model, and GHL's date spellings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel


def _parse_ghl_datetime(value: Any) -> Any:
    """Accept GHL's date spellings; pydantic handles ISO-8601 and ``YYYY-MM-DD HH:MM:SS`` itself."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.isdigit():  # epoch milliseconds as a string
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        return text
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)  # GHL epochs are milliseconds
    return value


GHLDateTime = Annotated[datetime, BeforeValidator(_parse_ghl_datetime)]


class GHLModel(BaseModel):
    """Response model: camelCase wire names, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        protected_namespaces=(),
        defer_build=True,
    )

    def to_api(self) -> dict[str, Any]:
        """Wire form: GHL field names, unset fields omitted."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class GHLRequest(GHLModel):
    """Request body model: camelCase wire names, unknown fields rejected before GHL sees them."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True
    )
