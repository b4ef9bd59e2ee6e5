"""The chaos bench's record checks (lost, duplicated, orphaned, mismatched, lost edits), then the
safety checks of measure.py, over both sandboxes' final state and the mapping table."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from .changes import EditLog
from .config import ChaosConfig, log
from .leads import Lead
from .runtime import LEAD_PUSH


def measure(
    stack: Any,
    location_id: str,
    account_id: str,
    leads: list[Lead],
    edits: EditLog,
    *,
    expect: Any = None,
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """The record counts, then (with `expect`, the workload's Expectations) the safety counts."""
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.flows.reconcile.record_values import common_fields
    from rankr_ghl.sync.diff import changed_fields
    from rankr_ghl.sync.mapping import default_mapping
    from rankr_ghl.sync.types import Entity, Side

    from .convergence import Pair
    from .measure import lead_child_task_ids, measure_safety

    mapping = default_mapping()
    cm, tm = mapping.contact, mapping.for_entity(Entity.TASK)
    table = SyncStateTable(
        stack.template.functions[LEAD_PUSH].env["SYNC_TABLE"], client=stack.client("dynamodb")
    )
    ghl = stack.ghl.admin.state(location_id)
    rankr = stack.rankr.admin.state(account_id, include_deleted=True)
    g_contacts = {c["id"]: c for c in ghl["contacts"]}
    r_contacts = {c["id"]: c for c in rankr["contacts"]}
    r_live = {i: c for i, c in r_contacts.items() if not c.get("deletedAt")}
    g_tasks = {t["id"]: t for t in ghl["tasks"]}
    r_tasks = {t["id"]: t for t in rankr["tasks"]}
    r_tasks_live = {i: t for i, t in r_tasks.items() if not t.get("deletedAt")}
    problems: dict[str, list[str]] = defaultdict(list)

    def tombstoned(entity: Any, ghl_id: str, rankr_id: str) -> bool:
        return table.tombstones.is_tombstoned(location_id, Side.GHL, entity, ghl_id) or (
            table.tombstones.is_tombstoned(location_id, Side.RANKR, entity, rankr_id)
        )

    # contacts
    c_maps = list(table.mappings.list_for_location(location_id, Entity.CONTACT))
    by_ghl = {m.ghl_id: m for m in c_maps}
    by_rankr = {m.rankr_id: m for m in c_maps}
    for rid in r_live:
        m = by_rankr.get(rid)
        if m is None or m.ghl_id not in g_contacts:
            problems["lost"].append(
                f"rankr contact {rid} live, GHL twin {'unmapped' if m is None else 'gone'}"
            )
    for gid, g_rec in g_contacts.items():
        m = by_ghl.get(gid)
        if m is None or m.rankr_id not in r_live:
            if m is not None and cm.deleted_tag in (g_rec.get("tags") or []):
                continue  # deleted in Rankr and marked in GHL (the mapping's rankr_to_ghl delete action)
            problems["lost"].append(
                f"GHL contact {gid} live, Rankr twin {'unmapped' if m is None else 'gone'}"
            )
    for m in c_maps:
        g, r = g_contacts.get(m.ghl_id), r_live.get(m.rankr_id)
        if g is not None and r is not None:
            for name in changed_fields(cm.from_ghl(g), cm.from_rankr(r), common_fields(cm)):
                problems["field_mismatches"].append(f"contact {m.ghl_id}/{m.rankr_id}: {name}")
        elif g is None and r is None and not tombstoned(Entity.CONTACT, m.ghl_id, m.rankr_id):
            problems["orphan_mappings"].append(f"contact {m.ghl_id}/{m.rankr_id}: both gone, no tombstone")
        # one side live only: counted as lost above
    for side, records in (("GHL", g_contacts), ("Rankr", r_live)):
        seen: dict[str, str] = {}
        for rid, rec in records.items():
            canonical = cm.from_ghl(rec) if side == "GHL" else cm.from_rankr(rec)
            for key in (f"email:{canonical.get('email')}" if canonical.get("email") else None,
                        f"phone:{canonical.get('phone')}" if canonical.get("phone") else None):  # fmt: skip
                if key is None:
                    continue
                if key in seen and seen[key] != rid:
                    problems["duplicated_contacts"].append(
                        f"{side} {rid} and {seen[key]} share {key.split(':')[0]}"
                    )
                    break
                seen.setdefault(key, rid)
    lead_ids = {lead.lead_id for lead in leads}
    multi = Counter(m.rankr_id for m in c_maps if m.rankr_id in lead_ids)
    problems["duplicated_contacts"] += [f"lead {rid} mapped {n} times" for rid, n in multi.items() if n > 1]

    # tasks
    t_maps = list(table.mappings.list_for_location(location_id, Entity.TASK))
    t_by_ghl = {m.ghl_id: m for m in t_maps}
    lead_tasks = lead_child_task_ids(ghl, expect) if expect is not None else set()
    for tid, task in g_tasks.items():
        m = t_by_ghl.get(tid)
        if task.get("contactId") not in g_contacts or tid in lead_tasks:
            continue  # a lead's own task exists only in GHL
        if m is None or m.rankr_id not in r_tasks_live:
            problems["lost"].append(f"GHL task {tid} live, Rankr twin {'unmapped' if m is None else 'gone'}")
    for m in t_maps:
        g, r = g_tasks.get(m.ghl_id), r_tasks_live.get(m.rankr_id)
        if g is None and r is not None:
            problems["lost"].append(f"GHL task {m.ghl_id} deleted, Rankr task {m.rankr_id} still live")
        elif (
            g is None
            and r is None
            and m.rankr_id not in r_tasks
            and not tombstoned(Entity.TASK, m.ghl_id, m.rankr_id)
        ):
            problems["orphan_mappings"].append(f"task {m.ghl_id}/{m.rankr_id}: both gone, no tombstone")
        elif g is not None and r is not None:
            for name in changed_fields(tm.from_ghl(g), tm.from_rankr(r), common_fields(tm)):
                problems["field_mismatches"].append(f"task {m.ghl_id}/{m.rankr_id}: {name}")

    # edits: a field edited on one side only must end with that value on both sides
    rankr_edited = {(by_rankr[rid].ghl_id, name) for (rid, name) in edits.rankr if rid in by_rankr}
    for (gid, name), value in edits.ghl.items():
        m, g = by_ghl.get(gid), g_contacts.get(gid)
        if m is None or g is None or (gid, name) in rankr_edited:
            continue
        r = r_live.get(m.rankr_id)
        if cm.from_ghl(g).get(name) != value or (r is not None and cm.from_rankr(r).get(name) != value):
            problems["edits_lost"].append(f"GHL edit of {name} on {gid}")
    ghl_edited = set(edits.ghl)
    for (rid, name), value in edits.rankr.items():
        m, r = by_rankr.get(rid), r_live.get(rid)
        if m is None or r is None or (m.ghl_id, name) in ghl_edited:
            continue
        g = g_contacts.get(m.ghl_id)
        if cm.from_rankr(r).get(name) != value or (g is not None and cm.from_ghl(g).get(name) != value):
            problems["edits_lost"].append(f"Rankr edit of {name} on {rid}")
    for tid, name in edits.ghl_tasks:
        m, g = t_by_ghl.get(tid), g_tasks.get(tid)
        if m is None or g is None:
            continue
        r = r_tasks_live.get(m.rankr_id)
        if r is not None and tm.from_rankr(r).get(name) != tm.from_ghl(g).get(name):
            problems["edits_lost"].append(f"GHL task edit of {name} on {tid}")

    counts = {
        k: len(problems.get(k, []))
        for k in ("lost", "duplicated_contacts", "orphan_mappings", "field_mismatches", "edits_lost")
    }
    if expect is not None:
        n_maps = list(table.mappings.list_for_location(location_id, Entity.NOTE))
        pairs = {
            "contact": [Pair(m.ghl_id, m.rankr_id) for m in c_maps],
            "task": [Pair(m.ghl_id, m.rankr_id) for m in t_maps],
            "note": [Pair(m.ghl_id, m.rankr_id) for m in n_maps],
        }
        safety_counts, safety_problems = measure_safety(
            ghl, rankr, pairs, expect, mapping=mapping, common_fields=common_fields
        )
        counts.update(safety_counts)
        problems.update(safety_problems)
    return counts, dict(problems)


def audit_trail(stack: Any, location_id: str, problems: dict[str, list[str]], config: ChaosConfig) -> None:
    """The audit entries of the records named in the problems (stderr), to see which flow wrote what."""
    import re

    ids = {i for items in problems.values() for line in items for i in re.findall(r"[A-Za-z0-9_]{20,}", line)}
    table = stack.template.tables["AuditTable"].name
    dynamodb = stack.client("dynamodb")
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LOC#{location_id}"}},
    )
    for page in pages:
        for item in page["Items"]:
            plain = {k: next(iter(v.values())) for k, v in item.items()}
            if plain.get("ghlId") in ids or plain.get("rankrId") in ids:
                keep = (
                    "at",
                    "flow",
                    "action",
                    "outcome",
                    "direction",
                    "ghlId",
                    "rankrId",
                    "fields",
                    "reason",
                )
                log(config, "audit " + json.dumps({k: plain.get(k) for k in keep}, default=str))
