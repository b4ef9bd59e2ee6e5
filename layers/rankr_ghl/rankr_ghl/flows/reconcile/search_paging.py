"""Paging GHL's contact search without trusting an undocumented order or cursor shape.

GHL documents neither which sort fields it honours nor where the `searchAfter` cursor sits in the
response (per contact, beside `contacts`, or absent). So the passes page with `page` while inside the
search window (correct under any stable order), and beyond it with a cursor derived from the page:
the largest per-contact cursor when GHL sent them, otherwise built from the sort values this client
sent (the record's values of the sort fields, then its id). Pages may still miss records (index lag,
an order that changes between pages); the passes never treat "not returned" as "deleted".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankr_ghl.flows.reconcile.record_values import parse_iso
from rankr_ghl.ports import Record

DATE_FIELDS = frozenset({"dateAdded", "dateUpdated"})


def _comparable(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool) or value is None:
        return (0, "")
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value).lower())


def _cursor_order(cursor: list[Any]) -> tuple[Any, ...]:
    *values, record_id = cursor
    return (*(_comparable(value) for value in values), str(record_id))


def _sent_sort_values(record: Mapping[str, Any], sort: Sequence[Mapping[str, Any]]) -> list[Any]:
    values: list[Any] = []
    for spec in sort:
        name = str(spec.get("field"))
        raw = record.get(name)
        if name in DATE_FIELDS:
            moment = parse_iso(raw)
            values.append(int(moment.timestamp() * 1000) if moment else 0)
        else:
            values.append(str(raw or "").lower())
    return [*values, str(record.get("id"))]


def next_cursor(records: Sequence[Record], sort: Sequence[Mapping[str, Any]]) -> list[Any] | None:
    """The `searchAfter` that continues after `records` (None for an empty page)."""
    if not records:
        return None
    given: list[list[Any]] = [
        cursor for cursor in (record.get("searchAfter") for record in records) if isinstance(cursor, list)
    ]
    if len(given) == len(records) and all(len(cursor) == len(sort) + 1 for cursor in given):
        return _largest(given)
    return _largest([_sent_sort_values(record, sort) for record in records])


def _largest(cursors: list[list[Any]]) -> list[Any]:
    orders = [_cursor_order(cursor) for cursor in cursors]
    return list(cursors[orders.index(max(orders))])


def cursor_advances(previous: list[Any], cursor: list[Any]) -> bool:
    """True when `cursor` lies strictly after `previous` in the order the cursors describe."""
    return len(previous) == len(cursor) and _cursor_order(cursor) > _cursor_order(previous)
