"""The chaos bench's safety measurements over the final state of both sandboxes (see convergence.py
for the comparisons themselves): false deletes, twins, lost reverts and children, note and task
mismatches."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import convergence as cv
from .convergence import ChildSides, LeadChildren, Pair

SAFETY_KEYS = (
    "false_deletes",
    "twins",
    "reverts_lost",
    "children_lost",
    "note_mismatches",
    "task_mismatches",
)


@dataclass
class Expectations:
    """What the workload did, for the measurement to judge the final state by."""

    lead_ids: set[str] = field(default_factory=set)
    lead_contacts: dict[str, str] = field(default_factory=dict)  # lead id -> GHL contact id
    children: dict[str, LeadChildren] = field(default_factory=dict)  # lead id -> its children
    deleted_by_workload: set[str] = field(default_factory=set)  # ids on either side
    tags_replaced: set[str] = field(default_factory=set)  # GHL contact ids whose tags a person replaced
    revert_expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # GHL id -> canonical fields
    revert_snapshot: dict[str, dict[str, Any]] = field(default_factory=dict)  # right after the reverts
    earlier_pairs: dict[str, list[Pair]] = field(default_factory=lambda: defaultdict(list))  # per entity


def values_by_contact(records: Iterable[Mapping[str, Any]], name: str) -> dict[str, list[str]]:
    """One field of notes or tasks, grouped by the contact they belong to."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for record in records:
        grouped[record.get("contactId", "")].append(record.get(name) or "")
    return grouped


def child_key(entity_mapping: Any, canonical: Mapping[str, Any], fields: Iterable[str]) -> str:
    return json.dumps({name: canonical.get(name) for name in sorted(fields)}, sort_keys=True, default=str)


