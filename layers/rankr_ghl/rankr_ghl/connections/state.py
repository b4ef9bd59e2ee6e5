"""Signed, short-lived OAuth `state`: carries the Rankr account id through GHL's consent page.

Format: `<base64url(json payload)>.<base64url(HMAC-SHA256(key, payload part))>`. The payload holds a
version, the expiry (epoch s), a random nonce, the Rankr account id (optional) and the requested token
user type. GHL echoes `state` back unchanged; installs started in GHL's marketplace carry none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from rankr_ghl.connections.errors import InvalidState, StateExpired
from rankr_ghl.connections.status import UserType

STATE_VERSION = 1
MAX_STATE_LENGTH = 2048


@dataclass(frozen=True)
class InstallState:
    rankr_account_id: str | None
    user_type: UserType
    expires_at: int
    nonce: str = ""
    # sha256 of the nonce in the browser's install cookie: the callback must come from that browser.
    browser_hash: str | None = None
    return_url: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StateSigner:
    def __init__(self, key: str | bytes, *, ttl_s: int = 900, clock: Callable[[], float] = time.time) -> None:
        key_bytes = key.encode() if isinstance(key, str) else key
        if len(key_bytes) < 16:
            raise ValueError("state signing key must be at least 16 bytes")
        self._key = key_bytes
        self._ttl_s = ttl_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"StateSigner(ttl_s={self._ttl_s})"

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def sign(
        self,
        rankr_account_id: str | None,
        user_type: UserType = UserType.LOCATION,
        *,
        browser_hash: str | None = None,
        return_url: str | None = None,
    ) -> str:
        body = {
            "v": STATE_VERSION,
            "exp": int(self._clock()) + self._ttl_s,
            "n": secrets.token_urlsafe(12),
            "a": rankr_account_id,
            "u": user_type.value,
            "h": browser_hash,
            "r": return_url,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def verify(self, state: str) -> InstallState:
        if not state or len(state) > MAX_STATE_LENGTH or state.count(".") != 1:
            raise InvalidState("the state parameter is malformed")
        payload, mac = state.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidState("the state parameter was not issued by this connector")
        try:
            body = json.loads(_unb64(payload))
            expires_at = int(body["exp"])
            account = body.get("a")
            user_type = UserType(body.get("u", UserType.LOCATION.value))
            version = body.get("v")
            nonce = body.get("n")
            browser_hash = body.get("h")
            return_url = body.get("r")
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise InvalidState("the state parameter is malformed") from exc
        if (
            version != STATE_VERSION
            or (account is not None and not isinstance(account, str))
            or not isinstance(nonce, str)
            or not nonce
            or (browser_hash is not None and not isinstance(browser_hash, str))
            or (return_url is not None and not isinstance(return_url, str))
        ):
            raise InvalidState("the state parameter is malformed")
        if self._clock() > expires_at:
            raise StateExpired("the install link expired; start the install again")
        return InstallState(
            rankr_account_id=account,
            user_type=user_type,
            expires_at=expires_at,
            nonce=nonce,
            browser_hash=browser_hash,
            return_url=return_url,
        )
