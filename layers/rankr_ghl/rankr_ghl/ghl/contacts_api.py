"""GHL contact endpoints with typed models: read, create, update, upsert, duplicate lookup, search.

Delete and tags (which answer no model) and the wire-format variants of every call are in
`contact_records_api`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rankr_ghl.ghl import errors
from rankr_ghl.ghl.client_base import SEARCH_MAX_PAGE_LIMIT
from rankr_ghl.ghl.contact_records_api import ContactRecordsApi
from rankr_ghl.ghl.responses import Replay
from rankr_ghl.ghl.variant_observations import observe_search_cursor, observe_tag_case

if TYPE_CHECKING:
    from rankr_ghl.ghl.contact_models import Contact
    from rankr_ghl.ghl.contact_search_models import ContactSearchPage, ContactsListResponse
    from rankr_ghl.ghl.contact_write_models import (
        ContactCreate,
        ContactUpdate,
        ContactUpsert,
        UpdateContactResponse,
        UpsertContactResponse,
    )

# The models (pydantic classes, each costly to build, and pydantic itself) load in the methods that
# send or receive them: the flows call the wire-format variants and never load them.


class ContactsApi(ContactRecordsApi):
    """Contacts and contact search (page window, then searchAfter) as typed models."""

    # ---- contacts --------------------------------------------------------------------------

    def get_contact(self, location_id: str, contact_id: str) -> Contact:
        """GET /contacts/{contactId}."""
        from rankr_ghl.ghl.contact_models import ContactResponse

        contact = self._call(
            ContactResponse,
            "GET",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
        ).contact
        observe_tag_case([contact.tags])
        return contact

    def list_contacts(
        self,
        location_id: str,
        *,
        limit: int = 20,
        start_after_id: str | None = None,
        start_after: int | None = None,
        query: str | None = None,
    ) -> ContactsListResponse:
        """GET /contacts/ (DEPRECATED by GHL in favour of search; limit <= 100)."""
        from rankr_ghl.ghl.contact_search_models import ContactsListResponse

        if not 1 <= limit <= 100:
            raise ValueError("limit must be between 1 and 100")
        params = {
            "locationId": location_id,
            "limit": limit,
            "startAfterId": start_after_id,
            "startAfter": start_after,
            "query": query,
        }
        return self._call(ContactsListResponse, "GET", "/contacts/", location_id, params=params)

    def get_contacts_by_business(
        self, location_id: str, business_id: str, *, limit: int = 25, skip: int = 0, query: str | None = None
    ) -> ContactsListResponse:
        """GET /contacts/business/{businessId}."""
        from rankr_ghl.ghl.contact_search_models import ContactsListResponse

        params = {"locationId": location_id, "limit": str(limit), "skip": str(skip), "query": query}
        return self._call(
            ContactsListResponse,
            "GET",
            "/contacts/business/{businessId}",
            location_id,
            path_params={"businessId": business_id},
            params=params,
        )

    def create_contact(self, location_id: str, contact: ContactCreate) -> Contact:
        """POST /contacts/ (201). Never repeated once it may have reached GHL: on 5xx/timeout/422 the
        error has ``may_have_been_applied=True``. A 400 duplicate raises GHLDuplicateContact."""
        from rankr_ghl.ghl.contact_models import ContactResponse

        body = self._located_body(location_id, contact.to_api())
        return self._call(
            ContactResponse, "POST", "/contacts/", location_id, replay=Replay.NEVER, json_body=body
        ).contact

    def update_contact(
        self, location_id: str, contact_id: str, changes: ContactUpdate
    ) -> UpdateContactResponse:
        """PUT /contacts/{contactId}. ``changes.tags`` replaces every tag: prefer add/remove_tags."""
        from rankr_ghl.ghl.contact_write_models import UpdateContactResponse

        return self._call(
            UpdateContactResponse,
            "PUT",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
            json_body=changes.to_api(),
        )

    def upsert_contact(self, location_id: str, contact: ContactUpsert) -> UpsertContactResponse:
        """POST /contacts/upsert: ``new`` tells a created contact from a matched one. Not repeated once
        it may have reached GHL (with duplicates allowed a repeat could create a second contact)."""
        from rankr_ghl.ghl.contact_write_models import UpsertContactResponse

        body = self._located_body(location_id, contact.to_api())
        return self._call(
            UpsertContactResponse,
            "POST",
            "/contacts/upsert",
            location_id,
            replay=Replay.NEVER,
            json_body=body,
        )

    def find_duplicate_contact(
        self, location_id: str, *, email: str | None = None, phone: str | None = None
    ) -> Contact | None:
        """GET /contacts/search/duplicate (by the location's duplicate rules). The URL carries the
        e-mail/phone, which is why request logs only ever show the path template."""
        from rankr_ghl.ghl.contact_search_models import DuplicateContactResponse

        if not email and not phone:
            raise ValueError("email or phone is required")
        params = {"locationId": location_id, "email": email, "number": phone}
        result = self._call(
            DuplicateContactResponse, "GET", "/contacts/search/duplicate", location_id, params=params
        )
        return result.contact

    def search_contacts_page(
        self,
        location_id: str,
        *,
        page_limit: int = 100,
        page: int | None = None,
        search_after: Sequence[Any] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        query: str | None = None,
    ) -> ContactSearchPage:
        """One POST /contacts/search request. Give ``page`` (within the first 10,000 records) or
        ``search_after`` (the cursor of the previous page's last record), not both."""
        from rankr_ghl.ghl.contact_search_models import ContactSearchPage, ContactSearchResponse

        body = self._search_body(
            location_id,
            page_limit=page_limit,
            page=page,
            search_after=search_after,
            filters=filters,
            sort=sort,
            query=query,
        )
        result = self._call(ContactSearchResponse, "POST", "/contacts/search", location_id, json_body=body)
        cursor = result.contacts[-1].search_after if result.contacts else None
        observe_search_cursor(
            sum(1 for contact in result.contacts if contact.search_after),
            len(result.contacts),
            top_level_cursor=bool((result.model_extra or {}).get("searchAfter")),
        )
        observe_tag_case(contact.tags for contact in result.contacts)
        return ContactSearchPage(contacts=result.contacts, total=result.total, next_search_after=cursor)

    def iter_search_contacts(
        self,
        location_id: str,
        *,
        page_limit: int = SEARCH_MAX_PAGE_LIMIT,
        filters: Sequence[Mapping[str, Any]] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        query: str | None = None,
        page_window: int | None = None,
    ) -> Iterator[Contact]:
        """Every contact matching the search, streamed page by page (memory stays flat).

        Pages with ``page``+``pageLimit`` while they stay inside GHL's 10,000-record window
        (``page_window``, default the client's ``search_page_window``), then continues with
        ``searchAfter`` from the last record's cursor.
        """
        window = page_window if page_window is not None else self.search_page_window
        page = 1
        cursor: list[Any] | None = None
        while True:
            if cursor is None and page * page_limit <= window:
                result = self.search_contacts_page(
                    location_id, page_limit=page_limit, page=page, filters=filters, sort=sort, query=query
                )
            else:
                if cursor is None:
                    raise errors.GHLError(
                        f"search results lack a searchAfter cursor; cannot page past {window} records",
                        method="POST",
                        path="/contacts/search",
                    )
                result = self.search_contacts_page(
                    location_id,
                    page_limit=page_limit,
                    search_after=cursor,
                    filters=filters,
                    sort=sort,
                    query=query,
                )
            yield from result.contacts
            if len(result.contacts) < page_limit:
                return
            page += 1
            if page * page_limit > window:
                cursor = result.next_search_after
