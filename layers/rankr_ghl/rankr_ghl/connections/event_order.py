"""The order of INSTALL/UNINSTALL events: event time in ms, then webhookId (no pydantic, no I/O).

GHL's `timestamp` is the event's own time and survives retries and replays unchanged; only when it is
absent (the documented examples omit it) does the intake's `receivedAt` stand in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1000 if value > 1e11 else float(value)  # ms or s since the epoch
        return round(seconds * 1000)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return _epoch_ms(float(text))
        try:
            return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return None
    return None


def lifecycle_event_order(message: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(event time in epoch ms, webhookId) of one queued app event; (None, None) when it has no time."""
    event = message.get("event") or {}
    event_ms = _epoch_ms(event.get("timestamp"))
    if event_ms is None:
        event_ms = _epoch_ms(message.get("receivedAt"))
    webhook_id = message.get("webhookId") or event.get("webhookId")
    return event_ms, str(webhook_id) if webhook_id else None
