"""The webhook queue's message format, shared by the intake (writes it) and the worker (reads it).

Kept apart from `rankr_ghl.flows.intake` so the worker reads its messages without importing the intake
service (signature checks, dedupe, SQS sending): less to load on a worker's cold start.
"""

from __future__ import annotations

import json
from typing import Any, Final

MESSAGE_SCHEMA_VERSION: Final = 1

CONTACT_EVENTS: Final = frozenset(
    {"ContactCreate", "ContactUpdate", "ContactDelete", "ContactTagUpdate", "ContactDndUpdate"}
)
TASK_EVENTS: Final = frozenset({"TaskCreate", "TaskComplete", "TaskDelete"})
NOTE_EVENTS: Final = frozenset({"NoteCreate", "NoteUpdate", "NoteDelete"})
APPOINTMENT_EVENTS: Final = frozenset({"AppointmentCreate", "AppointmentUpdate", "AppointmentDelete"})
APP_EVENTS: Final = frozenset({"INSTALL", "UNINSTALL"})
SUPPORTED_EVENT_TYPES: Final = CONTACT_EVENTS | TASK_EVENTS | NOTE_EVENTS | APPOINTMENT_EVENTS | APP_EVENTS


def parse_queued_message(body: str) -> dict[str, Any]:
    """Inverse of `rankr_ghl.flows.intake.build_message` for the worker: the message dict,
    version-checked."""
    message = json.loads(body)
    if not isinstance(message, dict) or message.get("v") != MESSAGE_SCHEMA_VERSION:
        raise ValueError("unsupported webhook message version")
    if not isinstance(message.get("event"), dict) or not isinstance(message.get("eventType"), str):
        raise ValueError("webhook message lacks event or eventType")
    return message
