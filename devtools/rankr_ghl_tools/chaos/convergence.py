"""Convergence comparisons of the chaos bench: pure functions over plain snapshots of both sides.

Every function answers a list of problem descriptions (its length is the bench's count), so a failing
run can say which records broke. Inputs are ids, canonical keys and values the caller derived from the
sandboxes' state with the field mapping; nothing here reads a sandbox or a table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pair:
    """One mapping: a GHL record and its Rankr twin."""

    ghl_id: str
    rankr_id: str


def pairs_to_check(final: Iterable[Pair], earlier: Iterable[Pair]) -> list[Pair]:
    """The final mappings, plus earlier ones whose records appear in no final mapping.

    A mapping that vanished between a snapshot and the end still names a pair whose delete must be
    justified; one whose record was re-paired (a twin resolved in favour of another record) is judged
    by its final pair instead.
    """
    final_pairs = list(dict.fromkeys(final))
    ghl_ids = {p.ghl_id for p in final_pairs}
    rankr_ids = {p.rankr_id for p in final_pairs}
    vanished = [p for p in dict.fromkeys(earlier) if p.ghl_id not in ghl_ids and p.rankr_id not in rankr_ids]
    return final_pairs + vanished


def false_deletes(
    pairs: Iterable[Pair],
    *,
    ghl_live: set[str],
    rankr_live: set[str],
    deleted_by_workload: set[str],
    ghl_marked_deleted: set[str] = frozenset(),  # type: ignore[assignment]
    label: str = "record",
) -> list[str]:
    """Pairs that nobody deleted, of which the connector deleted (or marked deleted) a side.

    `deleted_by_workload`: ids (either side) the workload deleted, or that went with a deleted parent;
    their twins' deletes are the sync doing its job. `ghl_marked_deleted`: live GHL records carrying the
    mapping's "deleted in Rankr" marker, a delete as far as the user is concerned.
    """
    problems: list[str] = []
    for pair in pairs:
        if pair.ghl_id in deleted_by_workload or pair.rankr_id in deleted_by_workload:
            continue
        gone = []
        if pair.ghl_id not in ghl_live:
            gone.append("GHL deleted")
        elif pair.ghl_id in ghl_marked_deleted:
            gone.append("GHL marked deleted")
        if pair.rankr_id not in rankr_live:
            gone.append("Rankr deleted")
        if gone:
            problems.append(f"{label} {pair.ghl_id}/{pair.rankr_id}: {', '.join(gone)}, deleted by no one")
    return problems


def extra_records(live: Iterable[str], expected: set[str], *, label: str) -> list[str]:
    """Live records no workload step made: copies of records that already have their own twin."""
    return [f"{label} {record_id}: made by the connector, a twin of an existing record" for record_id in live
            if record_id not in expected]  # fmt: skip


def duplicates_by_key(keys: Mapping[str, str | None], *, label: str) -> list[str]:
    """Records sharing a key that must be unique (one per key): one problem per extra record."""
    groups: dict[str, list[str]] = {}
    for record_id, key in keys.items():
        if key is not None:
            groups.setdefault(key, []).append(record_id)
    return [
        f"{label} {record_id} duplicates {ids[0]} ({key})"
        for key, ids in sorted(groups.items())
        for record_id in sorted(ids)[1:]
    ]


@dataclass(frozen=True)
class LeadChildren:
    """What one lead asked GHL for beside the contact: its tags, first note and first task."""

    lead_id: str
    tags: tuple[str, ...] = ()
    note_body: str | None = None
    task_title: str | None = None


def children_lost(
    expected: Mapping[str, LeadChildren],
    *,
    ghl_tags: Mapping[str, Sequence[str]],
    ghl_note_bodies: Mapping[str, Sequence[str]],
    ghl_task_titles: Mapping[str, Sequence[str]],
    tags_replaced: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[str]:
    """Children missing on a live GHL contact (keyed by GHL contact id; contacts absent are skipped).

    Tags compare case-insensitively (GHL may store them lower-cased). `tags_replaced`: contacts whose
    tags a person later replaced, so the lead's tags may rightly be gone.
    """
    problems: list[str] = []
    for contact_id, children in expected.items():
        if contact_id not in ghl_tags:
            continue
        have = {str(t).lower() for t in ghl_tags.get(contact_id) or ()}
        if contact_id not in tags_replaced:
            missing = [t for t in children.tags if t.lower() not in have]
            if missing:
                problems.append(f"lead {children.lead_id} ({contact_id}): tags {missing} missing in GHL")
        if children.note_body is not None and children.note_body not in ghl_note_bodies.get(contact_id, ()):
            problems.append(f"lead {children.lead_id} ({contact_id}): note missing in GHL")
        if children.task_title is not None and children.task_title not in ghl_task_titles.get(contact_id, ()):
            problems.append(f"lead {children.lead_id} ({contact_id}): task missing in GHL")
    return problems


def children_written_twice(
    expected: Mapping[str, LeadChildren],
    *,
    ghl_note_bodies: Mapping[str, Sequence[str]],
    ghl_task_titles: Mapping[str, Sequence[str]],
) -> list[str]:
    """A lead's note or task present more than once on its GHL contact (a retry wrote it again)."""
    problems: list[str] = []
    for contact_id, children in expected.items():
        for kind, wanted, have in (
            ("note", children.note_body, ghl_note_bodies.get(contact_id, ())),
            ("task", children.task_title, ghl_task_titles.get(contact_id, ())),
        ):
            copies = sum(1 for value in have if value == wanted) if wanted is not None else 0
            if copies > 1:
                problems.append(f"lead {children.lead_id} ({contact_id}): {kind} written {copies} times")
    return problems


