"""The chaos bench's GHL-side and Rankr-side changes, made through the sandboxes' admin APIs."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import ChaosConfig


@dataclass
class EditLog:
    """Which side edited which field of which record last (to check that no edit was lost)."""

    ghl: dict[tuple[str, str], Any] = field(default_factory=dict)  # (ghl contact id, canonical field)
    rankr: dict[tuple[str, str], Any] = field(default_factory=dict)  # (rankr contact id, canonical field)
    ghl_tasks: dict[tuple[str, str], Any] = field(default_factory=dict)  # (ghl task id, canonical field)
    deleted: set[str] = field(default_factory=set)  # GHL tasks deleted, or gone with their contact


def contact_change(kind: str, side: str, n: int) -> tuple[dict[str, Any], tuple[str, Any]]:
    """Contact edit number `n` of `kind` (first, last, company, tags or email) made on `side` ("ghl" or
    "rankr"): the changes sent, and the (canonical field, value) the edit log keeps."""
    label = side.capitalize()
    if kind == "first":
        return {"firstName": f"{label}first{n}"}, ("first_name", f"{label}first{n}")
    if kind == "last":
        return {"lastName": f"{label}last{n}"}, ("last_name", f"{label}last{n}")
    if kind == "company":
        return {"companyName": f"{label} Co {n}"}, ("company", f"{label} Co {n}")
    if kind == "tags":
        tags = ["chaos", f"{side}{n}"]
        return {"tags": tags}, ("tags", sorted(tags))
    if kind == "email":
        email = f"{side}{n}.{uuid.uuid4().hex[:6]}@chaos.example.com"
        return {"email": email}, ("email", email)
    raise ValueError(f"unknown contact edit kind {kind!r}")


def ghl_operations(
    contacts: list[dict[str, Any]], config: ChaosConfig, rng: random.Random
) -> tuple[list[Callable[[Any, str, EditLog], None]], set[str]]:
    """Contact edits, contact deletes and task changes, in an order a person could make them."""
    ids = [c["id"] for c in contacts]
    by_id = {c["id"]: c for c in contacts}
    deleted = set(rng.sample(ids, min(config.ghl_deletes, max(0, len(ids) - 1))))
    alive = [i for i in ids if i not in deleted]
    early: list[Callable[[Any, str, EditLog], None]] = []
    late: list[Callable[[Any, str, EditLog], None]] = []
    counter = iter(range(1, 1_000_000))

    def contact_edit(cid: str) -> Callable[[Any, str, EditLog], None]:
        n = next(counter)
        kind = rng.choice(["first", "last", "last", "company", "tags", "email"])
        lead_tagged = any(str(t).startswith("rankr-lead:") for t in by_id[cid].get("tags") or [])
        if kind == "tags" and lead_tagged:
            kind = "first"

        def op(admin: Any, location_id: str, edits: EditLog) -> None:
            changes, canonical = contact_change(kind, "ghl", n)
            admin.edit(location_id, "contact", cid, changes)
            edits.ghl[(cid, canonical[0])] = canonical[1]

        return op

    def contact_delete(cid: str) -> Callable[[Any, str, EditLog], None]:
        def op(admin: Any, location_id: str, edits: EditLog) -> None:
            admin.delete(location_id, "contact", cid)

        return op

    for _ in range(config.ghl_edits):
        (early if rng.random() < 0.5 else late).append(contact_edit(rng.choice(alive)))
    late.extend(contact_delete(cid) for cid in deleted)

    # Tasks: creates first (some on contacts deleted later: their tasks go with them, silently).
    creates = max(1, int(config.task_changes * 0.45))
    rest = config.task_changes - creates
    task_slots: list[dict[str, Any]] = []
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    for n in range(creates):
        on_deleted = deleted and rng.random() < 0.1
        cid = rng.choice(sorted(deleted)) if on_deleted else rng.choice(alive)
        slot: dict[str, Any] = {"contact": cid, "id": None, "doomed": on_deleted}
        task_slots.append(slot)

        def create(
            admin: Any, location_id: str, edits: EditLog, slot: dict[str, Any] = slot, n: int = n
        ) -> None:
            body = {
                "title": f"Call back {n}",
                "body": "chaos follow-up",
                "dueDate": (due + timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
                "completed": False,
            }
            slot["id"] = admin.create(location_id, "task", body, contact_id=slot["contact"])["id"]
            if slot["doomed"]:
                edits.deleted.add(slot["id"])

        early.append(create)
    usable = [s for s in task_slots if not s["doomed"]]
    task_changes: list[Callable[[Any, str, EditLog], None]] = []
    removed: set[int] = set()
    for _ in range(rest):
        if not usable:
            break
        index = rng.randrange(len(usable))
        slot = usable[index]
        roll = rng.random()
        kind = "complete" if roll < 0.37 else "title" if roll < 0.73 else "delete"
        if kind == "delete":
            if id(slot) in removed:
                continue
            removed.add(id(slot))
            usable.pop(index)

        def change(
            admin: Any, location_id: str, edits: EditLog, slot: dict[str, Any] = slot, kind: str = kind
        ) -> None:
            tid, cid = slot["id"], slot["contact"]
            if tid is None:
                return
            if kind == "complete":
                admin.edit(location_id, "task", tid, {"completed": True}, contact_id=cid)
                edits.ghl_tasks[(tid, "completed")] = True
            elif kind == "title":  # GHL has no TaskUpdate event: only reconcile sees this one
                title = f"Retitled {uuid.uuid4().hex[:6]}"
                admin.edit(location_id, "task", tid, {"title": title}, contact_id=cid)
                edits.ghl_tasks[(tid, "title")] = title
            else:
                edits.deleted.add(tid)
                admin.delete(location_id, "task", tid, contact_id=cid)

        task_changes.append(change)
    rng.shuffle(early)
    rng.shuffle(late)
    # Task changes keep their order (a task is changed before it is deleted, never after); contact
    # deletes land among them, after every edit of the same contact (edits only target live contacts).
    return early + interleave(late, task_changes, rng), deleted


def interleave(a: list[Any], b: list[Any], rng: random.Random) -> list[Any]:
    out: list[Any] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and rng.random() < len(a) / (len(a) + len(b))):
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out


def rankr_operations(
    pairs: dict[str, str], deleted_ghl: set[str], config: ChaosConfig, rng: random.Random
) -> list[Callable[[Any, str, EditLog], None]]:
    """Edits a person makes in Rankr (name and tags: GHL's update API cannot change companyName)."""
    candidates = sorted(rid for rid, gid in pairs.items() if gid not in deleted_ghl)
    ops: list[Callable[[Any, str, EditLog], None]] = []
    for n in range(config.rankr_edits if candidates else 0):
        rid = rng.choice(candidates)
        kind = rng.choice(["first", "last", "tags"])

        def op(
            admin: Any, account_id: str, edits: EditLog, *, rid: str = rid, kind: str = kind, n: int = n
        ) -> None:
            changes, canonical = contact_change(kind, "rankr", n)
            admin.edit(account_id, "contact", rid, changes)
            edits.rankr[(rid, canonical[0])] = canonical[1]

        ops.append(op)
    return ops
