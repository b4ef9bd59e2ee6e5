"""The Rankr client's HTTP plumbing: API key (refreshed once on 401), idempotency keys, retries
with backoff and Retry-After, safe logging, and parsing of answers (into models, or by a plain parser).

pydantic is imported only for type checking: a contact webhook's first event parses its answers with
`rankr_ghl.rankr.contact_wire` and never loads pydantic (bench/cold_start.py)."""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import quote

import httpx

from rankr_ghl.lazy_http import LazyHttpClient
from rankr_ghl.observability import logger
from rankr_ghl.rankr.errors import (
    RankrConnectionError,
    RankrError,
    RankrTimeout,
    error_for_status,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

ApiKey = str | Callable[[], str]
ModelT = TypeVar("ModelT", bound="BaseModel")
ParsedT = TypeVar("ParsedT")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


class RankrHttpBase:
    """Owns the connection pool and the retry loop; `RankrClient` adds the record endpoints."""

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
        # What every log line of this request carries: the path template, never the ids in the path.
        request_facts = {"method": method, "path": template, "account_id": account_id}
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
                            **request_facts,
                            "status": status,
                            "duration_ms": duration_ms,
                            "attempt": attempt,
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
                            extra=request_facts,
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
                    **request_facts,
                    "status": status,
                    "duration_ms": duration_ms,
                    "attempt": attempt,
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


def parse_body(model: type[ModelT], response: httpx.Response) -> ModelT:
    """The answer as a typed model."""
    return parse_with(model.model_validate, model.__name__, response)


def parse_with(parse: Callable[[Any], ParsedT], name: str, response: httpx.Response) -> ParsedT:
    """The answer read by `parse`, which raises ValueError on a body it refuses (pydantic's
    ValidationError is one); `name` says what was expected."""
    try:
        return parse(response.json())
    except ValueError as exc:
        # Never include the body: it may hold contact PII.
        raise RankrError(
            response.status_code,
            "Unexpected Rankr response body",
            f"{name}: {type(exc).__name__}",
        ) from exc
