"""Where the GHL client gets bearer tokens from.

The client asks for a resource's (location's or company's) token before each request. On a 401 it
reports the rejected token once; the source may return a fresh token (after a refresh) that the
client retries with exactly once, or None to give up.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenSource(Protocol):
    def get_token(self, resource_id: str) -> str:
        """Current access token for a location (or company, for agency calls)."""
        ...

    def report_unauthorized(self, resource_id: str, rejected_token: str) -> str | None:
        """GHL answered 401 to ``rejected_token``. Return a token to retry with once, or None."""
        ...


class StaticTokenSource:
    """One fixed token for every resource: a Private Integration Token or a test token.

    A 401 cannot be repaired by a static token, so ``report_unauthorized`` returns None.
    """

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("token must be a non-empty string")
        self._token = token

    def get_token(self, resource_id: str) -> str:
        return self._token

    def report_unauthorized(self, resource_id: str, rejected_token: str) -> str | None:
        return None

    def __repr__(self) -> str:  # never show the token
        return "StaticTokenSource(<redacted>)"
