"""GHL contact payloads: the contact, its writes, its list/search/duplicate answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from rankr_ghl.ghl.model_base import GHLDateTime, GHLModel, GHLRequest

# ---------------------------------------------------------------------------------------------
# Shared pieces


class DndSetting(GHLModel):
    status: Literal["active", "inactive", "permanent"] | str
    message: str | None = None
    code: str | None = None


class DndSettings(GHLModel):
    call: DndSetting | None = Field(None, alias="Call")
    email: DndSetting | None = Field(None, alias="Email")
    sms: DndSetting | None = Field(None, alias="SMS")
    whatsapp: DndSetting | None = Field(None, alias="WhatsApp")
    gmb: DndSetting | None = Field(None, alias="GMB")
    fb: DndSetting | None = Field(None, alias="FB")


class InboundDndSetting(GHLModel):
    status: Literal["active", "inactive"] | str
    message: str | None = None


class InboundDndSettings(GHLModel):
    all: InboundDndSetting | None = None


class AttributionSource(GHLModel):
    url: str | None = None
    campaign: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_content: str | None = None
    referrer: str | None = None
    campaign_id: str | None = None
    fbclid: str | None = None
    gclid: str | None = None
    msclikid: str | None = None
    dclid: str | None = None
    fbc: str | None = None
    fbp: str | None = None
    fb_event_id: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    medium: str | None = None
    medium_id: str | None = None


class CustomFieldValue(GHLModel):
    """A custom field as GHL returns it: ``{id, value}``."""

    id: str | None = None
    value: Any = None


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


# ---------------------------------------------------------------------------------------------
# Contacts


class Contact(GHLModel):
    """Union of GetContectByIdSchema, CreateContactSchema and ContactsSearchSchema (all optional)."""

    id: str | None = None
    location_id: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    first_name_lower_case: str | None = None
    last_name_lower_case: str | None = None
    full_name_lower_case: str | None = None
    # PII stays out of repr() so a stray log of a model cannot leak it.
    email: str | None = Field(None, repr=False)
    email_lower_case: str | None = Field(None, repr=False)
    additional_emails: list[Any] | None = Field(None, repr=False)
    phone: str | None = Field(None, repr=False)
    timezone: str | None = None
    company_name: str | None = None
    dnd: bool | None = None
    dnd_settings: DndSettings | None = None
    type: str | None = None
    source: str | None = None
    assigned_to: str | None = None
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None
    website: str | None = None
    tags: list[str] | None = None
    date_of_birth: str | None = None
    date_added: GHLDateTime | None = None
    date_updated: GHLDateTime | None = None
    attachments: Any = None
    ssn: str | None = None
    keyword: str | None = None
    last_activity: Any = None
    custom_fields: list[CustomFieldValue] | None = None
    business_id: str | None = None
    attribution_source: AttributionSource | None = None
    last_attribution_source: AttributionSource | None = None
    attributions: list[AttributionSource] | None = None
    followers: list[str] | None = None
    visitor_id: str | None = None
    deleted: bool | None = None
    bounce_email: bool | None = None
    unsubscribe_email: bool | None = None
    birth_month: float | None = None
    birth_day: float | None = None
    last_session_activity_at: Any = None
    offers: list[Any] | None = None
    products: list[Any] | None = None
    # POST /contacts/search: per-record cursor to pass back as ``searchAfter`` past 10,000 records.
    search_after: list[Any] | None = None


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


class ContactResponse(GHLModel):
    """ContactsByIdSuccessfulResponseDto / CreateContactsSuccessfulResponseDto."""

    contact: Contact


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


class ContactsListResponse(GHLModel):
    """ContactsSearchSuccessfulResponseDto (GET /contacts/ and GET /contacts/business/{id})."""

    contacts: list[Contact] = Field(default_factory=list)
    count: float | None = None
    meta: ContactsMeta | None = None


class ContactsMeta(GHLModel):
    """ContactsMetaSchema: defined by the spec, not referenced by it; kept when GHL sends it."""

    total: float | None = None
    next_page_url: str | None = None
    start_after_id: str | None = None
    start_after: float | None = None
    current_page: float | None = None
    next_page: float | None = None
    prev_page: float | None = None


class ContactSearchResponse(GHLModel):
    """POST /contacts/search 200 (undocumented in the spec): ``{contacts, total}``."""

    contacts: list[Contact] = Field(default_factory=list)
    total: int | None = None


class ContactSearchPage(BaseModel):
    """One page of POST /contacts/search plus the cursor for the next ``searchAfter`` request."""

    model_config = ConfigDict(defer_build=True)

    contacts: list[Contact]
    total: int | None
    next_search_after: list[Any] | None


class DuplicateContactResponse(GHLModel):
    """GET /contacts/search/duplicate 200 (undocumented): ``{contact: Contact | null}``."""

    contact: Contact | None = None
