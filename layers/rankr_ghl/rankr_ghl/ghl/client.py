"""Typed, rate-limit-aware client of the GHL (LeadConnector) API v2.

Retry rules (the ones flows depend on):
- GET, PUT, DELETE and read-only POSTs (searches) and add-tags (a set union; repeating it is
  harmless) are retried with exponential backoff and full jitter on 429, 5xx, timeouts and
  connection errors.
- POSTs that create (contact, task, note) and upsert are retried only when GHL certainly did not
  act: a connect error before the request was sent, or a 429 (GHL refused it). After a 5xx, a
  timeout once sent, a dropped connection or a 422 (GHL docs #64: "422 but created") the client
  raises with ``may_have_been_applied=True``; the caller must look the record up before retrying.
- A 401 is reported to the token source once; if it hands back a new token the request is repeated
  once with it (GHL refused the first one, so this is safe for every method). A 401 whose message
  says the token is not authorized for the scope is a permission error (`GHLForbidden`), never a
  refresh: the new token would carry the same scopes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from rankr_ghl import deadlines
from rankr_ghl.ghl import errors
from rankr_ghl.ghl.models import (
    Appointment,
    AppointmentsResponse,
    CalendarEventResponse,
    Contact,
    ContactCreate,
    ContactResponse,
    ContactSearchPage,
    ContactSearchResponse,
    ContactsListResponse,
    ContactUpdate,
    ContactUpsert,
    DuplicateContactResponse,
    LocationTask,
    LocationTasksResponse,
    Note,
    NoteCreate,
    NoteResponse,
    NotesResponse,
    NoteUpdate,
    SucceededResponse,
    TagsResponse,
    Task,
    TaskCreate,
    TaskResponse,
    TasksResponse,
    TaskUpdate,
    UpdateContactResponse,
    UpsertContactResponse,
)
from rankr_ghl.ghl.ratelimit import HEADER_DAILY_REMAINING, Permit, RateLimiter
from rankr_ghl.ghl.tokens import TokenSource
from rankr_ghl.lazy_http import LazyHttpClient
from rankr_ghl.observability import logger

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
VERSION_CONTACTS = "2021-07-28"  # contacts, locations, oauth locationToken/installedLocations
VERSION_CALENDARS = "2021-04-15"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
SEARCH_MAX_PAGE_LIMIT = 500
SEARCH_PAGE_WINDOW = 10_000  # page+pageLimit reaches this many records; searchAfter beyond

# httpx/httpcore log full URLs at INFO/DEBUG; query strings can carry e-mails and phone numbers
# (GET /contacts/search/duplicate), so they must never log below WARNING.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

_TRACE_HEADERS = ("traceid", "x-trace-id", "trace-id", "x-request-id")

M = TypeVar("M", bound=BaseModel)


class Replay(Enum):
    """May a request be sent again after it may have reached GHL?"""

    SAFE = "safe"  # idempotent: GET, PUT, DELETE, searches, add-tags
    NEVER = "never"  # creates: only retried when GHL certainly did not act


def _count_rate_limited() -> None:
    """EMF metric `Ghl429Received`: GHL refused a request (another app or container shares the budget)."""
    from aws_lambda_powertools.metrics import MetricUnit

    from rankr_ghl.observability import metrics

    metrics.add_metric(name="Ghl429Received", unit=MetricUnit.Count, value=1)


# Below this much time before the caller's deadline a call is not started (it could not finish).
MIN_CALL_BUDGET_S = 0.5

_observed_variants: set[tuple[str, str]] = set()


def observe_variant_once(name: str, value: str) -> None:
    """EMF metric `GhlObservedVariant` with dimensions `behaviour`/`variant`, once per container: which
    answer real GHL gives where FACTS.md marks the behaviour unverified (docs/ghl-variants.md)."""
    if (name, value) in _observed_variants:
        return
    _observed_variants.add((name, value))
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from rankr_ghl.observability import logger, metrics

    logger.info("observed GHL behaviour", extra={"behaviour": name, "variant": value})
    with single_metric(
        name="GhlObservedVariant", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as metric:
        metric.add_dimension(name="behaviour", value=name)
        metric.add_dimension(name="variant", value=value)


def is_scope_denial(status: int, body: Any) -> bool:
    """GHL answers a token that lacks the route's scope with "The token is not authorized for this
    scope", as 401 or 403 (unverified which). Either is a permission error: refreshing cannot help."""
    return status in (401, 403) and "scope" in _message(body, "").lower()


