"""Reading GHL's answers: typed errors from non-2xx responses, models or wire records from 2xx bodies.

pydantic loads only when a model reads an answer: the contact calls of a lead push or a webhook read
theirs with wire parsers (`contact_wire`), so their first event never imports it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from rankr_ghl.ghl import errors
from rankr_ghl.ghl.ratelimit import HEADER_DAILY_REMAINING
from rankr_ghl.ghl.variant_observations import observe_duplicate_error, observe_variant_once
from rankr_ghl.wire_values import WireFormatError

if TYPE_CHECKING:
    from pydantic import BaseModel

_TRACE_HEADERS = ("traceid", "x-trace-id", "trace-id", "x-request-id")

M = TypeVar("M", bound="BaseModel")
T = TypeVar("T")
__all__ = [
    "Replay",
    "error_message",
    "is_scope_denial",
    "json_or_none",
    "map_error",
    "observe_variant_once",
    "parse_response",
    "parse_wire_response",
    "response_trace_id",
]


class Replay(Enum):
    """May a request be sent again after it may have reached GHL?"""

    SAFE = "safe"  # idempotent: GET, PUT, DELETE, searches, add-tags
    NEVER = "never"  # creates: only retried when GHL certainly did not act


def is_scope_denial(status: int, body: Any) -> bool:
    """GHL answers a token that lacks the route's scope with "The token is not authorized for this
    scope", as 401 or 403 (unverified which). Either is a permission error: refreshing cannot help."""
    return status in (401, 403) and "scope" in error_message(body, "").lower()


def response_trace_id(response: httpx.Response, body: Any) -> str | None:
    for name in _TRACE_HEADERS:
        header = response.headers.get(name)
        if header:
            return str(header)
    if isinstance(body, dict):
        value = body.get("traceId")
        if isinstance(value, str):
            return value
    return None


def error_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        raw = body.get("message") or body.get("error_description") or body.get("error")
        if isinstance(raw, list):
            return "; ".join(str(item) for item in raw)
        if raw:
            return str(raw)
    return fallback


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


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
    message = error_message(body, f"HTTP {status}")
    common: dict[str, Any] = {"status": status, "trace_id": trace_id, "method": method, "path": path}
    observe_duplicate_error(status, body, message, method=method, path=path)
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


def parse_response(model: type[M], body: Any, *, method: str, path: str) -> M:
    from pydantic import ValidationError

    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as exc:
        raise errors.GHLError(
            f"unexpected response shape for {model.__name__}: {exc.error_count()} error(s)",
            method=method,
            path=path,
        ) from exc


def parse_wire_response(parser: Callable[[Any], T], body: Any, *, method: str, path: str) -> T:
    """A 2xx body read by a wire parser; a body of the wrong shape raises the GHLError a model
    would have raised (the parser's title names the model it stands in for)."""
    try:
        return parser(body)
    except WireFormatError as exc:
        raise errors.GHLError(
            f"unexpected response shape for {exc.title}: {len(exc.problems)} error(s)",
            method=method,
            path=path,
        ) from exc
