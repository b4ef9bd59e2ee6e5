"""Pydantic v2 models of the GHL API v2 payloads the connector uses.

Python attributes are snake_case; the wire names (aliases) are exactly those of GHL's OpenAPI
files (``apps/contacts.json``, ``oauth.json``, ``calendars.json``, ``locations.json``). Response
models keep unknown fields (``extra="allow"``) because GHL adds fields without notice. Request
models forbid unknown fields: GHL answers 422 "property X should not exist" to them anyway.

Quirks handled here:
- ``succeded`` (sic) is the success flag of PUT/DELETE responses (``succeeded`` is accepted too).
- custom fields are written as ``{id|key, field_value}`` and read as ``{id, value}``.
- appointment times may be ``"2021-07-16 11:00:00"`` (no ``T``, no offset); they parse into naive
  datetimes (location-local time, GHL gives no zone), ISO times with an offset into aware ones.
- token responses mix snake_case (``access_token``) and camelCase (``userType``); both spellings of
  every token field are accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


def _parse_ghl_datetime(value: Any) -> Any:
    """Accept GHL's date spellings; pydantic handles ISO-8601 and ``YYYY-MM-DD HH:MM:SS`` itself."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.isdigit():  # epoch milliseconds as a string
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        return text
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)  # GHL epochs are milliseconds
    return value


GHLDateTime = Annotated[datetime, BeforeValidator(_parse_ghl_datetime)]