def _trace_id(response: httpx.Response, body: Any) -> str | None:
    for name in _TRACE_HEADERS:
        header = response.headers.get(name)
        if header:
            return str(header)
    if isinstance(body, dict):
        value = body.get("traceId")
        if isinstance(value, str):
            return value
    return None


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        raw = body.get("message") or body.get("error_description") or body.get("error")
        if isinstance(raw, list):
            return "; ".join(str(item) for item in raw)
        if raw:
            return str(raw)
    return fallback


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _require_id(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


def map_error(
    status: int,
    body: Any,
    *,
    trace_id: str | None,
    method: str,
    path: str,
    may_have_been_applied: bool = False,
    response_headers: Mapping[str, str] | None = None,
) -> errors.GHLError:
    """Turn a non-2xx GHL response into the typed error hierarchy."""
    message = _message(body, f"HTTP {status}")
    common: dict[str, Any] = {"status": status, "trace_id": trace_id, "method": method, "path": path}
    if status == 400:
        meta = body.get("meta") if isinstance(body, dict) else None
        if isinstance(meta, dict) and meta.get("contactId"):
            return errors.GHLDuplicateContact(
                message,
                contact_id=str(meta["contactId"]),
                matching_field=str(meta["matchingField"]) if meta.get("matchingField") else None,
                **common,
            )
        lowered = message.lower()
        error_code = str(body.get("error", "")).lower() if isinstance(body, dict) else ""
        if "invalid grant" in lowered or "invalid_grant" in lowered or error_code == "invalid_grant":
            return errors.GHLInvalidGrant(message, **common)
        if "not active" in lowered:
            return errors.GHLLocationInactive(message, **common)
        return errors.GHLBadRequest(message, **common)
    if is_scope_denial(status, body):
        observe_variant_once("scope_denied", str(status))
        return errors.GHLForbidden(message, **common)
    if status == 401:
        return errors.GHLUnauthorized(message, **common)
    if status == 403:
        return errors.GHLForbidden(message, **common)
    if status == 404:
        return errors.GHLNotFound(message, **common)
    if status == 422:
        return errors.GHLUnprocessable(message, may_have_been_applied=may_have_been_applied, **common)
    if status == 429:
        daily = response_headers is not None and response_headers.get(HEADER_DAILY_REMAINING) == "0"
        return errors.GHLRateLimited(message, daily=daily, **common)
    if status >= 500:
        return errors.GHLServerError(message, may_have_been_applied=may_have_been_applied, **common)
    return errors.GHLError(message, may_have_been_applied=may_have_been_applied, **common)


class HttpCore:
    """Shared request engine: pooling, auth, rate budget, retries, error mapping, safe logging."""

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float | httpx.Timeout,
        max_retries: int,
        rate_limiter: RateLimiter | None,
        transport: httpx.BaseTransport | None,
        token_source: TokenSource | None,
        backoff_base_s: float,
        backoff_max_s: float,
        rate_limit_max_wait_s: float | None,
        sleep: Callable[[float], None],
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self.rate_limiter = rate_limiter if rate_limiter is not None else RateLimiter()
        self.token_source = token_source
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.rate_limit_max_wait_s = rate_limit_max_wait_s
        self._sleep = sleep
        self._http = LazyHttpClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
            event_hooks=dict(event_hooks) if event_hooks else None,
        )

    @property
    def http(self) -> httpx.Client:
        return self._http.get()

    def close(self) -> None:
        self._http.close()

    def _backoff(self, attempt: int) -> None:
        delay = random.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)))
        self._sleep(deadlines.cap(delay) or 0.0)

    def _deadline_timeout(self) -> httpx.Timeout | None:
        """This call's timeouts capped by the caller's deadline; None (the client's own) without one."""
        left = deadlines.remaining_s()
        if left is None:
            return None
        own = self.http.timeout
        bound = max(0.001, left)

        def capped(value: float | None) -> float:
            return bound if value is None else min(value, bound)

        return httpx.Timeout(
            connect=capped(own.connect), read=capped(own.read), write=capped(own.write), pool=capped(own.pool)
        )

    def _log(
        self,
        *,
        method: str,
        path: str,
        resource_id: str | None,
        status: int | None,
        started: float,
        trace_id: str | None,
        attempt: int,
        error: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "ghl_method": method,
            "ghl_path": path,  # template only: concrete URLs carry ids and query-string PII
            "ghl_status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "ghl_trace_id": trace_id,
            "attempt": attempt,
            "resource_id": resource_id,
        }
        if error:
            fields["error"] = error
        ok = status is not None and status < 400
        (logger.info if ok else logger.warning)("ghl request", extra=fields)

    def request(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        resource_id: str | None,
        version: str | None,
        replay: Replay,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        token: str | None = None,
        replay_window_s: float | None = None,
    ) -> Any:
        """Send one logical request (with retries) and return the decoded JSON body.

        ``token`` given: use it as is (OAuth agency calls). Otherwise ask the token source for
        ``resource_id``'s token. ``resource_id`` None means no rate budget (the token endpoint).
        ``replay_window_s``: a SAFE request is replayed after it may have reached GHL only while
        its first send is younger than this (refresh grants: GHL's 30 s reuse grace).
        """
        url = template.format(
            **{k: quote(_require_id(k, v), safe="") for k, v in (path_params or {}).items()}
        )
        use_source = token is None and self.token_source is not None and resource_id is not None
        bearer = token
        if use_source:
            assert self.token_source is not None and resource_id is not None
            bearer = self.token_source.get_token(resource_id)
        headers: dict[str, str] = {}
        if version:
            headers["Version"] = version
        query = {k: v for k, v in (params or {}).items() if v is not None}
        refreshed = False
        attempt = 0
        first_sent: float | None = None

        def unsafe_to_replay() -> bool:
            if replay is Replay.NEVER:
                return True
            if replay_window_s is None or first_sent is None:
                return False
            return time.monotonic() - first_sent > replay_window_s

        while True:
            attempt += 1
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            left = deadlines.remaining_s()
            if left is not None and left <= MIN_CALL_BUDGET_S:
                # Not sent: safe to repeat later for every method; the caller reports it unfinished.
                raise errors.GHLTimeout(
                    "the caller's deadline leaves no time for this call", method=method, path=template
                )
            permit: Permit | None = None
            if resource_id is not None:
                # The limiter may wait only while a call still fits before the deadline.
                max_wait = deadlines.cap(self.rate_limit_max_wait_s)
                if max_wait is not None and left is not None:
                    max_wait = max(0.0, max_wait - MIN_CALL_BUDGET_S)
                permit = self.rate_limiter.acquire(resource_id, max_wait)
            started = time.perf_counter()
            first_sent = first_sent if first_sent is not None else time.monotonic()
            retries_left = attempt <= self.max_retries
            call_timeout = self._deadline_timeout()
            try:
                try:
                    if call_timeout is None:
                        response = self.http.request(
                            method, url, params=query or None, json=json_body, data=form, headers=headers
                        )
                    else:
                        response = self.http.request(
                            method, url, params=query or None, json=json_body, data=form, headers=headers,
                            timeout=call_timeout,
                        )  # fmt: skip
                except BaseException:
                    if permit is not None:
                        self.rate_limiter.release(permit)
                    raise
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Never left this process: safe to repeat for every method.
                self._log(
                    method=method, path=template, resource_id=resource_id, status=None,
                    started=started, trace_id=None, attempt=attempt, error=type(exc).__name__,
                )  # fmt: skip
                err: errors.GHLError = (
                    errors.GHLTimeout(f"connect timeout: {type(exc).__name__}", method=method, path=template)
                    if isinstance(exc, httpx.TimeoutException)
                    else errors.GHLConnectionError(
                        f"connection failed: {type(exc).__name__}", method=method, path=template
                    )
                )
                if retries_left:
                    self._backoff(attempt)
                    continue
                raise err from exc
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                # Sent (at least partly): GHL may have acted on it.
                self._log(
                    method=method, path=template, resource_id=resource_id, status=None,
                    started=started, trace_id=None, attempt=attempt, error=type(exc).__name__,
                )  # fmt: skip
                applied = unsafe_to_replay()
                cls = (
                    errors.GHLTimeout
                    if isinstance(exc, httpx.TimeoutException)
                    else errors.GHLConnectionError
                )
                err = cls(
                    f"no complete response: {type(exc).__name__}",
                    method=method,
                    path=template,
                    may_have_been_applied=applied,
                )
                if retries_left and not applied:
                    self._backoff(attempt)
                    continue
                raise err from exc

            status = response.status_code
            body = _json_or_none(response)
            trace_id = _trace_id(response, body)
            self._log(
                method=method, path=template, resource_id=resource_id, status=status,
                started=started, trace_id=trace_id, attempt=attempt,
            )  # fmt: skip
            if status == 429:
                _count_rate_limited()
            if permit is not None:
                if status == 429:
                    self.rate_limiter.on_rate_limited(permit, response.headers)
                else:
                    self.rate_limiter.observe(permit, response.headers)
            if 200 <= status < 300:
                return body
            if (
                status == 401
                and use_source
                and not refreshed
                and bearer
                and not is_scope_denial(status, body)
            ):
                assert self.token_source is not None and resource_id is not None
                refreshed = True
                fresh = self.token_source.report_unauthorized(resource_id, bearer)
                if fresh:
                    bearer = fresh
                    attempt -= 1  # the refresh retry does not consume the retry budget
                    continue
            if status == 429:
                err = map_error(
                    status, body, trace_id=trace_id, method=method, path=template,
                    response_headers=response.headers,
                )  # fmt: skip
                # GHL refused it, so even a create may be repeated; the limiter waits the window out.
                if retries_left and err.retryable:
                    continue
                raise err
            if status >= 500:
                applied = unsafe_to_replay()
                if retries_left and not applied:
                    self._backoff(attempt)
                    continue
                raise map_error(
                    status, body, trace_id=trace_id, method=method, path=template,
                    may_have_been_applied=applied,
                )  # fmt: skip
            raise map_error(
                status, body, trace_id=trace_id, method=method, path=template,
                may_have_been_applied=status == 422 and replay is Replay.NEVER,
            )  # fmt: skip


