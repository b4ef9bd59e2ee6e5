"""The GHL client's request engine: pooling, auth, the rate budget, retries and safe logging.

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
from collections.abc import Callable, Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from rankr_ghl import deadlines
from rankr_ghl.ghl import errors
from rankr_ghl.ghl.ratelimit import Permit, RateLimiter
from rankr_ghl.ghl.responses import (
    Replay,
    is_scope_denial,
    json_or_none,
    map_error,
    response_trace_id,
)
from rankr_ghl.ghl.tokens import TokenSource
from rankr_ghl.lazy_http import LazyHttpClient
from rankr_ghl.observability import logger

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
VERSION_CONTACTS = "2021-07-28"  # contacts, locations, oauth locationToken/installedLocations
VERSION_CALENDARS = "2021-04-15"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# httpx/httpcore log full URLs at INFO/DEBUG; query strings can carry e-mails and phone numbers
# (GET /contacts/search/duplicate), so they must never log below WARNING.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


def _count_rate_limited() -> None:
    """EMF metric `Ghl429Received`: GHL refused a request (another app or container shares the budget)."""
    from aws_lambda_powertools.metrics import MetricUnit

    from rankr_ghl.observability import metrics

    metrics.add_metric(name="Ghl429Received", unit=MetricUnit.Count, value=1)


# Below this much time before the caller's deadline a call is not started (it could not finish).
MIN_CALL_BUDGET_S = 0.5


def require_id(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


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
        url = template.format(**{k: quote(require_id(k, v), safe="") for k, v in (path_params or {}).items()})
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
                max_wait = deadlines.limiter_wait_cap(max_wait)
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
            if permit is not None:
                # Completed before the body is parsed and logged: the budget frees the request's place
                # one interval after its completion, so a later one would only hold it longer.
                if status == 429:
                    self.rate_limiter.on_rate_limited(permit, response.headers)
                else:
                    self.rate_limiter.observe(permit, response.headers)
            body = json_or_none(response)
            trace_id = response_trace_id(response, body)
            self._log(
                method=method, path=template, resource_id=resource_id, status=status,
                started=started, trace_id=trace_id, attempt=attempt,
            )  # fmt: skip
            if status == 429:
                _count_rate_limited()
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


class HttpCoreOwner:
    """A client that owns an `HttpCore` (and its connection pool): closing it closes the pool."""

    _core: HttpCore

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
