"""Rankr appointments (docs/rankr-api.yaml): the mirror's write, the record and its page."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rankr_ghl.rankr.model_base import RankrRecord, RankrRequest, RankrResponse, Timestamp


class AppointmentPut(RankrRequest):
    """Full mirrored state of a GHL appointment (PUT replaces everything)."""

    status: str = Field(min_length=1, max_length=50)
    start_time: Timestamp
    end_time: Timestamp
    title: str | None = Field(default=None, max_length=500)
    contact_id: str | None = None
    calendar_id: str | None = Field(default=None, max_length=128)

    def to_json(self, *, partial: bool = False) -> dict[str, Any]:
        # A mirror is a full replace: send every field, nulls included.
        return self.model_dump(mode="json", by_alias=True)


class Appointment(RankrRecord):
    external_id: str
    status: str
    start_time: Timestamp
    end_time: Timestamp
    title: str | None = None
    contact_id: str | None = None
    calendar_id: str | None = None


class AppointmentPage(RankrResponse):
    items: list[Appointment]
    next_cursor: str | None = None