class GHLModel(BaseModel):
    """Response model: camelCase wire names, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", protected_namespaces=()
    )

    def to_api(self) -> dict[str, Any]:
        """Wire form: GHL field names, unset fields omitted."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class GHLRequest(GHLModel):
    """Request body model: camelCase wire names, unknown fields rejected before GHL sees them."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


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

    contacts: list[Contact]
    total: int | None
    next_search_after: list[Any] | None


class DuplicateContactResponse(GHLModel):
    """GET /contacts/search/duplicate 200 (undocumented): ``{contact: Contact | null}``."""

    contact: Contact | None = None


# ---------------------------------------------------------------------------------------------
# Tasks, notes, tags


class Task(GHLModel):
    """TaskSchema."""

    id: str | None = None
    title: str | None = None
    body: str | None = None
    assigned_to: str | None = None
    due_date: GHLDateTime | None = None
    completed: bool | None = None
    contact_id: str | None = None
    date_added: GHLDateTime | None = None
    date_updated: GHLDateTime | None = None


class TaskCreate(GHLRequest):
    """CreateTaskParams: ``completed`` is required by GHL."""

    title: str
    due_date: datetime
    completed: bool = False
    body: str | None = None
    assigned_to: str | None = None


class TaskUpdate(GHLRequest):
    """UpdateTaskBody."""

    title: str | None = None
    body: str | None = None
    due_date: datetime | None = None
    completed: bool | None = None
    assigned_to: str | None = None


class TasksResponse(GHLModel):
    """TasksListSuccessfulResponseDto."""

    tasks: list[Task] = Field(default_factory=list)


class TaskResponse(GHLModel):
    """TaskByIsSuccessfulResponseDto (sic)."""

    task: Task


class LocationTask(Task):
    """A task from POST /locations/{locationId}/tasks/search (spec schema is a loose ``[[{}]]``)."""

    id: str | None = Field(None, validation_alias=AliasChoices("id", "_id"), serialization_alias="id")
    location_id: str | None = None
    deleted: bool | None = None


def _flatten(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    flat: list[Any] = []
    for item in value:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


class LocationTasksResponse(GHLModel):
    """LocationTaskListSuccessfulResponseDto; nested arrays (as the spec draws them) are flattened."""

    tasks: Annotated[list[LocationTask], BeforeValidator(_flatten)] = Field(default_factory=list)


class Note(GHLModel):
    """GetNoteSchema."""

    id: str | None = None
    body: str | None = None
    user_id: str | None = None
    date_added: GHLDateTime | None = None
    contact_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NoteCreate(GHLRequest):
    """NotesDTO."""

    body: str
    user_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NoteUpdate(GHLRequest):
    """UpdateNoteDTO."""

    body: str | None = None
    user_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NotesResponse(GHLModel):
    """GetNotesListSuccessfulResponseDto."""

    notes: list[Note] = Field(default_factory=list)


class NoteResponse(GHLModel):
    """GetCreateUpdateNoteSuccessfulResponseDto."""

    note: Note


class TagsResponse(GHLModel):
    """CreateAddTagSuccessfulResponseDto / CreateDeleteTagSuccessfulResponseDto."""

    tags: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Appointments


class CreatedOrUpdatedBy(GHLModel):
    user_id: str | None = None
    source: str | None = None


class Appointment(GHLModel):
    """GetEventSchema (contact appointments) and CalendarEventDTO (calendars, Version 2021-04-15)."""

    id: str | None = None
    calendar_id: str | None = None
    location_id: str | None = None
    contact_id: str | None = None
    group_id: str | None = None
    status: str | None = None
    appointment_status: str | None = None
    title: str | None = None
    assigned_user_id: str | None = None
    users: list[str] | None = None
    notes: str | None = None
    description: str | None = None
    address: str | None = None
    source: str | None = None
    start_time: GHLDateTime | None = None
    end_time: GHLDateTime | None = None
    date_added: GHLDateTime | None = None
    date_updated: GHLDateTime | None = None
    assigned_resources: list[str] | None = None
    is_recurring: bool | None = None
    rrule: str | None = None
    master_event_id: str | None = None
    created_by: CreatedOrUpdatedBy | None = None


class AppointmentsResponse(GHLModel):
    """GetEventsSuccessfulResponseDto."""

    events: list[Appointment] = Field(default_factory=list)


class CalendarEventResponse(GHLModel):
    """GetCalendarEventSuccessfulResponseDTO."""

    event: Appointment


# ---------------------------------------------------------------------------------------------
# OAuth


def _token_field(snake: str, camel: str, *, secret: bool = False) -> Any:
    return Field(
        None, validation_alias=AliasChoices(snake, camel), serialization_alias=snake, repr=not secret
    )


class TokenResponse(GHLModel):
    """GetAccessCodeSuccessfulResponseDto / GetLocationAccessTokenSuccessfulResponseDto.

    Every field accepts both spellings (v2 mixes ``access_token`` with ``userType``; v3 is
    camelCase). Tokens are hidden from ``repr`` so an accidental log line cannot leak them.
    """

    access_token: str | None = _token_field("access_token", "accessToken", secret=True)
    refresh_token: str | None = _token_field("refresh_token", "refreshToken", secret=True)
    token_type: str | None = _token_field("token_type", "tokenType")
    expires_in: float | None = _token_field("expires_in", "expiresIn")
    scope: str | None = None
    user_type: str | None = _token_field("userType", "user_type")
    location_id: str | None = _token_field("locationId", "location_id")
    company_id: str | None = _token_field("companyId", "company_id")
    user_id: str | None = _token_field("userId", "user_id")
    plan_id: str | None = _token_field("planId", "plan_id")
    app_id: str | None = _token_field("appId", "app_id")
    version_id: str | None = _token_field("versionId", "version_id")
    approved_locations: list[str] | None = _token_field("approvedLocations", "approved_locations")
    is_bulk_installation: bool | None = _token_field("isBulkInstallation", "is_bulk_installation")
    install_to_future_locations: bool | None = _token_field(
        "installToFutureLocations", "install_to_future_locations"
    )
    approve_all_locations: bool | None = _token_field("approveAllLocations", "approve_all_locations")
    trace_id: str | None = _token_field("traceId", "trace_id")

    @property
    def scopes(self) -> list[str]:
        return self.scope.split() if self.scope else []


class InstalledLocation(GHLModel):
    """InstalledLocationSchema (``_id`` on the wire)."""

    id: str = Field(validation_alias=AliasChoices("_id", "id"), serialization_alias="_id")
    name: str | None = None
    address: str | None = None
    is_installed: bool | None = None
    version_id: str | None = None
    installed_at: GHLDateTime | None = None


class InstalledLocationsResponse(GHLModel):
    """GetInstalledLocationsSuccessfulResponseDto."""

    locations: list[InstalledLocation] = Field(default_factory=list)
    count: float | None = None
    install_to_future_locations: bool | None = None


ContactsListResponse.model_rebuild()
