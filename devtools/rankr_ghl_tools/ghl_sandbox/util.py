"""Small helpers: ids, GHL timestamp formats, phone/email normalisation."""

from __future__ import annotations

import base64
import random
import re
import secrets
import time
import uuid
from datetime import UTC, datetime

_ID_RNG = random.Random(secrets.randbits(128))  # ids need uniqueness, not secrecy; this is fast


def new_id(length: int = 20) -> str:
    """GHL-like 20 character alphanumeric id."""
    raw = base64.urlsafe_b64encode(_ID_RNG.randbytes((length * 3 + 3) // 4)).decode()
    return raw[:length].replace("-", "x").replace("_", "Z")


def new_token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(24)}"


def new_trace_id() -> str:
    return str(uuid.uuid4())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(epoch_ms: int) -> str:
    """ISO 8601 with milliseconds and Z, like GHL's dateAdded/dateUpdated."""
    dt = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def plain_datetime(epoch_ms: int) -> str:
    """The non-ISO "YYYY-MM-DD HH:MM:SS" of GET /contacts/{id}/appointments."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso_offset(epoch_ms: int) -> str:
    """ISO with a numeric offset, as in calendar events and Appointment* webhooks."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_time_ms(value: object) -> int:
    """Epoch ms from an int/float (ms) or an ISO / "YYYY-MM-DD[ HH:MM:SS]" string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("boolean is not a time")
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("time must be a string or epoch milliseconds")
    text = value.strip()
    if re.fullmatch(r"-?\d{10,}", text):
        return int(text)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except ValueError:
        for fmt in ("%m/%d/%Y", "%Y/%m/%d", "%m-%d-%Y"):
            try:
                dt = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"invalid date: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def normalize_phone(raw: str) -> str:
    """E.164-ish: '+' and digits; 10 digits without '+' are taken as US numbers (GHL's default)."""
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return ""
    if raw.strip().startswith("+"):
        return "+" + digits
    if len(digits) == 10:
        return "+1" + digits
    return "+" + digits


def phone_key(raw: str | None) -> str | None:
    """Digits-only key used for duplicate matching."""
    if not raw:
        return None
    normalized = normalize_phone(raw)
    return normalized[1:] if normalized else None


def email_key(raw: str | None) -> str | None:
    if not raw:
        return None
    return raw.strip().lower() or None
