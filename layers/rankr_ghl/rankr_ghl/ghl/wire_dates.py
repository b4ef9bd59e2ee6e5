"""GHL's date spellings, read without pydantic: what `model_base.GHLDateTime` accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rankr_ghl.wire_values import parse_datetime


def ghl_datetime(value: Any) -> datetime:
    """Epoch milliseconds (GHL's epochs are milliseconds, whatever their size) as a number or a string
    of digits; else what pydantic reads (`wire_values.parse_datetime`), around any spaces. ValueError
    for anything else, blank text included."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            value = int(text)
        else:
            return parse_datetime(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):  # beyond datetime's years, or not a number
            raise ValueError("not a valid datetime") from None
    return parse_datetime(value)
