"""Contacts: validation, duplicate rules, create/update/upsert/delete, tags, listings."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Any

from ..util import (
    email_key,
    iso_ms,
    new_id,
    normalize_phone,
    now_ms,
    parse_time_ms,
    phone_key,
)
from ..variants import Variants
from .records import (
    CREATE_FIELDS,
    DND_CHANNELS,
    STRING_FIELDS,
    UPDATE_FIELDS_STRICT,
    UPSERT_FIELDS,
    ApiError,
    LocationState,
    Record,
    index_add,
    index_remove,
    int_param,
    unprocessable,
)
from .search import SearchStore, matches_query


class ContactStore(SearchStore):
    # ------------------------------------------------------------------ contacts: validation

    def _validate_contact_body(self, body: dict[str, Any], allowed: frozenset[str]) -> list[str]:
        errors = [f"property {key} should not exist" for key in body if key not in allowed]
        for key in STRING_FIELDS:
            if key in body and body[key] is not None and not isinstance(body[key], str):
                errors.append(f"{key} must be a string")
        if isinstance(body.get("email"), str) and body["email"] and "@" not in body["email"]:
            errors.append("email must be an email")
        if "dnd" in body and not isinstance(body["dnd"], bool):
            errors.append("dnd must be a boolean value")
        if "tags" in body and (
            not isinstance(body["tags"], list) or not all(isinstance(t, str) for t in body["tags"])
        ):
            errors.append("each value in tags must be a string")
        if "customFields" in body:
            items = body["customFields"]
            if not isinstance(items, list) or not all(
                isinstance(i, dict) and (isinstance(i.get("id"), str) or isinstance(i.get("key"), str))
                for i in items
            ):
                errors.append("customFields must be an array of {id|key, field_value}")
        for key in ("dndSettings", "inboundDndSettings"):
            if key in body and body[key] is not None and not isinstance(body[key], dict):
                errors.append(f"{key} must be an object")
        if isinstance(body.get("dndSettings"), dict):
            for channel, setting in body["dndSettings"].items():
                if channel not in DND_CHANNELS:
                    errors.append(f"dndSettings.property {channel} should not exist")
                elif not isinstance(setting, dict) or setting.get("status") not in (
                    "active",
                    "inactive",
                    "permanent",
                ):
                    errors.append(f"dndSettings.{channel}.status must be one of active, inactive, permanent")
        if body.get("dateOfBirth") is not None:
            try:
                parse_time_ms(body["dateOfBirth"])
            except ValueError:
                errors.append("dateOfBirth must be a valid date")
        return errors

    def _apply_fields(self, loc: LocationState, c: Record, body: dict[str, Any]) -> set[str]:
        """Write `body` into the (copied) record `c`; returns the names of fields that changed."""
        changed: set[str] = set()

        def put(key: str, value: Any) -> None:
            if c.get(key) != value:
                changed.add(key)
                if value is None:
                    c.pop(key, None)
                else:
                    c[key] = value

        for key in (*STRING_FIELDS, "businessId"):
            if key in body:
                value = body[key]
                if key == "phone" and value:
                    value = normalize_phone(value) or None
                if isinstance(value, str) and value == "" and key in ("email", "phone"):
                    value = None
                put(key, value)
        if "name" in body and body.get("name") and "firstName" not in body and "lastName" not in body:
            first, _, last = body["name"].strip().partition(" ")
            put("firstName", first or None)
            put("lastName", last or None)
        if "dnd" in body:
            put("dnd", bool(body["dnd"]))
        for key in ("dndSettings", "inboundDndSettings"):
            if key in body:
                merged = {**(c.get(key) or {}), **(body[key] or {})} if body[key] else None
                put(key, merged)
        variants = self.variants_for(loc.id)
        if "tags" in body:
            put("tags", merge_tags([], body["tags"], variants))
        if "customFields" in body:
            fields = dict(c.get("customFields", {}))
            nulls = [
                item for item in body["customFields"] if item.get("field_value", item.get("value")) is None
            ]
            if nulls and variants.custom_field_null == "422":
                raise unprocessable(["customFields.field_value should not be null"])
            for item in body["customFields"]:
                field_id = item.get("id")
                if not field_id:
                    key = item["key"].removeprefix("contact.")
                    field_id = loc.custom_field_ids.setdefault(key, new_id())
                value = item.get("field_value", item.get("value"))
                if value is None and variants.custom_field_null == "ignored":
                    continue
                if value is None or value == "":
                    fields.pop(field_id, None)
                else:
                    fields[field_id] = value
            put("customFields", fields)
        if "dateOfBirth" in body:
            if body["dateOfBirth"] is None:
                put("dateOfBirth", None)
                c.pop("dateOfBirth_ms", None)
            else:
                dob_ms = parse_time_ms(body["dateOfBirth"])
                c["dateOfBirth_ms"] = dob_ms
                put("dateOfBirth", iso_ms(dob_ms))
        return changed

    def _find_match(
        self,
        loc: LocationState,
        email: str | None,
        phone: str | None,
        exclude: str | None = None,
        priority: Iterable[str] | None = None,
    ) -> tuple[str, str] | None:
        keys = {"email": email_key(email), "phone": phone_key(phone)}
        indexes = {"email": loc.by_email, "phone": loc.by_phone}
        for field_name in priority or loc.duplicate_priority:
            key = keys.get(field_name)
            if not key:
                continue
            for cid in indexes[field_name].get(key, {}):
                if cid != exclude:
                    return cid, field_name
        return None

    def _duplicate_error(self, loc: LocationState, match: tuple[str, str]) -> ApiError:
        message = "This location does not allow duplicated contacts."
        shape = self.variants_for(loc.id).duplicate_error
        if shape == "409":
            return ApiError(409, message, error="Conflict")
        if shape == "422":
            return ApiError(422, [message], error="Unprocessable Entity")
        if shape == "no_meta":
            return ApiError(400, message)
        return ApiError(400, message, meta={"contactId": match[0], "matchingField": match[1]})

    def _store_contact(self, loc: LocationState, new: Record, old: Record | None) -> None:
        cid = new["id"]
        if old is not None:
            index_remove(loc.by_email, email_key(old.get("email")), cid)
            index_remove(loc.by_phone, phone_key(old.get("phone")), cid)
        loc.contacts[cid] = new
        self.contact_loc[cid] = loc.id
        index_add(loc.by_email, email_key(new.get("email")), cid)
        index_add(loc.by_phone, phone_key(new.get("phone")), cid)
        self._search_write(loc, cid, new)

    # ------------------------------------------------------------------ contacts: operations

    def _new_contact(self, loc: LocationState, body: dict[str, Any], when: int | None = None) -> Record:
        stamp = when if when is not None else now_ms()
        c: Record = {
            "id": new_id(),
            "locationId": loc.id,
            "type": "lead",
            "tags": [],
            "customFields": {},
            "dateAdded_ms": stamp,
            "dateUpdated_ms": stamp,
        }
        self._apply_fields(loc, c, body)
        return c

    def create_contact(self, body: dict[str, Any], *, emit: bool = True, check_fields: bool = True) -> Record:
        if check_fields:
            errors = self._validate_contact_body(body, CREATE_FIELDS)
            if errors:
                raise unprocessable(errors)
        with self.lock:
            loc = self.get_location(body.get("locationId") or "")
            if not loc.allow_duplicates:
                match = self._find_match(loc, body.get("email"), body.get("phone"))
                if match:
                    raise self._duplicate_error(loc, match)
            fields = {k: v for k, v in body.items() if k != "locationId"}
            c = self._new_contact(loc, fields)
            self._store_contact(loc, c, None)
            if emit:
                self.sink("ContactCreate", self.contact_event("ContactCreate", c))
            return c

    def update_contact(
        self,
        contact_id: str,
        body: dict[str, Any],
        *,
        emit: bool = True,
        allowed: frozenset[str] | None = None,
    ) -> Record:
        if allowed is None:
            allowed = (
                UPDATE_FIELDS_STRICT if self.config.strict_update_fields else CREATE_FIELDS - {"locationId"}
            )
        errors = self._validate_contact_body(body, allowed)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, old = self._contact(contact_id)
            if not loc.allow_duplicates:
                match = self._find_match(loc, body.get("email"), body.get("phone"), exclude=contact_id)
                if match:
                    raise self._duplicate_error(loc, match)
            return self._write_contact(loc, old, body, emit=emit)

    def _write_contact(self, loc: LocationState, old: Record, body: dict[str, Any], *, emit: bool) -> Record:
        new = {**old, "tags": list(old.get("tags", [])), "customFields": dict(old.get("customFields", {}))}
        changed = self._apply_fields(loc, new, body)
        if not changed:
            return old
        new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
        self._store_contact(loc, new, old)
        if emit:
            other = changed - {"tags", "dnd", "dndSettings", "inboundDndSettings"}
            if other:
                self.sink("ContactUpdate", self.contact_event("ContactUpdate", new))
            if "tags" in changed:
                self.sink("ContactTagUpdate", self.contact_event("ContactTagUpdate", new))
            if changed & {"dnd", "dndSettings"}:
                self.sink("ContactDndUpdate", self.contact_event("ContactDndUpdate", new))
        return new

    def get_contact(self, contact_id: str) -> Record:
        with self.lock:
            return self._contact(contact_id)[1]

    def delete_contact(self, contact_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, c = self._contact(contact_id)
            index_remove(loc.by_email, email_key(c.get("email")), contact_id)
            index_remove(loc.by_phone, phone_key(c.get("phone")), contact_id)
            del loc.contacts[contact_id]
            del self.contact_loc[contact_id]
            self._search_write(loc, contact_id, None)
            # Children go with the contact (GHL sends no child delete events for this).
            for tid in loc.tasks_by_contact.pop(contact_id, {}):
                loc.tasks.pop(tid, None)
                self.task_loc.pop(tid, None)
            for nid in loc.notes_by_contact.pop(contact_id, {}):
                loc.notes.pop(nid, None)
                self.note_loc.pop(nid, None)
            for aid in loc.appts_by_contact.pop(contact_id, {}):
                loc.appointments.pop(aid, None)
                self.appt_loc.pop(aid, None)
            if emit:
                self.sink("ContactDelete", self.contact_event("ContactDelete", c))

    def upsert_contact(self, body: dict[str, Any]) -> tuple[bool, Record]:
        errors = self._validate_contact_body(body, UPSERT_FIELDS)
        if "createNewIfDuplicateAllowed" in body and not isinstance(
            body["createNewIfDuplicateAllowed"], bool
        ):
            errors.append("createNewIfDuplicateAllowed must be a boolean value")
        if errors:
            raise unprocessable(errors)
        fields = {k: v for k, v in body.items() if k not in ("locationId", "createNewIfDuplicateAllowed")}
        with self.lock:
            loc = self.get_location(body.get("locationId") or "")
            if loc.allow_duplicates and body.get("createNewIfDuplicateAllowed"):
                return True, self.create_contact({**fields, "locationId": loc.id}, check_fields=False)
            match = self._find_match(loc, fields.get("email"), fields.get("phone"))
            if match is None:
                return True, self.create_contact({**fields, "locationId": loc.id}, check_fields=False)
            target_id, matched_field = match
            # The other identifier belongs to a different contact: silently ignore it (GHL issue #37).
            other_field = "phone" if matched_field == "email" else "email"
            if fields.get(other_field) and not loc.allow_duplicates:
                other = self._find_match(
                    loc, fields.get("email"), fields.get("phone"), exclude=target_id, priority=[other_field]
                )
                if other is not None:
                    fields.pop(other_field)
            elif fields.get(other_field) and loc.allow_duplicates:
                pass  # duplicates allowed: the other value may be shared
            return False, self._write_contact(loc, loc.contacts[target_id], fields, emit=True)

    def duplicate_search(self, location_id: str, email: str | None, number: str | None) -> Record | None:
        with self.lock:
            loc = self.get_location(location_id)
            priority = loc.duplicate_priority if not loc.allow_duplicates else ["email", "phone"]
            if self.variants_for(loc.id).duplicate_lookup_match == "exact":
                return self._exact_match(loc, email, number, priority)
            match = self._find_match(loc, email, number, priority=priority)
            return loc.contacts[match[0]] if match else None

    def _exact_match(
        self, loc: LocationState, email: str | None, number: str | None, priority: list[str]
    ) -> Record | None:
        """The lookup compares the identifiers as sent with the values as stored, character for character."""
        wanted = {"email": email, "phone": number}
        indexes = {"email": (loc.by_email, email_key(email)), "phone": (loc.by_phone, phone_key(number))}
        for field_name in priority:
            index, key = indexes[field_name]
            if not wanted[field_name] or not key:
                continue
            for cid in index.get(key, {}):
                if loc.contacts[cid].get(field_name) == wanted[field_name]:
                    return loc.contacts[cid]
        return None

    def list_contacts(self, location_id: str, query: dict[str, str]) -> dict[str, Any]:
        """Deprecated GET /contacts/: dateAdded ascending, cursor startAfter (ms) + startAfterId."""
        limit = int_param(query, "limit", 20)
        if limit > 100:
            raise unprocessable(["limit must not be greater than 100"])
        if limit < 1:
            raise unprocessable(["limit must not be less than 1"])
        start_after = query.get("startAfter")
        start_after_id = query.get("startAfterId") or ""
        with self.lock:
            loc = self.get_location(location_id)
            rows = sorted(
                (c["dateAdded_ms"], c["id"])
                for c in loc.contacts.values()
                if matches_query(c, query.get("query"))
            )
            start = 0
            if start_after:
                try:
                    cursor = (int(float(start_after)), start_after_id)
                except ValueError:
                    raise unprocessable(["startAfter must be a number"]) from None
                start = bisect.bisect_right(rows, cursor)
            elif start_after_id and start_after_id in loc.contacts:
                start = bisect.bisect_right(
                    rows, (loc.contacts[start_after_id]["dateAdded_ms"], start_after_id)
                )
            page = rows[start : start + limit]
            contacts = [self.contact_view(loc.contacts[cid]) for _, cid in page]
            meta: dict[str, Any] = {"total": len(rows), "currentPage": start // limit + 1}
            if start + limit < len(rows) and page:
                meta.update(startAfter=page[-1][0], startAfterId=page[-1][1], nextPage=start // limit + 2)
            return {"contacts": contacts, "count": len(rows), "meta": meta}

    def business_contacts(self, location_id: str, business_id: str, query: dict[str, str]) -> dict[str, Any]:
        limit, skip = int_param(query, "limit", 25), int_param(query, "skip", 0)
        with self.lock:
            loc = self.get_location(location_id)
            rows = [
                c
                for c in loc.contacts.values()
                if c.get("businessId") == business_id and matches_query(c, query.get("query"))
            ]
            return {"contacts": [self.contact_view(c) for c in rows[skip : skip + limit]], "count": len(rows)}

    def add_tags(self, contact_id: str, tags: Any, *, remove: bool = False) -> list[str]:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise unprocessable(["each value in tags must be a string"])
        with self.lock:
            loc, c = self._contact(contact_id)
            variants = self.variants_for(loc.id)
            current = list(c.get("tags", []))
            if remove:
                fold = _tag_folder(variants)
                unwanted = {fold(t.strip()) for t in tags if t.strip()}
                new_tags = [t for t in current if fold(t) not in unwanted]
            else:
                new_tags = merge_tags(current, tags, variants)
            updated = self._write_contact(loc, c, {"tags": new_tags}, emit=True)
            return list(updated.get("tags", []))


def _tag_folder(variants: Variants) -> Callable[[str], str]:
    """How two tags compare under the tags.match switch."""
    if variants.tags_match == "sensitive":
        return lambda tag: tag
    return str.casefold


def merge_tags(current: list[str], added: list[str], variants: Variants) -> list[str]:
    """`current` plus the new `added` tags, stored as the tags.store switch says (default lower-cased)."""
    fold = _tag_folder(variants)
    merged = list(current)
    seen = {fold(t) for t in merged}
    for raw_tag in added:
        tag = raw_tag.strip().lower() if variants.tags_store == "lower" else raw_tag.strip()
        if tag and fold(tag) not in seen:
            seen.add(fold(tag))
            merged.append(tag)
    return merged
