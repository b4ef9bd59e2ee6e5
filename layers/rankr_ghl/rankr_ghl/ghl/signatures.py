"""Verification of GHL webhook signatures over the exact raw request body.

- `X-GHL-Signature`: Ed25519, base64. Current scheme. Keys come from `WEBHOOK_PUBLIC_KEYS` (PEM or
  base64 SPKI, comma separated); empty means GHL's published key. The entry `ghl` stands for that
  built-in key, so a rotation can run with "NEWKEY,ghl" and needs no code change.
- `X-WH-Signature`: RSA-SHA256 PKCS#1 v1.5 (RSA-4096), retired by GHL on 2026-09-01. Accepted only
  when `ALLOW_LEGACY_RSA_SIGNATURE=true` (key from `WEBHOOK_RSA_PUBLIC_KEY`, PEM), and only when no
  Ed25519 signature was sent: a failed Ed25519 check never falls back to RSA (downgrade attack).
- A header value of "N/A" (sent by GHL during the transition) means absent.

Keys are parsed once per container: the composition root builds one verifier from `Settings`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# GHL's published Ed25519 webhook key (SPKI, base64). Public by design.
GHL_ED25519_SPKI_B64: Final = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg="
BUILTIN_KEY_ALIAS: Final = "ghl"

ED25519_HEADER: Final = "x-ghl-signature"
RSA_HEADER: Final = "x-wh-signature"
ABSENT_MARKER: Final = "N/A"

ED25519_SIGNATURE_LEN: Final = 64
# Generous cap on a base64 header value; RSA-4096 signatures are 684 chars.
MAX_SIGNATURE_HEADER_LEN: Final = 1024

Scheme = Literal["ed25519", "rsa"]


class SignatureError(Exception):
    """The request is not authentically from GHL. `reason` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class SignatureConfigError(ValueError):
    """A configured public key cannot be parsed (a deployment error, not bad input)."""


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    scheme: Scheme
    key_index: int


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup; empty and "N/A" count as absent."""
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                value = candidate
                break
    if value is None:
        return None
    value = value.strip()
    if not value or value == ABSENT_MARKER:
        return None
    return value


def _decode_signature(value: str) -> bytes:
    if len(value) > MAX_SIGNATURE_HEADER_LEN:
        raise SignatureError("malformed_signature", "signature header is too long")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("malformed_signature", "signature header is not valid base64") from exc


def _load_public_key_text(text: str) -> object:
    text = text.strip().replace("\\n", "\n")
    if not text:
        raise SignatureConfigError("empty public key entry")
    try:
        if text.startswith("-----BEGIN"):
            return serialization.load_pem_public_key(text.encode())
        return serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise SignatureConfigError("public key is neither PEM nor base64 SPKI") from exc


def load_ed25519_key(text: str) -> Ed25519PublicKey:
    """Parse one PEM or base64-SPKI Ed25519 public key."""
    key = _load_public_key_text(text)
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureConfigError("configured webhook key is not an Ed25519 public key")
    return key


def load_rsa_key(text: str) -> RSAPublicKey:
    """Parse one PEM or base64-SPKI RSA public key."""
    key = _load_public_key_text(text)
    if not isinstance(key, RSAPublicKey):
        raise SignatureConfigError("configured legacy webhook key is not an RSA public key")
    return key


def parse_ed25519_keys(spec: str | None) -> list[Ed25519PublicKey]:
    """Keys from a `WEBHOOK_PUBLIC_KEYS` value; empty -> GHL's published key, `ghl` -> that key too."""
    entries = [e for e in (spec or "").split(",") if e.strip()]
    if not entries:
        entries = [BUILTIN_KEY_ALIAS]
    keys: list[Ed25519PublicKey] = []
    for entry in entries:
        text = GHL_ED25519_SPKI_B64 if entry.strip().lower() == BUILTIN_KEY_ALIAS else entry
        keys.append(load_ed25519_key(text))
    return keys


class SignatureVerifier:
    """Checks a webhook's signature headers against the configured keys."""

    def __init__(
        self,
        ed25519_keys: Sequence[Ed25519PublicKey],
        *,
        rsa_key: RSAPublicKey | None = None,
        allow_legacy_rsa: bool = False,
    ) -> None:
        if not ed25519_keys:
            raise SignatureConfigError("at least one Ed25519 webhook key is required")
        if allow_legacy_rsa and rsa_key is None:
            raise SignatureConfigError("ALLOW_LEGACY_RSA_SIGNATURE=true needs WEBHOOK_RSA_PUBLIC_KEY")
        self._ed25519_keys = tuple(ed25519_keys)
        self._rsa_key = rsa_key if allow_legacy_rsa else None

    @property
    def legacy_rsa_enabled(self) -> bool:
        return self._rsa_key is not None

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedSignature:
        """Return which scheme/key verified `body`, or raise `SignatureError`."""
        ed_value = _header(headers, ED25519_HEADER)
        if ed_value is not None:
            signature = _decode_signature(ed_value)
            if len(signature) != ED25519_SIGNATURE_LEN:
                raise SignatureError("malformed_signature", "Ed25519 signature must be 64 bytes")
            for index, key in enumerate(self._ed25519_keys):
                try:
                    key.verify(signature, body)
                except InvalidSignature:
                    continue
                return VerifiedSignature("ed25519", index)
            # Deliberately no RSA fallback here: an attacker could strip or garble the Ed25519 header.
            raise SignatureError("invalid_signature", "X-GHL-Signature does not match the body")

        rsa_value = _header(headers, RSA_HEADER)
        if rsa_value is not None:
            if self._rsa_key is None:
                raise SignatureError(
                    "legacy_signature_disabled",
                    "only X-WH-Signature (retired RSA scheme) was sent; X-GHL-Signature is required",
                )
            signature = _decode_signature(rsa_value)
            try:
                self._rsa_key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature as exc:
                raise SignatureError("invalid_signature", "X-WH-Signature does not match the body") from exc
            return VerifiedSignature("rsa", 0)

        raise SignatureError("missing_signature", "X-GHL-Signature header is missing")
