"""GHL's searches as `FakeGhlRecords` answers them: the contact search's filters (`dateUpdated` ranges,
tags), its sort (case-insensitive, then by id), its paging (`page` or `searchAfter`) under the
unverified variants of docs/ghl-variants.md (`order`: id | ignored | shuffled; `cursor`: per_contact |
none), and the task search's loose item shape."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import Any

from rankr_ghl.ports import GhlSearchPage, Record

from fakes.clock import parse_iso


def contact_search_page(
    rows: list[Record],
    *,
    sort_field: str,
    filters: Sequence[Mapping[str, Any]],
    page_limit: int,
    page: int | None,
    search_after: Sequence[Any] | None,
    order: str,
    cursor: str,
    rng: random.Random,
) -> GhlSearchPage:
    for f in filters:
        if f["field"] == "dateUpdated" and f["operator"] == "range":
            low = parse_iso(f["value"]["gte"])
            rows = [r for r in rows if parse_iso(r["dateUpdated"]) >= low]
        elif f["field"] == "tags" and f["operator"] == "eq":
            rows = [r for r in rows if f["value"] in r.get("tags", [])]

    def key(r: Record) -> tuple[Any, str]:
        if order == "ignored":  # a stable order unrelated to any field
            return (hashlib.blake2b(r["id"].encode(), digest_size=8).hexdigest(), r["id"])
        if sort_field in ("dateAdded", "dateUpdated"):
            return (int(parse_iso(r[sort_field]).timestamp() * 1000), r["id"])
        return (str(r.get(sort_field) or "").lower(), r["id"])

    rows = sorted(rows, key=key)
    if search_after is not None:
        raw = search_after[0]
        numeric = isinstance(raw, int) and order != "ignored"
        after = (raw if numeric else str(raw).lower(), str(search_after[1]))
        selected = [r for r in rows if key(r) > after][:page_limit]
    else:
        start = ((page or 1) - 1) * page_limit
        selected = rows[start : start + page_limit]
    if order == "shuffled":
        rng.shuffle(selected)
    if cursor == "none":
        return GhlSearchPage(selected, None)
    out = [dict(r, searchAfter=list(key(r))) for r in selected]
    return GhlSearchPage(out, out[-1]["searchAfter"] if out else None)


def task_search_page(
    tasks: list[Record], *, limit: int, skip: int, body_key: str | None, contact_key: str | None
) -> list[Record]:
    """Tasks oldest first; the search's loose shape puts the body and the contact under other keys
    (or leaves them out)."""
    rows = sorted(tasks, key=lambda t: (str(t.get("dateAdded") or ""), t["id"]))
    page = [dict(t) for t in rows[skip : skip + limit]]
    for task in page:
        for wire_key, search_key in (("body", body_key), ("contactId", contact_key)):
            if search_key != wire_key:
                value = task.pop(wire_key, None)
                if search_key is not None:
                    task[search_key] = value
    return page
