"""GHL contact writes (create, update, upsert, delete, tags) and their answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from rankr_ghl.ghl.contact_models import Contact, DndSettings
from rankr_ghl.ghl.model_base import GHLModel, GHLRequest


class InboundDndSetting(GHLModel):
    status: Literal["active", "inactive"] | str
    message: str | None = None


class InboundDndSettings(GHLModel):
    all: InboundDndSetting | None = None


class CustomFieldInput(GHLRequest):
    """A custom field as GHL accepts it: ``{id|key, field_value}``."""

    id: str | None = None
    key: str | None = None
    field_value: Any = Field(None, alias="field_value")

    @model_validator(mode="after")
    def _id_or_key(self) -> CustomFieldInput:
        if not self.id and not self.key:
            raise ValueError("a custom field needs an id or a key")
        return self

    def to_api(self) -> dict[str, Any]:
        # field_value is sent even when None: that is how a value is cleared.
        return self.model_dump(by_alias=True, exclude_none=True, mode="json") | {
            "field_value": self.field_value
        }


class _ContactWrite(GHLRequest):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    email: str | None = Field(None, repr=False)
    phone: str | None = Field(None, repr=False)
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    website: str | None = None
    timezone: str | None = None
    dnd: bool | None = None
    dnd_settings: DndSettings | None = None
    inbound_dnd_settings: InboundDndSettings | None = None
    tags: list[str] | None = None
    custom_fields: list[CustomFieldInput] | None = None
    source: str | None = None
    date_of_birth: Any = None
    country: str | None = None
    assigned_to: str | None = None

    def to_api(self) -> dict[str, Any]:
        body = self.model_dump(by_alias=True, exclude_none=True, mode="json", exclude={"custom_fields"})
        if self.custom_fields is not None:
            body["customFields"] = [field.to_api() for field in self.custom_fields]
        return body


class ContactCreate(_ContactWrite):
    """CreateContactDto. ``location_id`` is filled in by the client from its ``location_id`` arg."""

    location_id: str | None = None
    gender: str | None = None
    company_name: str | None = None


class ContactUpdate(_ContactWrite):
    """UpdateContactDto. Note: ``tags`` here REPLACES every tag; prefer add_tags/remove_tags."""


class ContactUpsert(ContactCreate):
    """UpsertContactDto."""

    create_new_if_duplicate_allowed: bool | None = None


class UpdateContactResponse(GHLModel):
    """UpdateContactsSuccessfulResponseDto."""

    succeeded: bool | None = Field(
        None, validation_alias=AliasChoices("succeded", "succeeded"), serialization_alias="succeded"
    )
    contact: Contact | None = None


class SucceededResponse(GHLModel):
    """DeleteContactsSuccessfulResponseDto, DeleteTaskSuccessfulResponseDto, DeleteNote…: ``succeded``."""

    succeeded: bool | None = Field(
        None, validation_alias=AliasChoices("succeded", "succeeded"), serialization_alias="succeded"
    )


class UpsertContactResponse(GHLModel):
    """UpsertContactsSuccessfulResponseDto."""

    new: bool
    contact: Contact
    trace_id: str | None = None


class TagsResponse(GHLModel):
    """CreateAddTagSuccessfulResponseDto / CreateDeleteTagSuccessfulResponseDto."""

    tags: list[str] = Field(default_factory=list)
