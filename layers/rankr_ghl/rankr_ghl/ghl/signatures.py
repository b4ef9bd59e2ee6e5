"""Verification of GHL webhook signatures over the exact raw request body.

- `X-GHL-Signature`: Ed25519, base64. Current scheme. Keys come from `WEBHOOK_PUBLIC_KEYS` (PEM or
  base64 SPKI, comma separated); empty means GHL's published key. The entry `ghl` stands for that
  built-in key, so a rotation can run with "NEWKEY,ghl" and needs no code change.
- `X-WH-Signature`: the RSA-SHA256 scheme GHL retired on 2026-09-01. Never accepted: no genuine
  delivery carries it alone any more, and accepting it would open a downgrade path. A request with
  only that header is refused with its own reason so a misconfigured sender is easy to spot.
- A header value of "N/A" (sent by GHL during the transition) means absent.
- The raw bytes are checked first. GHL's own examples verify `JSON.stringify(req.body)`, so if the bytes
  on the wire are not the bytes GHL signed (pretty-printed, or escaped differently on the way), the
  documented canonical form of the parsed body (compact JSON, non-ASCII unescaped) is checked second.
  Still strict: a body is accepted only if one of its two forms carries a valid signature, and both
  forms parse to the same document. `VerifiedSignature.form` says which matched, so production
  traffic shows which one GHL really signs.

Keys are parsed once per container: the composition root builds one verifier from `Settings`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# GHL's published Ed25519 webhook key (SPKI, base64). Public by design.
GHL_ED25519_SPKI_B64: Final = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg="
BUILTIN_KEY_ALIAS: Final = "ghl"

ED25519_HEADER: Final = "x-ghl-signature"
RSA_HEADER: Final = "x-wh-signature"
ABSENT_MARKER: Final = "N/A"

ED25519_SIGNATURE_LEN: Final = 64
# Generous cap on a base64 header value (an Ed25519 signature is 88 chars).
MAX_SIGNATURE_HEADER_LEN: Final = 1024

Scheme = Literal["ed25519"]
Form = Literal["raw", "compact_json"]


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
    form: Form = "raw"


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


def _reject_constant(token: str) -> object:
    raise ValueError(f"non-standard JSON constant {token}")


def compact_json(body: bytes) -> bytes | None:
    """`JSON.stringify(JSON.parse(body))` for the bodies GHL sends, when that differs from `body`; None
    when the body is not JSON (or is already in that form)."""
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    canonical = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return None if canonical == body else canonical


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

    def __init__(self, ed25519_keys: Sequence[Ed25519PublicKey]) -> None:
        if not ed25519_keys:
            raise SignatureConfigError("at least one Ed25519 webhook key is required")
        self._ed25519_keys = tuple(ed25519_keys)

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
            canonical = compact_json(body)
            if canonical is not None:
                for index, key in enumerate(self._ed25519_keys):
                    try:
                        key.verify(signature, canonical)
                    except InvalidSignature:
                        continue
                    return VerifiedSignature("ed25519", index, "compact_json")
            # Deliberately no fallback to another header: an attacker could strip or garble this one.
            raise SignatureError("invalid_signature", "X-GHL-Signature does not match the body")

        if _header(headers, RSA_HEADER) is not None:
            raise SignatureError(
                "legacy_signature_disabled",
                "only X-WH-Signature (the RSA scheme GHL retired) was sent; X-GHL-Signature is required",
            )

        raise SignatureError("missing_signature", "X-GHL-Signature header is missing")