def measure_safety(
    ghl: Mapping[str, Any],
    rankr: Mapping[str, Any],
    pairs: Mapping[str, list[Pair]],
    expect: Expectations,
    *,
    mapping: Any,
    common_fields: Any,
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """`ghl`/`rankr`: the sandboxes' state dumps (Rankr with deleted records); `pairs`: the final
    mappings per entity ("contact", "task", "note"); `mapping`: the field mapping;
    `common_fields(entity_mapping)`: the fields both sides carry."""
    cm, tm, nm = mapping.contact, mapping.for_entity("task"), mapping.for_entity("note")
    g_contacts = {c["id"]: c for c in ghl["contacts"]}
    r_contacts_live = {c["id"]: c for c in rankr["contacts"] if not c.get("deletedAt")}
    g_marked = {gid for gid, c in g_contacts.items() if cm.deleted_tag in (c.get("tags") or [])}
    g_tasks = {t["id"]: t for t in ghl["tasks"]}
    g_notes = {n["id"]: n for n in ghl.get("notes", [])}
    r_tasks_live = {t["id"]: t for t in rankr["tasks"] if not t.get("deletedAt")}
    r_notes_live = {n["id"]: n for n in rankr.get("notes", []) if not n.get("deletedAt")}
    problems: dict[str, list[str]] = defaultdict(list)

    checked = {entity: cv.pairs_to_check(pairs.get(entity, []), expect.earlier_pairs.get(entity, []))
               for entity in ("contact", "task", "note")}  # fmt: skip
    # A lead's own note and task live on the lead in Rankr (lead_child_id): live while the lead is.
    lead_children = {
        entity: {f"{cid}#lead-{entity}" for cid in r_contacts_live} for entity in ("task", "note")
    }
    for entity, g_live, r_live in (
        ("contact", set(g_contacts), set(r_contacts_live)),
        ("task", set(g_tasks), set(r_tasks_live) | lead_children["task"]),
        ("note", set(g_notes), set(r_notes_live) | lead_children["note"]),
    ):
        problems["false_deletes"] += cv.false_deletes(
            checked[entity],
            ghl_live=g_live,
            rankr_live=r_live,
            deleted_by_workload=expect.deleted_by_workload,
            ghl_marked_deleted=g_marked if entity == "contact" else set(),
            label=entity,
        )

    # twins: every GHL contact of the run comes from a lead, so any other live Rankr contact is a copy
    problems["twins"] += cv.extra_records(sorted(r_contacts_live), expect.lead_ids, label="Rankr contact")
    lead_tags = {gid: next((t for t in c.get("tags") or [] if str(t).lower().startswith("rankr-lead:")), None)
                 for gid, c in g_contacts.items()}  # fmt: skip
    problems["twins"] += cv.duplicates_by_key(
        {gid: (tag.lower() if tag else None) for gid, tag in lead_tags.items()}, label="GHL contact"
    )
    by_contact_notes = values_by_contact(g_notes.values(), "body")
    by_contact_titles = values_by_contact(g_tasks.values(), "title")
    children_by_contact = {
        expect.lead_contacts[lead_id]: children
        for lead_id, children in expect.children.items()
        if lead_id in expect.lead_contacts
    }
    problems["twins"] += cv.children_written_twice(
        children_by_contact, ghl_note_bodies=by_contact_notes, ghl_task_titles=by_contact_titles
    )
    rankr_note_bodies = values_by_contact(r_notes_live.values(), "body")
    rankr_task_titles = values_by_contact(r_tasks_live.values(), "title")
    lead_notes = {lid: c.note_body for lid, c in expect.children.items() if c.note_body}
    lead_tasks = {lid: c.task_title for lid, c in expect.children.items() if c.task_title}
    problems["twins"] += cv.echoed_children(rankr_note_bodies, lead_notes, label="note")
    problems["twins"] += cv.echoed_children(rankr_task_titles, lead_tasks, label="task")

    problems["children_lost"] += cv.children_lost(
        children_by_contact,
        ghl_tags={gid: c.get("tags") or [] for gid, c in g_contacts.items()},
        ghl_note_bodies=by_contact_notes,
        ghl_task_titles=by_contact_titles,
        tags_replaced=expect.tags_replaced,
    )

    final_canonical = {gid: dict(cm.from_ghl(c)) for gid, c in g_contacts.items()
                       if gid in expect.revert_expected}  # fmt: skip
    lost = set(cv.reverts_lost(expect.revert_expected, expect.revert_snapshot, when="after the pushes"))
    lost |= set(cv.reverts_lost(expect.revert_expected, final_canonical, when="at the end"))
    reverted = {line.split(":")[0] for line in lost}
    problems["reverts_lost"] += sorted(reverted)

    # notes and tasks of live contact pairs, one for one (the lead's own children exist only in GHL)
    live_pairs = [
        p for p in pairs.get("contact", []) if p.ghl_id in g_contacts and p.rankr_id in r_contacts_live
    ]
    for label, entity_mapping, g_records, r_records in (
        ("note", nm, g_notes, r_notes_live),
        ("task", tm, g_tasks, r_tasks_live),
    ):
        fields = common_fields(entity_mapping)
        sides = ChildSides()
        for record in g_records.values():
            key = child_key(entity_mapping, entity_mapping.from_ghl(record), fields)
            sides.ghl.setdefault(record.get("contactId", ""), []).append(key)
        for record in r_records.values():
            key = child_key(entity_mapping, entity_mapping.from_rankr(record), fields)
            sides.rankr.setdefault(record.get("contactId", ""), []).append(key)
        lead_keys: dict[str, list[str]] = defaultdict(list)
        for gid, children in children_by_contact.items():
            wanted = children.note_body if label == "note" else children.task_title
            name = "body" if label == "note" else "title"
            for record in g_records.values():
                if record.get("contactId") == gid and record.get(name) == wanted:
                    lead_keys[gid].append(child_key(entity_mapping, entity_mapping.from_ghl(record), fields))
        problems[f"{label}_mismatches"] += cv.child_mismatches(
            live_pairs, sides, label=label, ghl_only=lead_keys
        )

    counts = {key: len(problems.get(key, [])) for key in SAFETY_KEYS}
    return counts, dict(problems)


def lead_child_task_ids(ghl: Mapping[str, Any], expect: Expectations) -> set[str]:
    """GHL tasks lead push created as a lead's first task: they never get a Rankr twin."""
    titles = {expect.lead_contacts[lid]: c.task_title for lid, c in expect.children.items()
              if c.task_title and lid in expect.lead_contacts}  # fmt: skip
    return {t["id"] for t in ghl["tasks"] if titles.get(t.get("contactId", "")) == t.get("title")}
