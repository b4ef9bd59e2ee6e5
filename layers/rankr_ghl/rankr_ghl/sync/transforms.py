"""Value transforms applied when a side's raw value becomes a canonical value.

Every transform is total: a value it cannot understand comes back unchanged (trimmed), never an
exception, so one odd record can not stop a sync halfway. Transforms are idempotent, which is what
makes "normalise both sides, then compare" a stable echo test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

_SPACES = re.compile(r"\s+")
_EXTENSION = re.compile(r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d+\s*$")
_PHONE_ALLOWED = re.compile(r"^[\d\s().\-/+]+$")
_COUNTRY_CODE = re.compile(r"^\+[1-9]\d{0,2}$")
_E164_MIN_DIGITS = 8  # shortest real numbers (country code + subscriber) are around 8 digits
_E164_MAX_DIGITS = 15


class FieldKind(StrEnum):
    """Shape of a field's value; decides which transforms make sense."""

    STRING = "string"
    LIST = "list"  # list of strings (tags)
    BOOL = "bool"
    DATETIME = "datetime"
    ANY = "any"  # custom field values: string, number, list or object


def trim(value: Any) -> Any:
    """Strip surrounding whitespace and collapse inner runs; empty strings become None."""
    if isinstance(value, str):
        cleaned = _SPACES.sub(" ", value).strip()
        return cleaned or None
    if isinstance(value, list):
        return [trim(v) for v in value if trim(v) is not None]
    return value


def lowercase(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [lowercase(v) for v in value]
    return value


# Lead push marks the GHL contact of a lead without e-mail or phone with `rankr-lead:<leadId>` so it
# can be found again. The marker is the connector's, not the user's: it never reaches Rankr and is never
# removed from GHL by a sync.
LEAD_TAG_PREFIX = "rankr-lead:"


def normalise_tags(value: Any) -> Any:
    """Tags as a set: trimmed, lower case (GHL lower-cases tags), de-duplicated and sorted, without the
    connector's own lead markers."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple | set):
        return value
    tags = {t.lower() for t in (trim(str(v)) for v in value if v is not None) if t}
    return sorted(t for t in tags if not t.startswith(LEAD_TAG_PREFIX))


def e164(value: Any, default_country_code: str = "+1") -> Any:
    """Best-effort E.164: '(555) 123-4567' -> '+15551234567' with default '+1'.

    Handles a leading '+', the '00' international prefix, national numbers with a trunk '0'
    (e.g. UK '07700 900123' with '+44'), and NANP numbers written with a leading '1'.
    Anything that does not look like a phone number is returned trimmed and otherwise untouched.
    """
    if not isinstance(value, str):
        return value
    text = trim(value)
    if text is None:
        return None
    core = _EXTENSION.sub("", text)
    if not _PHONE_ALLOWED.match(core):
        return text
    international = core.lstrip().startswith("+")
    digits = re.sub(r"\D", "", core)
    if not digits:
        return text
    if international:
        candidate = digits
    elif digits.startswith("00"):
        candidate = digits[2:]
    else:
        cc = default_country_code.lstrip("+")
        if cc == "1":
            # NANP: ten digits, optionally preceded by the trunk/country digit '1'.
            if len(digits) == 11 and digits.startswith("1"):
                candidate = digits
            elif len(digits) == 10:
                candidate = "1" + digits
            else:
                return text
        else:
            national = digits[1:] if digits.startswith("0") else digits
            candidate = cc + national
    if not (_E164_MIN_DIGITS <= len(candidate) <= _E164_MAX_DIGITS) or candidate.startswith("0"):
        return text
    return "+" + candidate


def is_country_code(code: str) -> bool:
    return bool(_COUNTRY_CODE.match(code))


def iso_datetime(value: Any) -> Any:
    """Normalise a point in time to 'YYYY-MM-DDTHH:MM:SSZ' (UTC, whole seconds).

    Accepts ISO 8601 with 'Z' or an offset, GHL's 'YYYY-MM-DD HH:MM:SS' (naive: read as UTC),
    epoch milliseconds, and `datetime`. A bare date stays a date ('YYYY-MM-DD').
    """
    if value is None or value == "":
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        return value
    elif isinstance(value, int | float):
        parsed = datetime.fromtimestamp(value / 1000, tz=UTC)
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return text
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text or None
    if parsed is None:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_bool(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes", "y", "on"}:
            return True
        if lowered in {"false", "0", "no", "n", "off", ""}:
            return False
    return value


def split_full_name(full: Any) -> tuple[str | None, str | None]:
    """'Mary Ann Smith' -> ('Mary', 'Ann Smith'): the first word is the first name."""
    text = trim(full) if isinstance(full, str) else None
    if not text:
        return None, None
    first, _, rest = text.partition(" ")
    return first, (rest or None)


def join_name(first: Any, last: Any) -> str | None:
    parts = [p for p in (trim(first), trim(last)) if isinstance(p, str) and p]
    return " ".join(parts) or None


# name -> (function(value, options) , kinds it applies to)
Transform = Callable[[Any, "TransformOptions"], Any]


class TransformOptions:
    """Mapping-wide settings a transform may need."""

    def __init__(self, default_country_code: str = "+1") -> None:
        self.default_country_code = default_country_code


TRANSFORMS: dict[str, tuple[Transform, frozenset[FieldKind]]] = {
    "trim": (lambda v, _o: trim(v), frozenset({FieldKind.STRING, FieldKind.LIST, FieldKind.ANY})),
    "lowercase": (lambda v, _o: lowercase(v), frozenset({FieldKind.STRING, FieldKind.LIST, FieldKind.ANY})),
    "e164": (
        lambda v, o: e164(v, o.default_country_code),
        frozenset({FieldKind.STRING, FieldKind.ANY}),
    ),
    "tags": (lambda v, _o: normalise_tags(v), frozenset({FieldKind.LIST})),
    "datetime": (
        lambda v, _o: iso_datetime(v),
        frozenset({FieldKind.DATETIME, FieldKind.STRING, FieldKind.ANY}),
    ),
    "bool": (lambda v, _o: to_bool(v), frozenset({FieldKind.BOOL, FieldKind.ANY})),
}

# Always applied per kind, before the configured transforms, so canonical forms stay comparable.
BASE_TRANSFORMS: dict[FieldKind, tuple[str, ...]] = {
    FieldKind.STRING: ("trim",),
    FieldKind.LIST: ("tags",),
    FieldKind.BOOL: ("bool",),
    FieldKind.DATETIME: ("datetime",),
    FieldKind.ANY: ("trim",),
}


def apply(names: tuple[str, ...], value: Any, options: TransformOptions) -> Any:
    for name in names:
        func, _kinds = TRANSFORMS[name]
        value = func(value, options)
    return value
