"""HTTP client of the Rankr records API (contract: docs/rankr-api.yaml).

Create one `RankrClient` per container (module scope, lazily) and reuse it: it owns one httpx connection
pool. Every method takes `account_id` first. Every operation of the contract is safe to retry, creates
included, because creates carry a caller-chosen, deterministic `Idempotency-Key` (see `rankr_ghl.rankr.keys`).
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from rankr_ghl.lazy_http import LazyHttpClient
from rankr_ghl.observability import logger
from rankr_ghl.rankr.errors import (
    RankrConnectionError,
    RankrError,
    RankrTimeout,
    error_for_status,
)
from rankr_ghl.rankr.models import (
    Appointment,
    AppointmentPage,
    AppointmentPut,
    Contact,
    ContactCreate,
    ContactPage,
    ContactUpdate,
    Note,
    NoteCreate,
    NotePage,
    NoteUpdate,
    Task,
    TaskCreate,
    TaskPage,
    TaskUpdate,
    format_timestamp,
)

ApiKey = str | Callable[[], str]
ModelT = TypeVar("ModelT", bound=BaseModel)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGE_SIZE = 500
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")

CONTACTS = "/v1/accounts/{accountId}/contacts"
CONTACT = "/v1/accounts/{accountId}/contacts/{contactId}"
TASKS = "/v1/accounts/{accountId}/contacts/{contactId}/tasks"
TASK = "/v1/accounts/{accountId}/contacts/{contactId}/tasks/{taskId}"
NOTES = "/v1/accounts/{accountId}/contacts/{contactId}/notes"
NOTE = "/v1/accounts/{accountId}/contacts/{contactId}/notes/{noteId}"
APPOINTMENTS = "/v1/accounts/{accountId}/appointments"
APPOINTMENT = "/v1/accounts/{accountId}/appointments/{externalId}"


ItemT = TypeVar("ItemT", bound=BaseModel)
PageT = TypeVar("PageT", bound=BaseModel)


class _WireBody(Protocol):
    def to_json(self, *, partial: bool) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _ChildKind(Generic[ItemT, PageT]):
    """A record that lives under a contact (tasks, notes): its paths, id parameter and models."""

    collection: str
    item: str
    id_param: str
    model: type[ItemT]
    page: type[PageT]


_TASKS = _ChildKind(TASKS, TASK, "taskId", Task, TaskPage)
_NOTES = _ChildKind(NOTES, NOTE, "noteId", Note, NotePage)


class RankrClient:
    """Typed, retrying client of the Rankr API."""

    def __init__(
        self,
        base_url: str,
        api_key: ApiKey,
        *,
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        max_retry_after: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        user_agent: str = "rankr-ghl-connector/1.0",
    ) -> None:
        """`api_key` is the key or a zero-argument callable returning it (e.g. a cached Secrets Manager
        read); a callable is asked again once after a 401, so a rotated key is picked up.
        `max_retries` counts retries after the first attempt. A 429 whose `Retry-After` exceeds
        `max_retry_after` seconds is raised at once (`RankrRateLimited.retry_after`) instead of sleeping.
        """
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._api_key = api_key
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = LazyHttpClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ contacts

    def create_contact(self, account_id: str, contact: ContactCreate, *, idempotency_key: str) -> Contact:
        response = self._request(
            "POST",
            CONTACTS,
            {"accountId": account_id},
            json=contact.to_json(partial=False),
            idempotency_key=idempotency_key,
        )
        return _parse(Contact, response)

    def get_contact(self, account_id: str, contact_id: str) -> Contact:
        response = self._request("GET", CONTACT, {"accountId": account_id, "contactId": contact_id})
        return _parse(Contact, response)

    def update_contact(self, account_id: str, contact_id: str, changes: ContactUpdate) -> Contact:
        response = self._request(
            "PATCH",
            CONTACT,
            {"accountId": account_id, "contactId": contact_id},
            json=changes.to_json(partial=True),
        )
        return _parse(Contact, response)

    def delete_contact(self, account_id: str, contact_id: str) -> None:
        self._request("DELETE", CONTACT, {"accountId": account_id, "contactId": contact_id})

    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ContactPage:
        """One page, ordered by (updatedAt, id). `include_deleted=None` uses Rankr's default: deleted
        records are included iff `updated_since` is given."""
        query = _list_query(updated_since, include_deleted, cursor, limit)
        response = self._request("GET", CONTACTS, {"accountId": account_id}, params=query)
        return _parse(ContactPage, response)

    def iter_contacts(
        self,
        account_id: str,
        updated_since: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
        *,
        include_deleted: bool | None = None,
    ) -> Iterator[Contact]:
        """Every matching contact, one page in memory at a time."""
        yield from _follow_cursor(
            lambda cursor: self.list_contacts(
                account_id,
                updated_since=updated_since,
                include_deleted=include_deleted,
                cursor=cursor,
                limit=page_size,
            )
        )

    # ------------------------------------------------------------------ tasks and notes (per contact)

    def _create_child(
        self,
        kind: _ChildKind[ItemT, PageT],
        account_id: str,
        contact_id: str,
        body: _WireBody,
        idempotency_key: str,
    ) -> ItemT:
        response = self._request(
            "POST",
            kind.collection,
            {"accountId": account_id, "contactId": contact_id},
            json=body.to_json(partial=False),
            idempotency_key=idempotency_key,
        )
        return _parse(kind.model, response)

    def _child_request(
        self,
        method: str,
        kind: _ChildKind[ItemT, PageT],
        account_id: str,
        contact_id: str,
        child_id: str,
        *,
        changes: _WireBody | None = None,
    ) -> httpx.Response:
        path = {"accountId": account_id, "contactId": contact_id, kind.id_param: child_id}
        body = changes.to_json(partial=True) if changes is not None else None
        return self._request(method, kind.item, path, json=body)

    def _list_children(
        self, kind: _ChildKind[ItemT, PageT], account_id: str, contact_id: str, query: dict[str, str]
    ) -> PageT:
        path = {"accountId": account_id, "contactId": contact_id}
        return _parse(kind.page, self._request("GET", kind.collection, path, params=query))

    def create_task(
        self, account_id: str, contact_id: str, task: TaskCreate, *, idempotency_key: str
    ) -> Task:
        return self._create_child(_TASKS, account_id, contact_id, task, idempotency_key)

    def get_task(self, account_id: str, contact_id: str, task_id: str) -> Task:
        return _parse(Task, self._child_request("GET", _TASKS, account_id, contact_id, task_id))

    def update_task(self, account_id: str, contact_id: str, task_id: str, changes: TaskUpdate) -> Task:
        response = self._child_request("PATCH", _TASKS, account_id, contact_id, task_id, changes=changes)
        return _parse(Task, response)

    def delete_task(self, account_id: str, contact_id: str, task_id: str) -> None:
        self._child_request("DELETE", _TASKS, account_id, contact_id, task_id)

    def list_tasks(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> TaskPage:
        query = _list_query(updated_since, include_deleted, cursor, limit)
        return self._list_children(_TASKS, account_id, contact_id, query)

    def iter_tasks(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Task]:
        return _follow_cursor(
            lambda cursor: self._list_children(
                _TASKS, account_id, contact_id, _list_query(updated_since, include_deleted, cursor, page_size)
            )
        )

    def create_note(
        self, account_id: str, contact_id: str, note: NoteCreate, *, idempotency_key: str
    ) -> Note:
        return self._create_child(_NOTES, account_id, contact_id, note, idempotency_key)

    def get_note(self, account_id: str, contact_id: str, note_id: str) -> Note:
        return _parse(Note, self._child_request("GET", _NOTES, account_id, contact_id, note_id))

    def update_note(self, account_id: str, contact_id: str, note_id: str, changes: NoteUpdate) -> Note:
        response = self._child_request("PATCH", _NOTES, account_id, contact_id, note_id, changes=changes)
        return _parse(Note, response)

    def delete_note(self, account_id: str, contact_id: str, note_id: str) -> None:
        self._child_request("DELETE", _NOTES, account_id, contact_id, note_id)

    def list_notes(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> NotePage:
        query = _list_query(updated_since, include_deleted, cursor, limit)
        return self._list_children(_NOTES, account_id, contact_id, query)

    def iter_notes(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Note]:
        return _follow_cursor(
            lambda cursor: self._list_children(
                _NOTES, account_id, contact_id, _list_query(updated_since, include_deleted, cursor, page_size)
            )
        )

    # ------------------------------------------------------------------ appointments (GHL mirror)

    def put_appointment(self, account_id: str, external_id: str, appointment: AppointmentPut) -> Appointment:
        """Upsert the mirror of GHL appointment `external_id` (the GHL event id)."""
        response = self._request(
            "PUT",
            APPOINTMENT,
            {"accountId": account_id, "externalId": external_id},
            json=appointment.to_json(),
        )
        return _parse(Appointment, response)

    def get_appointment(self, account_id: str, external_id: str) -> Appointment:
        response = self._request("GET", APPOINTMENT, {"accountId": account_id, "externalId": external_id})
        return _parse(Appointment, response)

    def delete_appointment(self, account_id: str, external_id: str) -> None:
        self._request("DELETE", APPOINTMENT, {"accountId": account_id, "externalId": external_id})

    def list_appointments(
        self,
        account_id: str,
        *,
        contact_id: str | None = None,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> AppointmentPage:
        query = _list_query(updated_since, include_deleted, cursor, limit)
        if contact_id is not None:
            query["contactId"] = contact_id
        response = self._request("GET", APPOINTMENTS, {"accountId": account_id}, params=query)
        return _parse(AppointmentPage, response)

    def iter_appointments(
        self,
        account_id: str,
        *,
        contact_id: str | None = None,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Appointment]:
        yield from _follow_cursor(
            lambda cursor: self.list_appointments(
                account_id,
                contact_id=contact_id,
                updated_since=updated_since,
                include_deleted=include_deleted,
                cursor=cursor,
                limit=page_size,
            )
        )

    # ------------------------------------------------------------------ transport

    def _current_key(self) -> str:
        key = self._api_key() if callable(self._api_key) else self._api_key
        if not key:
            raise RankrError(None, "Rankr API key is empty")
        return key

    def _request(
        self,
        method: str,
        template: str,
        path_params: Mapping[str, str],
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        path = _expand(template, path_params)
        headers: dict[str, str] = {}
        if idempotency_key is not None:
            if not _IDEMPOTENCY_KEY_RE.match(idempotency_key):
                raise ValueError("idempotency_key must be 1-255 printable ASCII characters without spaces")
            headers["Idempotency-Key"] = idempotency_key
        account_id = path_params.get("accountId")
        key_refreshed = False
        attempt = 0
        while True:
            api_key = self._current_key()
            headers["Authorization"] = f"Bearer {api_key}"
            started = time.perf_counter()
            try:
                response = self._http.get().request(method, path, json=json, params=params, headers=headers)
            except httpx.TimeoutException as exc:
                error: RankrError = RankrTimeout(
                    None, "Rankr request timed out", type(exc).__name__, may_have_been_applied=method != "GET"
                )
                status: int | None = None
                retry_after: float | None = None
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                error = RankrConnectionError(
                    None,
                    "Rankr connection failed",
                    type(exc).__name__,
                    may_have_been_applied=method != "GET" and not isinstance(exc, httpx.ConnectError),
                )
                status = None
                retry_after = None
            else:
                status = response.status_code
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                if status < 400:
                    logger.debug(
                        "rankr request",
                        extra={
                            "method": method,
                            "path": template,
                            "status": status,
                            "duration_ms": duration_ms,
                            "attempt": attempt,
                            "account_id": account_id,
                            "replayed": response.headers.get("Idempotent-Replayed") == "true",
                        },
                    )
                    return response
                retry_after = _parse_retry_after(response.headers.get("Retry-After"))
                error = error_for_status(status, _problem(response), method=method, retry_after=retry_after)
                if status == 401 and callable(self._api_key) and not key_refreshed:
                    # The key may have been rotated: ask the source once more, retry only if it changed.
                    key_refreshed = True
                    if self._current_key() != api_key:
                        logger.warning(
                            "rankr request unauthorized, retrying with refreshed key",
                            extra={"method": method, "path": template, "account_id": account_id},
                        )
                        continue
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            retryable = status is None or status in RETRYABLE_STATUSES
            will_retry = retryable and attempt < self._max_retries
            if will_retry and retry_after is not None and retry_after > self._max_retry_after:
                will_retry = False  # Waiting that long is the caller's call (e.g. re-queue the work).
            log = logger.warning if retryable or (status is not None and status >= 500) else logger.info
            log(
                "rankr request failed",
                extra={
                    "method": method,
                    "path": template,
                    "status": status,
                    "duration_ms": duration_ms,
                    "attempt": attempt,
                    "account_id": account_id,
                    "error": type(error).__name__,
                    "problem": error.problem_name,
                    "will_retry": will_retry,
                },
            )
            if not will_retry:
                raise error
            self._sleep(self._backoff_delay(attempt, retry_after))
            attempt += 1

    def _backoff_delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter; never shorter than the server's Retry-After."""
        jittered = self._rng.uniform(0, min(self._backoff_cap, self._backoff_base * (2**attempt)))
        if retry_after is not None:
            return max(retry_after, jittered)
        return jittered


def _expand(template: str, path_params: Mapping[str, str]) -> str:
    values = {}
    for name, value in path_params.items():
        if not value:
            raise ValueError(f"{name} must be a non-empty string")
        values[name] = quote(value, safe="")
    return template.format(**values)


def _follow_cursor(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Items of every page, following `nextCursor`; one page in memory at a time."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _list_query(
    updated_since: datetime | None, include_deleted: bool | None, cursor: str | None, limit: int
) -> dict[str, str]:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    query = {"limit": str(limit)}
    if updated_since is not None:
        query["updated_since"] = format_timestamp(updated_since)
    if include_deleted is not None:
        query["include_deleted"] = "true" if include_deleted else "false"
    if cursor is not None:
        query["cursor"] = cursor
    return query


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _problem(response: httpx.Response) -> dict[str, Any] | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _parse(model: type[ModelT], response: httpx.Response) -> ModelT:
    try:
        return model.model_validate(response.json())
    except (ValueError, ValidationError) as exc:
        # Never include the body: it may hold contact PII.
        raise RankrError(
            response.status_code,
            "Unexpected Rankr response body",
            f"{model.__name__}: {type(exc).__name__}",
        ) from exc
