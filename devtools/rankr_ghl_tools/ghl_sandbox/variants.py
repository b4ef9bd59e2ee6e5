"""Switches for GHL behaviours the docs leave open: each names every plausible variant.

Switches are set globally or per resource (a location id; a company id for agency-token behaviour) at
runtime through /_admin/variants. A resource's effective variants are the defaults, overlaid by the
global settings, overlaid by the resource's own. The defaults are the sandbox's original behaviour.
See docs/ghl-variants.md for the facts behind each switch.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Switch:
    name: str  # dotted for grouped switches: "task_search.max_limit"
    default: Any
    plausible: tuple[Any, ...]  # what pick_variants draws from (the closed set when `valid` is None)
    valid: Callable[[Any], bool] | None = None  # for open-valued switches (numbers, times)
    meaning: str = ""


def _optional_positive_int(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def _optional_seconds(value: Any) -> bool:
    return value is None or _seconds(value)


def _seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 600


def _utc_time(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?", value) is not None


SWITCHES: tuple[Switch, ...] = (
    Switch(
        "search_order",
        "id",
        ("id", "documented", "ignored", "shuffled"),
        meaning="id: every sort field honoured, ties by id; documented: only documented sort fields "
        "honoured; ignored: sort ignored, a stable arbitrary order; shuffled: each page in random order",
    ),
    Switch("search_lag_s", None, (0.0, 1.0, 2.0), _optional_seconds, "index lag; None = config value"),
    Switch("search_lag_jitter_s", 0.0, (0.0, 0.5, 1.0), _seconds, "extra random lag per write"),
    Switch("search_cursor", "per_contact", ("per_contact", "top_level", "none")),
    Switch("task_search.max_limit", None, (None, 100, 20), _optional_positive_int, "silent cap on limit"),
    Switch("task_search.order", "stable", ("stable", "unstable")),
    Switch("task_search.contact_key", "contactId", ("contactId", "contactIds", "contact", None)),
    Switch("task_search.body_key", "body", ("body", "description", None)),
    Switch("task_event_contact_id", "present", ("present", "omitted")),
    Switch("tags.store", "lower", ("lower", "preserve")),
    Switch("tags.match", "insensitive", ("insensitive", "sensitive")),
    Switch("scope_denied", 401, (401, 403)),
    Switch("duplicate_lookup_match", "normalised", ("normalised", "exact")),
    Switch("daily_reset_utc", "00:00", ("00:00", "06:00", "08:00"), _utc_time, "HH:MM[:SS] UTC"),
    Switch("duplicate_error", "meta", ("meta", "no_meta", "409", "422")),
    Switch("custom_field_null", "clears", ("clears", "ignored", "422")),
    Switch("installed_locations.max_limit", None, (None, 20, 10), _optional_positive_int),
    Switch("installed_locations.count", "total", ("total", "page")),
    Switch("notes_bump_contact_date_updated", "no", ("no", "yes")),
    Switch("wire_format", "compact", ("compact", "pretty", "ascii_escaped")),
)
_BY_NAME = {switch.name: switch for switch in SWITCHES}
_GROUPS = {name.split(".", 1)[0] for name in _BY_NAME if "." in name}


@dataclass(frozen=True)
class Variants:
    """The effective switches for one resource (attribute names: dotted names with "_")."""

    search_order: str
    search_lag_s: float | None
    search_lag_jitter_s: float
    search_cursor: str
    task_search_max_limit: int | None
    task_search_order: str
    task_search_contact_key: str | None
    task_search_body_key: str | None
    task_event_contact_id: str
    tags_store: str
    tags_match: str
    scope_denied: int
    duplicate_lookup_match: str
    daily_reset_utc: str
    duplicate_error: str
    custom_field_null: str
    installed_locations_max_limit: int | None
    installed_locations_count: str
    notes_bump_contact_date_updated: str
    wire_format: str

    @property
    def daily_reset_offset_s(self) -> int:
        """Seconds after midnight UTC at which the daily budget starts again."""
        parts = [int(p) for p in self.daily_reset_utc.split(":")]
        return parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)


DEFAULTS = Variants(**{name.replace(".", "_"): switch.default for name, switch in _BY_NAME.items()})


def flatten(switches: dict[str, Any]) -> dict[str, Any]:
    """Nested API form ({"tags": {"store": ...}}) or dotted names -> validated dotted names."""
    flat: dict[str, Any] = {}
    for key, value in switches.items():
        if key in _GROUPS:
            if not isinstance(value, dict):
                raise ValueError(f"{key} must be an object of {sorted(_group_members(key))}")
            for member, member_value in value.items():
                flat[f"{key}.{member}"] = member_value
        else:
            flat[key] = value
    for name, raw in flat.items():
        switch = _BY_NAME.get(name)
        if switch is None:
            raise ValueError(f"unknown switch {name!r}; known: {', '.join(sorted(_BY_NAME))}")
        numeric_text = isinstance(raw, str) and raw.isdigit() and isinstance(switch.default, int)
        value = int(raw) if numeric_text else raw
        flat[name] = value
        ok = switch.valid(value) if switch.valid is not None else value in switch.plausible
        if not ok:
            allowed = "" if switch.valid is not None else f"; one of {list(switch.plausible)}"
            raise ValueError(f"invalid value {value!r} for {name}{allowed}")
    return flat


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for name in _BY_NAME:
        if name not in flat:
            continue
        group, _, member = name.partition(".")
        if member:
            nested.setdefault(group, {})[member] = flat[name]
        else:
            nested[name] = flat[name]
    return nested


def _group_members(group: str) -> set[str]:
    return {name.split(".", 1)[1] for name in _BY_NAME if name.startswith(group + ".")}


def pick_variants(seed: int) -> dict[str, Any]:
    """A reproducible random pick of one plausible variant per switch, in the API's nested form."""
    rng = random.Random(seed)
    return nest({switch.name: rng.choice(switch.plausible) for switch in SWITCHES})


