"""GHL contact lists, searches and duplicate look-ups: their answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rankr_ghl.ghl.contact_models import Contact
from rankr_ghl.ghl.model_base import GHLModel


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
