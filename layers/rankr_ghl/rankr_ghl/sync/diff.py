"""Field-level comparison of canonical records, and the digests the write ledger stores.

Digests (not values) are what the ledger keeps, so PII never sits in the sync table in clear text
and a comparison is cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any


def _stable(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def value_digest(value: Any) -> str:
    """Digest of one canonical value (None and missing are the same)."""
    return hashlib.sha256(_stable(value).encode()).hexdigest()[:32]


def field_digests(canonical: Mapping[str, Any], fields: Iterable[str] | None = None) -> dict[str, str]:
    names = canonical.keys() if fields is None else fields
    return {name: value_digest(canonical.get(name)) for name in names}


def record_digest(digests: Mapping[str, str]) -> str:
    """Digest of a whole projection, from its per-field digests."""
    return hashlib.sha256(_stable(sorted(digests.items())).encode()).hexdigest()[:32]


def changed_fields(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, fields: Iterable[str] | None = None
) -> list[str]:
    """Names (never values) of the fields whose canonical values differ, in a stable order."""
    before = before or {}
    after = after or {}
    names = list(fields) if fields is not None else sorted(set(before) | set(after))
    return [n for n in names if value_digest(before.get(n)) != value_digest(after.get(n))]


def equal(a: Any, b: Any) -> bool:
    return value_digest(a) == value_digest(b)
