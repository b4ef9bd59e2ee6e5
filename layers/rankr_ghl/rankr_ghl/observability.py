"""Powertools Logger, Tracer and Metrics shared by every handler, plus PII redaction helpers.

One instance of each per container. Tracer never captures responses (tokens live there).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "rankr-ghl"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="RankrGhl", service=SERVICE)

# Keys whose values must never reach logs or traces.
SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "accesstoken",
        "refresh_token",
        "refreshtoken",
        "client_secret",
        "clientsecret",
        "authorization",
        "token",
        "code",
        "email",
        "phone",
        "password",
        "api_key",
        "apikey",
        "rankr_api_key",
        "state_signing_key",
        "x-ghl-signature",
        "x-wh-signature",
    }
)

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE_RE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_BEARER_RE = re.compile(r"(?i)bearer\s+[\w.~+/=-]+")

REDACTED = "***"


def redact_text(text: str) -> str:
    """Mask e-mails, phone numbers and bearer tokens inside free text (error messages)."""
    text = _BEARER_RE.sub("Bearer " + REDACTED, text)
    text = _EMAIL_RE.sub(REDACTED, text)
    return _PHONE_RE.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with sensitive keys masked and free text scrubbed."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if str(k).lower() in SENSITIVE_KEYS else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def fingerprint(secret: str) -> str:
    """Short non-reversible tag for correlating a secret in logs without revealing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:10]
