"""Typed errors raised by the GHL client.

Two flags drive what a caller does next:
- ``retryable``: the failure is transient; the same call may succeed later.
- ``may_have_been_applied``: a non-idempotent request (create, upsert, code exchange) may have
  taken effect at GHL although no success response arrived. Look the record up before retrying.
"""

from __future__ import annotations

from rankr_ghl.observability import redact_text


class GHLError(Exception):
    """Base of every error the GHL client raises."""

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        trace_id: str | None = None,
        retryable: bool | None = None,
        may_have_been_applied: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        # GHL echoes submitted values in some messages; never let an e-mail or phone through.
        self.message = redact_text(message)
        self.status = status
        self.trace_id = trace_id
        self.retryable = self.default_retryable if retryable is None else retryable
        self.may_have_been_applied = may_have_been_applied
        self.method = method
        self.path = path  # path template, never the concrete URL
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.method} {self.path} " if self.method and self.path else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        trace = f" (traceId {self.trace_id})" if self.trace_id else ""
        applied = " [may have been applied]" if self.may_have_been_applied else ""
        return f"{where}{status}{self.message}{trace}{applied}"


class GHLBadRequest(GHLError):
    """HTTP 400."""


class GHLDuplicateContact(GHLBadRequest):
    """HTTP 400 "This location does not allow duplicated contacts." with ``meta.contactId``."""

    def __init__(
        self,
        message: str,
        *,
        contact_id: str | None,
        matching_field: str | None,
        status: int | None = 400,
        trace_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.contact_id = contact_id
        self.matching_field = matching_field
        super().__init__(message, status=status, trace_id=trace_id, method=method, path=path)


class GHLInvalidGrant(GHLBadRequest):
    """OAuth 400: the refresh token (or code) is invalid, expired or already used. Re-auth needed."""


class GHLLocationInactive(GHLBadRequest):
    """OAuth 400 "Location is not active": recoverable later with the same refresh token."""

    default_retryable = True


class GHLUnauthorized(GHLError):
    """HTTP 401 (after the token source had its one chance to refresh)."""


class GHLForbidden(GHLError):
    """HTTP 403: missing scope or resource outside the token's reach."""


class GHLNotFound(GHLError):
    """HTTP 404."""


class GHLUnprocessable(GHLError):
    """HTTP 422: validation failure. On a create it may still have created the record (GHL docs #64)."""


class GHLRateLimited(GHLError):
    """HTTP 429, or the local budget cannot grant a request in time (``status`` is None then)."""

    default_retryable = True

    def __init__(
        self,
        message: str,
        *,
        daily: bool = False,
        retry_after_s: float | None = None,
        status: int | None = None,
        trace_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.daily = daily
        self.retry_after_s = retry_after_s
        # Always retryable: even a spent daily budget comes back at GHL's daily reset, and
        # ``retry_after_s`` says when it is worth trying again.
        super().__init__(message, status=status, trace_id=trace_id, retryable=True, method=method, path=path)


class GHLServerError(GHLError):
    """HTTP 5xx."""

    default_retryable = True


class GHLTimeout(GHLError):
    """No response within the configured timeout."""

    default_retryable = True


class GHLConnectionError(GHLError):
    """Connection failed or dropped before a complete response arrived."""

    default_retryable = True
