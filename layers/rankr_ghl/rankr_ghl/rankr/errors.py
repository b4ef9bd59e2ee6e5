"""Typed errors of the Rankr API (problem+json, RFC 9457), mirroring the GHL client's hierarchy."""

from __future__ import annotations

import re
from typing import Any

from rankr_ghl.observability import redact_text

PROBLEM_BASE = "https://rankr.example/problems/"
_RESOURCE_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class RankrError(Exception):
    """Base of every Rankr client error.

    `retryable`: a later identical attempt may succeed. `may_have_been_applied`: the request may have
    reached Rankr and taken effect (timeouts and 5xx on writes); creates stay safe to retry because they
    carry an Idempotency-Key.
    """

    default_retryable = False

    def __init__(
        self,
        status: int | None,
        title: str,
        detail: str | None = None,
        *,
        problem_type: str | None = None,
        errors: list[dict[str, str]] | None = None,
        retryable: bool | None = None,
        may_have_been_applied: bool = False,
    ) -> None:
        # Rankr may echo submitted values (an e-mail) in `detail`: scrub before it can reach a log.
        self.status = status
        self.title = title
        self.detail = redact_text(detail) if detail else None
        self.problem_type = problem_type
        self.errors = [
            {"field": e.get("field", ""), "message": redact_text(e.get("message", ""))} for e in errors or []
        ]
        self.retryable = self.default_retryable if retryable is None else retryable
        self.may_have_been_applied = may_have_been_applied
        super().__init__(self._summary())

    @property
    def problem_name(self) -> str | None:
        """Last segment of the problem type URI, e.g. `resource-deleted`."""
        if not self.problem_type:
            return None
        return self.problem_type.rstrip("/").rsplit("/", 1)[-1]

    def _summary(self) -> str:
        parts = [f"Rankr {self.status}" if self.status else "Rankr", self.title]
        if self.detail:
            parts.append(self.detail)
        if self.errors:
            parts.append("; ".join(f"{e['field']}: {e['message']}" for e in self.errors))
        return " - ".join(parts)


class RankrBadRequest(RankrError):
    """400: malformed request (bad JSON, missing Idempotency-Key, bad query parameter or cursor)."""


class RankrValidationError(RankrBadRequest):
    """422: well-formed but invalid body; `errors` names each offending field."""


class RankrUnauthorized(RankrError):
    """401: API key missing, unknown or revoked."""


class RankrForbidden(RankrUnauthorized):
    """403: the API key may not access this account."""


class RankrNotFound(RankrError):
    """404: no such record (soft-deleted ones are still found)."""


class RankrConflict(RankrError):
    """409: see the subclasses."""


class RankrIdempotencyKeyReused(RankrConflict):
    """409: the Idempotency-Key was already used with a different body.

    The key's first create succeeded: `resource_id` (problem member `resourceId`) and `resource_location`
    (`resourceLocation`) name the record it created, which is the caller's. Recover by adopting that id
    and PATCHing the record with the new state; never create again. None when Rankr did not say.
    """

    def __init__(
        self,
        *args: Any,
        resource_id: str | None = None,
        resource_location: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.resource_id = resource_id
        self.resource_location = resource_location
        super().__init__(*args, **kwargs)


class RankrResourceDeleted(RankrConflict):
    """409: the record is soft-deleted and cannot be written."""


class RankrRateLimited(RankrError):
    """429 after retries; `retry_after` in seconds when Rankr said so."""

    default_retryable = True

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class RankrServerError(RankrError):
    """5xx after retries."""

    default_retryable = True


class RankrTimeout(RankrError):
    """The request timed out after retries."""

    default_retryable = True


class RankrConnectionError(RankrError):
    """Could not connect, or the connection dropped, after retries."""

    default_retryable = True


_CONFLICTS: dict[str, type[RankrConflict]] = {
    "idempotency-key-reused": RankrIdempotencyKeyReused,
    "resource-deleted": RankrResourceDeleted,
}


def error_for_status(
    status: int, problem: dict[str, Any] | None, *, method: str, retry_after: float | None = None
) -> RankrError:
    """Build the typed error for an HTTP error response (problem+json body when Rankr sent one)."""
    problem = problem or {}
    title = str(problem.get("title") or _default_title(status))
    detail = problem.get("detail")
    problem_type = problem.get("type")
    raw_errors = problem.get("errors")
    errors = (
        [
            {"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
            for e in raw_errors
            if isinstance(e, dict)
        ]
        if isinstance(raw_errors, list)
        else None
    )
    kwargs: dict[str, Any] = {
        "problem_type": str(problem_type) if problem_type else None,
        "errors": errors,
    }
    detail_text = str(detail) if detail is not None else None
    if status == 400:
        return RankrBadRequest(status, title, detail_text, **kwargs)
    if status == 401:
        return RankrUnauthorized(status, title, detail_text, **kwargs)
    if status == 403:
        return RankrForbidden(status, title, detail_text, **kwargs)
    if status == 404:
        return RankrNotFound(status, title, detail_text, **kwargs)
    if status == 409:
        name = str(problem_type or "").rstrip("/").rsplit("/", 1)[-1]
        conflict = _CONFLICTS.get(name, RankrConflict)
        if conflict is RankrIdempotencyKeyReused:
            return RankrIdempotencyKeyReused(
                status,
                title,
                detail_text,
                resource_id=_resource_id(problem.get("resourceId")),
                resource_location=_text_or_none(problem.get("resourceLocation")),
                **kwargs,
            )
        return conflict(status, title, detail_text, **kwargs)
    if status == 422:
        return RankrValidationError(status, title, detail_text, **kwargs)
    if status == 429:
        return RankrRateLimited(status, title, detail_text, retry_after=retry_after, **kwargs)
    if status >= 500:
        return RankrServerError(
            status, title, detail_text, may_have_been_applied=method not in ("GET", "HEAD"), **kwargs
        )
    return RankrError(status, title, detail_text, **kwargs)


def _resource_id(value: Any) -> str | None:
    """A Rankr id (the contract's `Id` pattern) or None: a malformed one must not be adopted."""
    text = _text_or_none(value)
    return text if text is not None and _RESOURCE_ID_RE.match(text) else None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _default_title(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Content",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "HTTP error")
