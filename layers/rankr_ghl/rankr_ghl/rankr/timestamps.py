"""Rankr's timestamp format, read and written without pydantic.

Rankr writes RFC 3339 in UTC with millisecond precision (2025-01-31T12:00:00.000Z). The connector reads
what pydantic's `AwareDatetime` reads (ISO 8601 extended form or a Unix epoch, always with an offset), so a
contact read on a webhook's first event, which is checked without pydantic, reads the same as one read
through the typed models.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rankr_ghl.wire_values import parse_datetime

# The ISO 8601 extended form pydantic accepts: `T`, `t` or a space between date and time, optional
# seconds and fraction (`.` or `,`), and `Z` or a +hh:mm / +hhmm offset. Basic forms (20250131T1200),
# week dates and hour-only offsets are refused, as pydantic refuses them.
_ISO_EXTENDED = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?"
)
# A Unix epoch written as text, as pydantic reads it: "1738324800", "+1", "0.", ".5".
_EPOCH_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
# pydantic reads an epoch above this as milliseconds, below it as seconds.
_EPOCH_MS_THRESHOLD = 20_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, the format Rankr uses: 2025-01-31T12:00:00.000Z."""
    if value.tzinfo is None:
        raise ValueError("timestamps sent to Rankr must be timezone-aware")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(value: Any) -> datetime:
    """A timezone-aware datetime from what pydantic's `AwareDatetime` accepts; ValueError otherwise."""
    if isinstance(value, str):
        if _EPOCH_TEXT.fullmatch(value):
            value = float(value) if "." in value else int(value)
        elif _ISO_EXTENDED.fullmatch(value):
            value = value.upper()
        else:
            raise ValueError("not a valid datetime")
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            # Whole epochs are counted exactly (a float would lose the last millisecond).
            if abs(value) > _EPOCH_MS_THRESHOLD:
                return _EPOCH + timedelta(milliseconds=value)
            return _EPOCH + timedelta(seconds=value)
        parsed = parse_datetime(value)
    except OverflowError:
        raise ValueError("datetime out of range") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("timestamp has no timezone")
    return parsed
