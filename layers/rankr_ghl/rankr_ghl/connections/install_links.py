"""Install links minted for Rankr, the browser nonce that binds an install to one browser, the signed
result an install shows on its page, and one-time claim codes for installs started in GHL.

An install link is `<install url>?link=<token>`; the token is `<base64url(json)>.<base64url(HMAC)>`
under a key derived from the state signing key for this purpose only, so a link, a state and a result
can never stand in for one another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from rankr_ghl.connections.errors import InvalidState, OAuthError, StateExpired
from rankr_ghl.connections.status import UserType

LINK_TTL_S = 900
RESULT_TTL_S = 300
CLAIM_TTL_S = 900
MAX_TOKEN_LENGTH = 2048
NONCE_COOKIE = "__Host-rankr_install"
RESULT_COOKIE = "__Host-rankr_install_result"
# Claim codes: no 0/O or 1/I, so a code read off a page is typed back right.
_CLAIM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def nonce_hash(nonce: str) -> str:
    return _b64(hashlib.sha256(nonce.encode()).digest())


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def new_claim_code() -> str:
    raw = "".join(secrets.choice(_CLAIM_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def claim_code_hash(code: str) -> str:
    """The stored form of a claim code: codes are compared on this, never kept in clear."""
    normalized = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(f"rankr-ghl-claim:{normalized}".encode()).hexdigest()


def mask_account(account_id: str | None) -> str:
    if not account_id:
        return "none"
    return f"•••{account_id[-4:]}" if len(account_id) > 4 else "••••"


class SignedTokens:
    """HMAC-signed JSON tokens of one purpose (`link`, `result`), with an expiry."""

    def __init__(
        self, key: str | bytes, purpose: str, *, ttl_s: int, clock: Callable[[], float] = time.time
    ) -> None:
        key_bytes = key.encode() if isinstance(key, str) else key
        if len(key_bytes) < 16:
            raise ValueError("signing key must be at least 16 bytes")
        self._key = hmac.new(key_bytes, f"rankr-ghl:{purpose}".encode(), hashlib.sha256).digest()
        self._purpose = purpose
        self._ttl_s = ttl_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"SignedTokens(purpose={self._purpose!r}, ttl_s={self._ttl_s})"

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def sign(self, body: dict[str, Any]) -> tuple[str, int]:
        expires_at = int(self._clock()) + self._ttl_s
        payload = _b64(json.dumps({**body, "exp": expires_at}, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}", expires_at

    def verify(self, token: str | None) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise InvalidState("this link is malformed; ask Rankr for a new one")
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidState("this link was not issued by Rankr; ask Rankr for a new one")
        try:
            body = json.loads(_unb64(payload))
            expires_at = int(body["exp"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise InvalidState("this link is malformed; ask Rankr for a new one") from exc
        if not isinstance(body, dict):
            raise InvalidState("this link is malformed; ask Rankr for a new one")
        if self._clock() > expires_at:
            raise StateExpired("this link expired; ask Rankr for a new one")
        return body


@dataclass(frozen=True)
class InstallLink:
    link_id: str
    rankr_account_id: str
    user_type: UserType
    return_url: str | None
    expires_at: int


class ReturnUrlPolicy:
    """Return URLs allowed after an install: same scheme and host as an allowed entry, under its path."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = [urlsplit(a) for a in allowed if a]

    def allows(self, url: str) -> bool:
        if len(url) > 1024 or any(ch in url for ch in "\r\n\t\\ "):
            return False
        target = urlsplit(url)
        if target.scheme != "https" or not target.hostname or target.username or target.password:
            return False
        return any(
            target.scheme == a.scheme
            and target.netloc.lower() == a.netloc.lower()
            and target.path.startswith(a.path or "/")
            for a in self._allowed
        )


class InstallLinkIssuer:
    """Mints and reads install links (Rankr asks for one through the control API)."""

    def __init__(self, tokens: SignedTokens, install_url: str, return_urls: ReturnUrlPolicy) -> None:
        self._tokens = tokens
        self._install_url = install_url
        self._return_urls = return_urls

    @property
    def return_urls(self) -> ReturnUrlPolicy:
        return self._return_urls

    def mint(self, rankr_account_id: str, user_type: UserType, return_url: str | None) -> tuple[str, int]:
        if return_url is not None and not self._return_urls.allows(return_url):
            raise ValueError("returnUrl is not on the allow-list")
        token, expires_at = self._tokens.sign(
            {
                "v": 1,
                "id": secrets.token_urlsafe(12),
                "a": rankr_account_id,
                "u": user_type.value,
                "r": return_url,
            }
        )
        return f"{self._install_url}?{urlencode({'link': token})}", expires_at

    def read(self, token: str | None) -> InstallLink:
        body = self._tokens.verify(token)
        link_id, account, return_url = body.get("id"), body.get("a"), body.get("r")
        try:
            user_type = UserType(str(body.get("u")))
        except ValueError as exc:
            raise InvalidState("this link is malformed; ask Rankr for a new one") from exc
        if (
            body.get("v") != 1
            or not isinstance(link_id, str)
            or not isinstance(account, str)
            or not account
            or (return_url is not None and not isinstance(return_url, str))
        ):
            raise InvalidState("this link is malformed; ask Rankr for a new one")
        return InstallLink(link_id, account, user_type, return_url, int(body["exp"]))


class ClaimCodeStore(Protocol):
    def put(self, code_hash: str, location_ids: list[str], ttl_s: int) -> None:
        """Store a claim code (its hash) for the locations an unbound install connected."""
        ...

    def take(self, code_hash: str) -> list[str] | None:
        """The locations of an unexpired code, removing it (single use); None when unknown or spent."""
        ...


class BrowserMismatch(OAuthError):
    title = "This install was started in another browser"