class VariantRegistry:
    """Thread-safe global and per-resource switch settings."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._initial = flatten(dict(initial or {}))
        self._global: dict[str, Any] = dict(self._initial)
        self._resources: dict[str, dict[str, Any]] = {}
        self._cache: dict[str | None, Variants] = {}  # cleared on any change

    def set(self, resource_id: str | None, switches: dict[str, Any]) -> None:
        flat = flatten(switches)  # validates everything before anything changes
        with self._lock:
            target = self._global if not resource_id else self._resources.setdefault(resource_id, {})
            target.update(flat)
            self._cache.clear()

    def reset(self, resource_id: str | None = None) -> None:
        """Reset one resource's overrides, or (no id) every override and the global settings."""
        with self._lock:
            if resource_id:
                self._resources.pop(resource_id, None)
            else:
                self._global = dict(self._initial)
                self._resources.clear()
            self._cache.clear()

    def effective_flat(self, resource_id: str | None) -> dict[str, Any]:
        with self._lock:
            return self._flat_locked(resource_id)

    def _flat_locked(self, resource_id: str | None) -> dict[str, Any]:
        flat = {switch.name: switch.default for switch in SWITCHES}
        flat.update(self._global)
        if resource_id:
            flat.update(self._resources.get(resource_id, {}))
        return flat

    def effective(self, resource_id: str | None) -> Variants:
        """Read on every request, so cached per resource until the next change."""
        with self._lock:
            cached = self._cache.get(resource_id)
            if cached is None:
                flat = self._flat_locked(resource_id)
                cached = Variants(**{name.replace(".", "_"): value for name, value in flat.items()})
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[resource_id] = cached
            return cached

    def view(self, resource_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = {
                "global": nest(self._global),
                "locations": {rid: nest(flat) for rid, flat in self._resources.items()},
            }
        data["effective"] = nest(self.effective_flat(resource_id))
        data["locationId"] = resource_id
        return data
