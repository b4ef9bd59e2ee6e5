"""POST /contacts/search: a search index that may lag the live contacts, filters, sort, cursors."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from ..util import (
    email_key,
    parse_time_ms,
    phone_key,
)
from .records import (
    SEARCH_DATE_FIELDS,
    ApiError,
    LocationState,
    Record,
    unprocessable,
)
from .views import ViewStore

# Sort fields the sandbox treats as documented (search_order "documented"); `id` is not among them.
DOCUMENTED_SORT_FIELDS = frozenset(
    {"dateAdded", "dateUpdated", "firstNameLowerCase", "lastNameLowerCase", "fullNameLowerCase", "email"}
)
# The hidden sort key of search_order "ignored": stable per contact, unrelated to any field.
ARBITRARY_ORDER = "_arbitrary"


class SearchStore(ViewStore):
    def _search_lag(self, loc: LocationState) -> tuple[float, float]:
        variants = self.variants_for(loc.id)
        lag = variants.search_lag_s if variants.search_lag_s is not None else self.config.search_index_lag_s
        return float(lag), float(variants.search_lag_jitter_s)

    def _search_write(self, loc: LocationState, cid: str, record: Record | None) -> None:
        lag, jitter = self._search_lag(loc)
        if lag <= 0 and jitter <= 0 and not loc.search_pending:
            self._search_apply(loc, cid, record)
            return
        due = time.monotonic() + max(lag, 0.0) + (self.rng.uniform(0, jitter) if jitter > 0 else 0.0)
        if loc.search_pending:  # writes become visible in write order
            due = max(due, loc.search_pending[-1][0])
        loc.search_pending.append((due, cid, record))

    def _search_apply(self, loc: LocationState, cid: str, record: Record | None) -> None:
        if record is None:
            loc.search_view.pop(cid, None)
        else:
            loc.search_view[cid] = record
        loc.search_version += 1

    def _search_catch_up(self, loc: LocationState) -> None:
        now = time.monotonic()
        lag, jitter = self._search_lag(loc)
        while loc.search_pending and ((lag <= 0 and jitter <= 0) or loc.search_pending[0][0] <= now):
            _, cid, record = loc.search_pending.popleft()
            self._search_apply(loc, cid, record)

    def search_contacts(self, body: dict[str, Any]) -> dict[str, Any]:
        location_id = body.get("locationId")
        if not isinstance(location_id, str) or not location_id:
            raise unprocessable(["locationId should not be empty"])
        page_limit = body.get("pageLimit", 20)
        if isinstance(page_limit, bool) or not isinstance(page_limit, int) or not 1 <= page_limit <= 500:
            raise unprocessable(["pageLimit must be an integer between 1 and 500"])
        page = body.get("page", 1)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise unprocessable(["page must be a positive integer"])
        query = body.get("query")
        if query is not None and (not isinstance(query, str) or len(query) > 75):
            raise unprocessable(["query must be a string of at most 75 characters"])
        requested_sort = _parse_sort(body.get("sort"))
        filters = body.get("filters") or []
        if not isinstance(filters, list):
            raise unprocessable(["filters must be an array"])
        search_after = body.get("searchAfter")
        window = int(self.config.max_search_window)
        if search_after is None and page * page_limit > window:
            raise ApiError(
                400,
                f"Search window exceeded: page * pageLimit must not be greater than {window}. "
                "Use searchAfter to paginate beyond this limit.",
            )
        with self.lock:
            loc = self.get_location(location_id)
            variants = self.variants_for(loc.id)
            sort_spec = _effective_sort(requested_sort, variants.search_order)
            if search_after is not None and (
                not isinstance(search_after, list) or len(search_after) != len(sort_spec) + 1
            ):
                raise ApiError(400, f"searchAfter must be an array of {len(sort_spec) + 1} sort values")
            predicate = _compile_filters(filters, tags_case_sensitive=variants.tags_match == "sensitive")
            self._search_catch_up(loc)
            cache_key = json.dumps(
                [filters, sort_spec, query, variants.tags_match], sort_keys=True, default=str
            )
            cached = loc.search_cache.get(cache_key)
            if cached is not None and cached[0] == loc.search_version:
                rows = cached[1]
            else:
                rows = [
                    (_sort_key(c, sort_spec), cid)
                    for cid, c in loc.search_view.items()
                    if predicate(c) and matches_query(c, query)
                ]
                for idx in range(len(sort_spec), -1, -1):
                    descending = idx < len(sort_spec) and sort_spec[idx][1] == "desc"
                    if idx == len(sort_spec):
                        rows.sort(key=lambda r: r[1])
                    else:
                        rows.sort(key=functools.partial(_component, idx), reverse=descending)
                if len(loc.search_cache) >= 4:
                    loc.search_cache.pop(next(iter(loc.search_cache)))
                loc.search_cache[cache_key] = (loc.search_version, rows)
            if search_after is not None:
                cursor = _cursor_key(search_after, sort_spec)
                start = _first_after(rows, cursor, sort_spec)
            else:
                start = (page - 1) * page_limit
            selected = rows[start : start + page_limit]
            shown = list(selected)
            if variants.search_order == "shuffled":
                self.rng.shuffle(shown)
            contacts = []
            for key, cid in shown:
                view = self.contact_view(loc.search_view[cid])
                if variants.search_cursor == "per_contact":
                    view["searchAfter"] = [*key, cid]
                contacts.append(view)
            result: dict[str, Any] = {"contacts": contacts, "total": len(rows)}
            if variants.search_cursor == "top_level" and selected:
                result["searchAfter"] = [*selected[-1][0], selected[-1][1]]
            return result


def _effective_sort(requested: list[tuple[str, str]], order: str) -> list[tuple[str, str]]:
    """The sort the sandbox applies under search_order `order` (see variants.py)."""
    if order == "ignored":
        return [(ARBITRARY_ORDER, "asc")]
    if order == "documented":
        honoured = [(name, direction) for name, direction in requested if name in DOCUMENTED_SORT_FIELDS]
        return honoured or [("dateAdded", "desc")]
    return requested


def matches_query(c: Record, query: str | None) -> bool:
    if not query:
        return True
    needle = query.lower()
    haystack = " ".join(
        str(c.get(k) or "") for k in ("firstName", "lastName", "name", "email", "phone", "companyName")
    ).lower()
    return needle in haystack or needle in (c.get("phone") or "").replace("+", "")


def _parse_sort(raw: Any) -> list[tuple[str, str]]:
    if raw is None or raw == []:
        return [("dateAdded", "desc")]
    if not isinstance(raw, list):
        raise unprocessable(["sort must be an array of {field, direction}"])
    spec = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("field"), str) or not item["field"]:
            raise unprocessable(["sort items must be {field, direction}"])
        direction = str(item.get("direction", "asc")).lower()
        if direction not in ("asc", "desc"):
            raise unprocessable([f"sort direction must be asc or desc, got {item.get('direction')!r}"])
        spec.append((item["field"], direction))
    return spec


def _field_value(c: Record, name: str) -> Any:
    if name == ARBITRARY_ORDER:
        return hashlib.blake2b(c["id"].encode(), digest_size=8).hexdigest()
    if name in SEARCH_DATE_FIELDS:
        return c[f"{name}_ms"]
    if name.endswith("LowerCase"):
        name = name[: -len("LowerCase")]
        if name == "fullName":
            return " ".join(p for p in (c.get("firstName"), c.get("lastName")) if p).lower()
    return c.get(name)


def _sort_value(c: Record, name: str) -> Any:
    value = _field_value(c, name)
    if name in SEARCH_DATE_FIELDS:
        return value
    if isinstance(value, list):
        value = ",".join(value)
    return str(value or "").lower()


def _sort_key(c: Record, spec: list[tuple[str, str]]) -> tuple[Any, ...]:
    return tuple(_sort_value(c, name) for name, _ in spec)


def _component(idx: int, row: tuple[tuple[Any, ...], str]) -> Any:
    return row[0][idx]


def _cursor_key(search_after: list[Any], spec: list[tuple[str, str]]) -> tuple[tuple[Any, ...], str]:
    values: list[Any] = []
    for (name, _), raw in zip(spec, search_after, strict=False):
        if name in SEARCH_DATE_FIELDS:
            try:
                values.append(parse_time_ms(raw))
            except ValueError:
                raise ApiError(400, f"searchAfter value for {name} must be epoch milliseconds") from None
        else:
            values.append(str(raw or "").lower())
    return tuple(values), str(search_after[-1])


def _compare(
    row: tuple[tuple[Any, ...], str], cursor: tuple[tuple[Any, ...], str], spec: list[tuple[str, str]]
) -> int:
    for idx, (_, direction) in enumerate(spec):
        a, b = row[0][idx], cursor[0][idx]
        if a != b:
            result = -1 if a < b else 1
            return -result if direction == "desc" else result
    if row[1] == cursor[1]:
        return 0
    return -1 if row[1] < cursor[1] else 1


def _first_after(
    rows: list[tuple[tuple[Any, ...], str]], cursor: tuple[tuple[Any, ...], str], spec: list[tuple[str, str]]
) -> int:
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if _compare(rows[mid], cursor, spec) <= 0:
            lo = mid + 1
        else:
            hi = mid
    return lo


_OPERATORS = frozenset({"eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range"})


def _compile_filters(filters: list[Any], *, tags_case_sensitive: bool) -> Callable[[Record], bool]:
    predicates = [_compile_filter(f, tags_case_sensitive) for f in filters]
    return lambda c: all(p(c) for p in predicates)


def _compile_filter(item: Any, tags_case_sensitive: bool) -> Callable[[Record], bool]:
    if not isinstance(item, dict):
        raise unprocessable(["filters items must be objects"])
    if "group" in item:
        group = str(item["group"]).upper()
        subs = item.get("filters")
        if group not in ("AND", "OR") or not isinstance(subs, list):
            raise unprocessable(["filter group must be AND or OR with a filters array"])
        compiled = [_compile_filter(s, tags_case_sensitive) for s in subs]
        if group == "AND":
            return lambda c: all(p(c) for p in compiled)
        return lambda c: any(p(c) for p in compiled)
    name, operator, value = item.get("field"), item.get("operator"), item.get("value")
    if not isinstance(name, str) or not name:
        raise unprocessable(["filter field must be a string"])
    if operator not in _OPERATORS:
        raise unprocessable([f"filter operator must be one of {', '.join(sorted(_OPERATORS))}"])
    if operator in ("exists", "not_exists"):
        wanted = operator == "exists"
        return lambda c: bool(_field_value(c, name)) == wanted
    if operator == "range":
        return _compile_range(name, value)
    normalize = _normalizer(name, tags_case_sensitive)
    target = normalize(value)

    def matches(c: Record) -> bool:
        current = _field_value(c, name)
        if isinstance(current, list):
            items = [normalize(v) for v in current]
            eq = operator in ("eq", "not_eq")
            hit = target in items if eq else any(target in str(v) for v in items)
        else:
            norm = normalize(current)
            hit = (
                norm == target
                if operator in ("eq", "not_eq")
                else (target is not None and target in str(norm or ""))
            )
        return hit if operator in ("eq", "contains") else not hit

    return matches


def _normalizer(name: str, tags_case_sensitive: bool = False) -> Callable[[Any], Any]:
    if name == "tags" and tags_case_sensitive:
        return lambda v: str(v) if v is not None else None
    if name == "email":
        return lambda v: email_key(v) if isinstance(v, str) else v
    if name == "phone":
        return lambda v: phone_key(v) if isinstance(v, str) else v
    if name in SEARCH_DATE_FIELDS:
        return lambda v: parse_time_ms(v) if v is not None else None
    return lambda v: str(v).lower() if v is not None else None


def _compile_range(name: str, value: Any) -> Callable[[Record], bool]:
    if not isinstance(value, dict) or not set(value) & {"gte", "lte", "gt", "lt"}:
        raise unprocessable([f"range filter on {name} needs a value with gte/lte/gt/lt"])
    bounds: dict[str, Any] = {}
    for key in ("gte", "lte", "gt", "lt"):
        if key in value:
            try:
                bounds[key] = parse_time_ms(value[key]) if name in SEARCH_DATE_FIELDS else value[key]
            except ValueError:
                raise unprocessable([f"range bound {key} of {name} must be a date"]) from None

    def matches(c: Record) -> bool:
        current = _field_value(c, name)
        if current is None:
            return False
        try:
            return (
                ("gte" not in bounds or current >= bounds["gte"])
                and ("lte" not in bounds or current <= bounds["lte"])
                and ("gt" not in bounds or current > bounds["gt"])
                and ("lt" not in bounds or current < bounds["lt"])
            )
        except TypeError:
            return False

    return matches
