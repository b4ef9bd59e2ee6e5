"""Rankr contacts (docs/rankr-api.yaml): the writes, the record and its page, for the typed client calls.

The records adapter (a contact webhook's path) reads and writes contacts through `contact_wire`, which
checks them exactly as these models do without importing pydantic; tests/unit/rankr/test_rankr_contact_wire.py
keeps the two in step. Tasks and notes (`task_note_models`) and appointments (`appointment_models`) live
apart: each model costs a class build at import."""

from __future__ import annotations

from pydantic import Field

from rankr_ghl.rankr.model_base import CustomFieldValue, RankrRecord, RankrRequest, RankrResponse


class _ContactFields(RankrRequest):
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    company: str | None = Field(default=None, max_length=255)
    source: str | None = Field(default=None, max_length=255)
    tags: list[str] | None = Field(default=None, max_length=100)
    custom_fields: dict[str, CustomFieldValue] | None = None


class ContactCreate(_ContactFields):
    """Body of POST /contacts."""


class ContactUpdate(_ContactFields):
    """Body of PATCH /contacts/{id}: only the fields you set are sent; None clears a field, and a None
    value inside `custom_fields` removes that custom field."""


class Contact(RankrRecord):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    source: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, CustomFieldValue] = Field(default_factory=dict)


class ContactPage(RankrResponse):
    items: list[Contact]
    next_cursor: str | None = None
