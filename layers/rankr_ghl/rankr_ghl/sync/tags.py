"""Tags: compared case-insensitively, written in one canonical case.

GHL documents no case rule for tags: it may store them as sent or lower-cased, and match them (in
de-duplication, DELETE and search filters) exactly or case-insensitively. Writing every tag trimmed and
lower-cased, and comparing without case, gives the same answer under each of those behaviours.
"""

from __future__ import annotations

from collections.abc import Iterable


def canonical_tag(tag: str) -> str:
    """The form a tag is written to GHL in (and searched by)."""
    return tag.strip().lower()


def same_tag(left: str, right: str) -> bool:
    return canonical_tag(left) == canonical_tag(right)


def canonical_tags(tags: Iterable[str]) -> list[str]:
    """Canonical, in first-seen order, one per case-insensitive value; blanks dropped."""
    seen: dict[str, None] = {}
    for tag in tags:
        canonical = canonical_tag(tag)
        if canonical:
            seen.setdefault(canonical, None)
    return list(seen)


def missing_tags(wanted: Iterable[str], present: Iterable[str]) -> list[str]:
    """The canonical tags of `wanted` that `present` lacks, whatever case `present` holds them in."""
    have = {canonical_tag(tag) for tag in present}
    return [tag for tag in canonical_tags(wanted) if tag not in have]