def parse_response(model: type[M], body: Any, *, method: str, path: str) -> M:
    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as exc:
        raise errors.GHLError(
            f"unexpected response shape for {model.__name__}: {exc.error_count()} error(s)",
            method=method,
            path=path,
        ) from exc


class GHLClient:
    """Client of GHL's contacts, tasks, notes, tags and appointments endpoints.

    Create ONE instance per Lambda container (module scope, lazily) and reuse it across warm
    invocations: it owns an httpx connection pool (keep-alive, TLS sessions) and is thread-safe.
    Every resource method takes ``location_id`` first: the token and the rate budget are per
    location. The rate budget is shared by every client instance in the process (see ratelimit).
    """

    def __init__(
        self,
        token_source: TokenSource,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        rate_limit_max_wait_s: float | None = None,
        search_page_window: int = SEARCH_PAGE_WINDOW,
        sleep: Callable[[float], None] = time.sleep,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        """``rate_limit_max_wait_s``: fail with GHLRateLimited instead of waiting longer for budget.
        ``search_page_window``: how many records page+pageLimit can reach before searchAfter is used.
        ``event_hooks``: passed to httpx (tests record traffic with them)."""
        if search_page_window < 1:
            raise ValueError("search_page_window must be >= 1")
        self.search_page_window = search_page_window
        self._core = HttpCore(
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limiter=rate_limiter,
            transport=transport,
            token_source=token_source,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            rate_limit_max_wait_s=rate_limit_max_wait_s,
            sleep=sleep,
            event_hooks=event_hooks,
        )

    @property
    def rate_limiter(self) -> RateLimiter:
        return self._core.rate_limiter

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> GHLClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(
        self,
        model: type[M],
        method: str,
        template: str,
        location_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        replay: Replay = Replay.SAFE,
        version: str = VERSION_CONTACTS,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> M:
        _require_id("location_id", location_id)
        body = self._core.request(
            method,
            template,
            path_params=path_params,
            resource_id=location_id,
            version=version,
            replay=replay,
            params=params,
            json_body=json_body,
        )
        return parse_response(model, body, method=method, path=template)

    # ---- contacts --------------------------------------------------------------------------

    def get_contact(self, location_id: str, contact_id: str) -> Contact:
        """GET /contacts/{contactId}."""
        return self._call(
            ContactResponse,
            "GET",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
        ).contact

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
        body = self._with_location(location_id, contact.to_api(), contact.location_id)
        return self._call(
            ContactResponse, "POST", "/contacts/", location_id, replay=Replay.NEVER, json_body=body
        ).contact

    def update_contact(
        self, location_id: str, contact_id: str, changes: ContactUpdate
    ) -> UpdateContactResponse:
        """PUT /contacts/{contactId}. ``changes.tags`` replaces every tag: prefer add/remove_tags."""
        return self._call(
            UpdateContactResponse,
            "PUT",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
            json_body=changes.to_api(),
        )

    def delete_contact(self, location_id: str, contact_id: str) -> bool:
        """DELETE /contacts/{contactId}; returns GHL's ``succeded`` flag."""
        result = self._call(
            SucceededResponse,
            "DELETE",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
        )
        return bool(result.succeeded)

    def upsert_contact(self, location_id: str, contact: ContactUpsert) -> UpsertContactResponse:
        """POST /contacts/upsert: ``new`` tells a created contact from a matched one. Not repeated once
        it may have reached GHL (with duplicates allowed a repeat could create a second contact)."""
        body = self._with_location(location_id, contact.to_api(), contact.location_id)
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
        if not 1 <= page_limit <= SEARCH_MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be between 1 and {SEARCH_MAX_PAGE_LIMIT}")
        if page is not None and search_after is not None:
            raise ValueError("give page or search_after, not both")
        body: dict[str, Any] = {"locationId": location_id, "pageLimit": page_limit}
        if page is not None:
            if page < 1:
                raise ValueError("page starts at 1")
            body["page"] = page
        if search_after is not None:
            body["searchAfter"] = list(search_after)
        if filters:
            body["filters"] = [dict(f) for f in filters]
        if sort:
            body["sort"] = [dict(s) for s in sort]
        if query:
            body["query"] = query
        result = self._call(ContactSearchResponse, "POST", "/contacts/search", location_id, json_body=body)
        cursor = result.contacts[-1].search_after if result.contacts else None
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

    @staticmethod
    def _with_location(location_id: str, body: dict[str, Any], given: str | None) -> dict[str, Any]:
        if given is not None and given != location_id:
            raise ValueError("contact.location_id differs from location_id")
        return body | {"locationId": location_id}

    # ---- tasks -----------------------------------------------------------------------------

    def list_tasks(self, location_id: str, contact_id: str) -> list[Task]:
        """GET /contacts/{contactId}/tasks."""
        return self._call(
            TasksResponse,
            "GET",
            "/contacts/{contactId}/tasks",
            location_id,
            path_params={"contactId": contact_id},
        ).tasks

    def get_task(self, location_id: str, contact_id: str, task_id: str) -> Task:
        """GET /contacts/{contactId}/tasks/{taskId}."""
        return self._call(
            TaskResponse,
            "GET",
            "/contacts/{contactId}/tasks/{taskId}",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
        ).task

    def create_task(self, location_id: str, contact_id: str, task: TaskCreate) -> Task:
        """POST /contacts/{contactId}/tasks (201); never repeated once it may have reached GHL."""
        return self._call(
            TaskResponse,
            "POST",
            "/contacts/{contactId}/tasks",
            location_id,
            path_params={"contactId": contact_id},
            replay=Replay.NEVER,
            json_body=task.to_api(),
        ).task

    def update_task(self, location_id: str, contact_id: str, task_id: str, changes: TaskUpdate) -> Task:
        """PUT /contacts/{contactId}/tasks/{taskId}."""
        return self._call(
            TaskResponse,
            "PUT",
            "/contacts/{contactId}/tasks/{taskId}",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
            json_body=changes.to_api(),
        ).task

    def set_task_completed(self, location_id: str, contact_id: str, task_id: str, completed: bool) -> Task:
        """PUT /contacts/{contactId}/tasks/{taskId}/completed."""
        return self._call(
            TaskResponse,
            "PUT",
            "/contacts/{contactId}/tasks/{taskId}/completed",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
            json_body={"completed": completed},
        ).task

    def delete_task(self, location_id: str, contact_id: str, task_id: str) -> bool:
        """DELETE /contacts/{contactId}/tasks/{taskId}; returns ``succeded``."""
        result = self._call(
            SucceededResponse,
            "DELETE",
            "/contacts/{contactId}/tasks/{taskId}",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
        )
        return bool(result.succeeded)

    def search_location_tasks(
        self,
        location_id: str,
        *,
        contact_ids: Sequence[str] | None = None,
        completed: bool | None = None,
        assigned_to: Sequence[str] | None = None,
        query: str | None = None,
        limit: int = 25,
        skip: int = 0,
        business_id: str | None = None,
    ) -> list[LocationTask]:
        """POST /locations/{locationId}/tasks/search (read-only, so retried like a GET)."""
        body: dict[str, Any] = {"limit": limit, "skip": skip}
        if contact_ids is not None:
            body["contactId"] = list(contact_ids)
        if completed is not None:
            body["completed"] = completed
        if assigned_to is not None:
            body["assignedTo"] = list(assigned_to)
        if query:
            body["query"] = query
        if business_id:
            body["businessId"] = business_id
        return self._call(
            LocationTasksResponse,
            "POST",
            "/locations/{locationId}/tasks/search",
            location_id,
            path_params={"locationId": location_id},
            json_body=body,
        ).tasks

    def iter_location_tasks(
        self,
        location_id: str,
        *,
        page_size: int = 100,
        contact_ids: Sequence[str] | None = None,
        completed: bool | None = None,
        assigned_to: Sequence[str] | None = None,
        query: str | None = None,
    ) -> Iterator[LocationTask]:
        """Every task of the location matching the filters, paged with skip/limit."""
        skip = 0
        while True:
            page = self.search_location_tasks(
                location_id,
                contact_ids=contact_ids,
                completed=completed,
                assigned_to=assigned_to,
                query=query,
                limit=page_size,
                skip=skip,
            )
            yield from page
            if len(page) < page_size:
                return
            skip += len(page)

    # ---- notes -----------------------------------------------------------------------------

    def list_notes(self, location_id: str, contact_id: str) -> list[Note]:
        """GET /contacts/{contactId}/notes."""
        return self._call(
            NotesResponse,
            "GET",
            "/contacts/{contactId}/notes",
            location_id,
            path_params={"contactId": contact_id},
        ).notes

    def get_note(self, location_id: str, contact_id: str, note_id: str) -> Note:
        """GET /contacts/{contactId}/notes/{id}."""
        return self._call(
            NoteResponse,
            "GET",
            "/contacts/{contactId}/notes/{id}",
            location_id,
            path_params={"contactId": contact_id, "id": note_id},
        ).note

    def create_note(self, location_id: str, contact_id: str, note: NoteCreate) -> Note:
        """POST /contacts/{contactId}/notes (201); never repeated once it may have reached GHL."""
        return self._call(
            NoteResponse,
            "POST",
            "/contacts/{contactId}/notes",
            location_id,
            path_params={"contactId": contact_id},
            replay=Replay.NEVER,
            json_body=note.to_api(),
        ).note

    def update_note(self, location_id: str, contact_id: str, note_id: str, changes: NoteUpdate) -> Note:
        """PUT /contacts/{contactId}/notes/{id}."""
        return self._call(
            NoteResponse,
            "PUT",
            "/contacts/{contactId}/notes/{id}",
            location_id,
            path_params={"contactId": contact_id, "id": note_id},
            json_body=changes.to_api(),
        ).note

    def delete_note(self, location_id: str, contact_id: str, note_id: str) -> bool:
        """DELETE /contacts/{contactId}/notes/{id}; returns ``succeded``."""
        result = self._call(
            SucceededResponse,
            "DELETE",
            "/contacts/{contactId}/notes/{id}",
            location_id,
            path_params={"contactId": contact_id, "id": note_id},
        )
        return bool(result.succeeded)

    # ---- tags ------------------------------------------------------------------------------

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        """POST /contacts/{contactId}/tags (201). A set union, so repeating it is harmless: retried."""
        try:
            return self._tags("POST", location_id, contact_id, tags)
        except errors.GHLUnprocessable:
            # GHL may answer 422 to a write it applied (docs issue #64): ask once more for the result.
            return self._tags("POST", location_id, contact_id, tags)

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        """DELETE /contacts/{contactId}/tags with a JSON body."""
        return self._tags("DELETE", location_id, contact_id, tags)

    def _tags(self, method: str, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        if isinstance(tags, str) or not tags:
            raise ValueError("tags must be a non-empty list of strings")
        return self._call(
            TagsResponse,
            method,
            "/contacts/{contactId}/tags",
            location_id,
            path_params={"contactId": contact_id},
            json_body={"tags": list(tags)},
        ).tags

    # ---- appointments ----------------------------------------------------------------------

    def list_contact_appointments(self, location_id: str, contact_id: str) -> list[Appointment]:
        """GET /contacts/{contactId}/appointments."""
        return self._call(
            AppointmentsResponse,
            "GET",
            "/contacts/{contactId}/appointments",
            location_id,
            path_params={"contactId": contact_id},
        ).events

    def get_appointment(self, location_id: str, event_id: str) -> Appointment:
        """GET /calendars/events/appointments/{eventId} (Version 2021-04-15)."""
        return self._call(
            CalendarEventResponse,
            "GET",
            "/calendars/events/appointments/{eventId}",
            location_id,
            path_params={"eventId": event_id},
            version=VERSION_CALENDARS,
        ).event
