"""Rankr API client (contract: docs/rankr-api.yaml)."""

# Exports load on first access (PEP 562), so importing one submodule (e.g. `.errors`) does not pull in
# the rest of the package and its dependencies at cold start.
from __future__ import annotations

from typing import TYPE_CHECKING

from rankr_ghl.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from rankr_ghl.rankr.appointment_models import (
        Appointment,
        AppointmentPage,
        AppointmentPut,
    )
    from rankr_ghl.rankr.client import ApiKey, RankrClient
    from rankr_ghl.rankr.contact_models import (
        Contact,
        ContactCreate,
        ContactPage,
        ContactUpdate,
    )
    from rankr_ghl.rankr.errors import (
        RankrBadRequest,
        RankrConflict,
        RankrConnectionError,
        RankrError,
        RankrForbidden,
        RankrIdempotencyKeyReused,
        RankrNotFound,
        RankrRateLimited,
        RankrResourceDeleted,
        RankrServerError,
        RankrTimeout,
        RankrUnauthorized,
        RankrValidationError,
    )
    from rankr_ghl.rankr.keys import ghl_mirror_key, idempotency_key
    from rankr_ghl.rankr.task_note_models import (
        Note,
        NoteCreate,
        NotePage,
        NoteUpdate,
        Task,
        TaskCreate,
        TaskPage,
        TaskUpdate,
    )

_EXPORTS = {
    "ApiKey": "rankr_ghl.rankr.client",
    "Appointment": "rankr_ghl.rankr.appointment_models",
    "AppointmentPage": "rankr_ghl.rankr.appointment_models",
    "AppointmentPut": "rankr_ghl.rankr.appointment_models",
    "Contact": "rankr_ghl.rankr.contact_models",
    "ContactCreate": "rankr_ghl.rankr.contact_models",
    "ContactPage": "rankr_ghl.rankr.contact_models",
    "ContactUpdate": "rankr_ghl.rankr.contact_models",
    "Note": "rankr_ghl.rankr.task_note_models",
    "NoteCreate": "rankr_ghl.rankr.task_note_models",
    "NotePage": "rankr_ghl.rankr.task_note_models",
    "NoteUpdate": "rankr_ghl.rankr.task_note_models",
    "RankrBadRequest": "rankr_ghl.rankr.errors",
    "RankrClient": "rankr_ghl.rankr.client",
    "RankrConflict": "rankr_ghl.rankr.errors",
    "RankrConnectionError": "rankr_ghl.rankr.errors",
    "RankrError": "rankr_ghl.rankr.errors",
    "RankrForbidden": "rankr_ghl.rankr.errors",
    "RankrIdempotencyKeyReused": "rankr_ghl.rankr.errors",
    "RankrNotFound": "rankr_ghl.rankr.errors",
    "RankrRateLimited": "rankr_ghl.rankr.errors",
    "RankrResourceDeleted": "rankr_ghl.rankr.errors",
    "RankrServerError": "rankr_ghl.rankr.errors",
    "RankrTimeout": "rankr_ghl.rankr.errors",
    "RankrUnauthorized": "rankr_ghl.rankr.errors",
    "RankrValidationError": "rankr_ghl.rankr.errors",
    "Task": "rankr_ghl.rankr.task_note_models",
    "TaskCreate": "rankr_ghl.rankr.task_note_models",
    "TaskPage": "rankr_ghl.rankr.task_note_models",
    "TaskUpdate": "rankr_ghl.rankr.task_note_models",
    "ghl_mirror_key": "rankr_ghl.rankr.keys",
    "idempotency_key": "rankr_ghl.rankr.keys",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "ApiKey",
    "Appointment",
    "AppointmentPage",
    "AppointmentPut",
    "Contact",
    "ContactCreate",
    "ContactPage",
    "ContactUpdate",
    "Note",
    "NoteCreate",
    "NotePage",
    "NoteUpdate",
    "RankrBadRequest",
    "RankrClient",
    "RankrConflict",
    "RankrConnectionError",
    "RankrError",
    "RankrForbidden",
    "RankrIdempotencyKeyReused",
    "RankrNotFound",
    "RankrRateLimited",
    "RankrResourceDeleted",
    "RankrServerError",
    "RankrTimeout",
    "RankrUnauthorized",
    "RankrValidationError",
    "Task",
    "TaskCreate",
    "TaskPage",
    "TaskUpdate",
    "ghl_mirror_key",
    "idempotency_key",
]
