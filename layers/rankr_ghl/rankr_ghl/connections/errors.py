"""Typed errors of the connections domain. Handlers map them to HTTP answers, workers to retry/skip.

``retryable`` tells a queue worker whether to leave the message for a later attempt (True) or to
acknowledge and count it (False). Messages never contain a token, a code or a client secret.
"""

from __future__ import annotations


class ConnectionsError(Exception):
    retryable = False
    http_status = 500

    def __init__(self, message: str, *, connection_id: str | None = None) -> None:
        self.message = message
        self.connection_id = connection_id
        super().__init__(message)


class ConnectionNotFound(ConnectionsError):
    """No connection or no stored token for this location/company."""

    http_status = 404


class ConnectionNeedsReauth(ConnectionsError):
    """GHL rejected the refresh token (invalid_grant). Only a new install repairs it."""

    http_status = 409


class ConnectionUninstalled(ConnectionsError):
    """The app was uninstalled from this location; traffic for it is skipped."""

    http_status = 410


class ConnectionPaused(ConnectionsError):
    """GHL said "Location is not active" (or an operator paused it); retried later."""

    retryable = True
    http_status = 409


class TokenRefreshInProgress(ConnectionsError):
    """Another container holds the refresh lease and did not publish a token in time."""

    retryable = True
    http_status = 503


class TokenRefreshDeferred(ConnectionsError):
    """Too little of the invocation is left to refresh and store the new pair safely; retried later."""

    retryable = True
    http_status = 503


class TokenStorageError(ConnectionsError):
    """Secrets Manager or DynamoDB failed; the caller may retry."""

    retryable = True
    http_status = 503


class CompanyTokenNotStored(ConnectionsError):
    """INSTALL for a location arrived before the agency's OAuth callback stored its token (GHL #294)."""

    retryable = True
    http_status = 409


class OAuthError(ConnectionsError):
    """Base of errors in the browser install flow; all are the user's (4xx) unless noted."""

    http_status = 400
    title = "The connection could not be completed"


class InvalidState(OAuthError):
    title = "This install link is not valid"


class StateExpired(OAuthError):
    title = "This install link has expired"


class StateReused(OAuthError):
    title = "This install link was used already"


class MissingCode(OAuthError):
    title = "GoHighLevel did not send an authorization code"


class InstallDenied(OAuthError):
    title = "The install was cancelled in GoHighLevel"


class CodeExchangeRejected(OAuthError):
    title = "GoHighLevel refused the authorization code"


class GHLUnavailable(OAuthError):
    title = "GoHighLevel could not be reached"
    http_status = 502
    retryable = True


class InstallStorageFailed(OAuthError):
    title = "The connection could not be saved"
    http_status = 503
    retryable = True