def echoed_children(
    rankr_values: Mapping[str, Sequence[str]], lead_values: Mapping[str, str], *, label: str
) -> list[str]:
    """Rankr records (per Rankr contact id) copying a child that lead push wrote to GHL itself: the
    lead's own note or task came back from GHL as a new Rankr record."""
    return [
        f"Rankr contact {rankr_id}: {label} '{lead_values[rankr_id]}' mirrored back from GHL"
        for rankr_id, values in sorted(rankr_values.items())
        if rankr_id in lead_values
        for value in values
        if value == lead_values[rankr_id]
    ]


def reverts_lost(
    expected: Mapping[str, Mapping[str, Any]], observed: Mapping[str, Mapping[str, Any]], *, when: str
) -> list[str]:
    """Reverted leads (keyed by GHL contact id) whose GHL contact does not hold the payload pushed last."""
    problems: list[str] = []
    for contact_id, fields in sorted(expected.items()):
        record = observed.get(contact_id)
        if record is None:
            problems.append(f"reverted contact {contact_id}: gone from GHL ({when})")
            continue
        wrong = sorted(name for name, value in fields.items() if record.get(name) != value)
        if wrong:
            problems.append(f"reverted contact {contact_id}: {wrong} not the last push ({when})")
    return problems


@dataclass
class ChildSides:
    """Notes or tasks of live mapped contact pairs, each as a comparable key (canonical fields)."""

    ghl: dict[str, list[str]] = field(default_factory=dict)  # GHL contact id -> keys
    rankr: dict[str, list[str]] = field(default_factory=dict)  # Rankr contact id -> keys


def child_mismatches(
    pairs: Iterable[Pair],
    sides: ChildSides,
    *,
    label: str,
    ghl_only: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Per live contact pair, the live notes (or tasks) on both sides must match one for one.

    `ghl_only`: keys that rightly exist only in GHL (the lead's own note and task, which never become
    Rankr records), removed once from the GHL side before comparing. Each record without an equal
    counterpart on the other side is one problem.
    """
    problems: list[str] = []
    for pair in pairs:
        ghl = Counter(sides.ghl.get(pair.ghl_id, ()))
        for key in (ghl_only or {}).get(pair.ghl_id, ()):
            if ghl[key] > 0:
                ghl[key] -= 1
        rankr = Counter(sides.rankr.get(pair.rankr_id, ()))
        for key, n in sorted((ghl - rankr).items()):
            problems += [f"{label} on {pair.ghl_id}: GHL has {key!r}, Rankr {pair.rankr_id} does not"] * n
        for key, n in sorted((rankr - ghl).items()):
            problems += [f"{label} on {pair.rankr_id}: Rankr has {key!r}, GHL {pair.ghl_id} does not"] * n
    return problems
