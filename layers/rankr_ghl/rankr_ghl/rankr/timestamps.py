"""Rankr's timestamp format, read and written without pydantic.

Rankr writes RFC 3339 in UTC with millisecond precision (2025-01-31T12:00:00.000Z). The connector reads
what pydantic's `AwareDatetime` reads (ISO 8601 extended form or a Unix epoch, always with an offset), so a
contact read on a webhook's first event, which is checked without pydantic, reads the same as one read
through the typed models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rankr_ghl.wire_values import parse_datetime


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, the format Rankr uses: 2025-01-31T12:00:00.000Z."""
    if value.tzinfo is None:
        raise ValueError("timestamps sent to Rankr must be timezone-aware")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def in_utc_range(value: datetime) -> datetime:
    """`value` if it exists in UTC (within datetime's years 1..9999 there); ValueError otherwise."""
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp is out of range in UTC") from exc
    return value


def parse_timestamp(value: Any) -> datetime:
    """A timezone-aware datetime from what pydantic's `AwareDatetime` accepts; ValueError otherwise."""
    parsed = parse_datetime(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("timestamp has no timezone")
    return parsed
