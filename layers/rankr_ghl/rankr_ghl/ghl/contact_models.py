"""GHL's contact as it reads back (GET /contacts/{id}): the contact and the pieces it nests.

The contact's writes (`contact_write_models`) and its list and search answers
(`contact_search_models`) live apart: each model costs a class build at import, and a contact
webhook, which only reads one contact, should build no more than it validates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from rankr_ghl.ghl.model_base import GHLDateTime, GHLModel

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


# ---------------------------------------------------------------------------------------------
# Contacts


class Contact(GHLModel):
    """Union of GetContectByIdSchema, CreateContactSchema and ContactsSearchSchema (all optional)."""

    # Built when this module loads, unlike the other GHL models: a contact is both validated nested
    # (in ContactResponse, UpsertContactResponse, ...) and dumped on its own (`to_api`). Deferred, it
    # would be built twice, once inside the wrapper's schema and once more for the dump; built first,
    # the wrappers reuse its schema.
    model_config = ConfigDict(defer_build=False)

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


class ContactResponse(GHLModel):
    """ContactsByIdSuccessfulResponseDto / CreateContactsSuccessfulResponseDto."""

    contact: Contact
