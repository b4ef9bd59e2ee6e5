"""Idempotency-Keys of Rankr creates (no HTTP client: the flows import them at module load)."""

from __future__ import annotations

import hashlib


def idempotency_key(*parts: str | int) -> str:
    """Deterministic Idempotency-Key from stable parts, e.g. `("ghl-contact", location_id, ghl_id, version)`.

    The same parts always give the same key, so a retried create (even from another Lambda invocation)
    is recognised by Rankr. Hashed, so no PII from the parts ends up in Rankr's key store or in logs.
    """
    if not parts:
        raise ValueError("idempotency_key needs at least one part")
    raw = "\x1f".join(str(p) for p in parts)
    return "rgc-" + hashlib.sha256(raw.encode()).hexdigest()[:48]


def ghl_mirror_key(entity: str, location_id: str, ghl_id: str) -> str:
    """The Idempotency-Key of the Rankr record that mirrors one GHL record. The webhook worker and
    reconcile both use it, so a record one of them created and then crashed before mapping is
    replayed (or, with another body, adopted from Rankr's 409) by the other, never twinned."""
    return idempotency_key("ghl-mirror", entity, location_id, ghl_id)
