"""Echo suppression and the per-field sync decision, as pure functions.

The ledger keeps, per (location, entity, side, record id), the digests of the canonical fields the
connector last wrote to (or last synced from) that side. When a change arrives from side S:

1. Per field that may flow S -> O and differs between the two sides:
   - S changed it since the last sync and O did not: write it to O;
   - O changed it and S did not: leave it (O's own change event will carry it to S);
   - both changed it (or the history is unknown): the field's conflict policy picks a winner.
   One-way fields are simply re-asserted from their source side.
2. Nothing to write and S's current canonical state hashes equal to what we last WROTE there: it is
   our own echo -> skip (and count). An echo can still write in one case: both sides look unchanged
   since their baselines, yet differ (an edit undone back to an old value while a conflict was
   pending); the conflict policy then settles the field instead of leaving the sides apart.

Values are compared in canonical (normalised) form, so sides that store the same value differently
(`(555) 123-4567` vs `+15551234567`) never ping-pong. Nothing here talks to AWS or HTTP: flows load
the ledger entries, call `decide`, perform the write, then store `Decision.ledger_entries(...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from rankr_ghl.sync import diff
from rankr_ghl.sync.conflict import FieldConflict, resolve
from rankr_ghl.sync.ledger_entries import ledger_entry_from_digests
from rankr_ghl.sync.mapping import EntityMapping, GhlWrite
from rankr_ghl.sync.ports import LedgerEntry, LedgerOrigin, LedgerStore, utcnow
from rankr_ghl.sync.types import Canonical, Direction, Entity, Side


class Action(StrEnum):
    SKIP_ECHO = "skip_echo"  # the change is our own write coming back
    NOOP_IN_SYNC = "noop_in_sync"  # a real or repeated change, but nothing needs writing
    WRITE = "write"  # write `payload` to the other side (create it when `is_create`)


@dataclass(frozen=True)
class Decision:
    action: Action
    change_side: Side
    fields_changed: tuple[str, ...]  # canonical names to write to the other side
    payload: Canonical  # canonical values of those fields
    source: Canonical  # the change side's full canonical state (for joins like full name)
    is_create: bool = False
    conflicts: tuple[FieldConflict, ...] = ()
    held_back: tuple[str, ...] = ()  # differing fields the other side keeps
    not_writable: tuple[str, ...] = ()  # differing fields the other side does not accept (GHL companyName)
    reason: str = ""
    _other_digests: Mapping[str, str] = field(default_factory=dict, repr=False)
    _observed_digests: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def target_side(self) -> Side:
        return self.change_side.other

    @property
    def direction(self) -> Direction:
        return Direction.of(self.change_side)

    def rankr_body(self, mapping: EntityMapping) -> dict[str, Any]:
        """Rankr create/PATCH body of this decision (change side must be GHL)."""
        return mapping.to_rankr(self.source, only=self.fields_changed)

    def ghl_write(self, mapping: EntityMapping, *, current_ghl: Canonical | None = None) -> GhlWrite:
        """GHL create/update body and tag changes of this decision (change side must be Rankr)."""
        mode: Literal["create", "update"] = "create" if self.is_create else "update"
        return mapping.to_ghl(self.source, only=self.fields_changed, mode=mode, current=current_ghl)

    def ledger_entries(
        self,
        location_id: str,
        entity: Entity,
        *,
        change_id: str,
        other_id: str | None,
        at: datetime | None = None,
        correlation_id: str | None = None,
    ) -> list[LedgerEntry]:
        """Entries to store once the decision was carried out (after a successful write).

        - the change side: what we just synced from (`observed`), unless this was an echo;
        - the other side, when written: the state it has after our write (`write`).
        """
        when = at or utcnow()
        if self.action is Action.SKIP_ECHO:
            return []
        sides: list[tuple[Side, str, Mapping[str, str], LedgerOrigin]] = [
            (self.change_side, change_id, self._observed_digests, "observed")
        ]
        if self.action is Action.WRITE and other_id is not None:
            sides.append((self.target_side, other_id, self._other_digests, "write"))
        return [
            ledger_entry_from_digests(
                location_id=location_id,
                entity=entity,
                side=side,
                record_id=record_id,
                digests=digests,
                at=when,
                origin=origin,
                correlation_id=correlation_id,
            )
            for side, record_id, digests, origin in sides
        ]


def is_echo(current: Canonical, ledger: LedgerEntry | None, mapping: EntityMapping, side: Side) -> bool:
    """True when `current` is exactly what the connector last wrote to that side."""
    if ledger is None or ledger.origin != "write":
        return False
    digests = diff.field_digests(current, [f.name for f in mapping.fields_on(side)])
    return diff.record_digest(digests) == ledger.digest


def _changed(ledger: LedgerEntry | None, name: str, value: Any) -> bool | None:
    if ledger is None or name not in ledger.field_digests:
        return None
    return diff.value_digest(value) != ledger.field_digests[name]


def decide(
    change_side: Side,
    current: Canonical,
    other: Canonical | None,
    *,
    ledger_current: LedgerEntry | None,
    ledger_other: LedgerEntry | None,
    mapping: EntityMapping,
    current_ts: datetime | None = None,
    other_ts: datetime | None = None,
    hold_unchanged: bool = False,
) -> Decision:
    """Decide what a change on `change_side` means for the other side.

    `current`/`other`: canonical states (from `mapping.canonical`) of the changed record and of its
    counterpart (None when it does not exist yet). `ledger_*`: the ledger entries of both records.
    `*_ts`: record-level modification times (for `newer_wins`). `hold_unchanged`: a differing field
    that did not change on exactly one side against its ledger is held, not decided by timestamps (a
    pair whose writer has not finished: its difference is that writer's pending write, not an edit).
    """
    side_fields = [f.name for f in mapping.fields_on(change_side)]
    observed = diff.field_digests(current, side_fields)

    unchanged = ledger_current is not None and diff.record_digest(observed) == ledger_current.digest
    echo = unchanged and ledger_current is not None and ledger_current.origin == "write"

    ghl_ts, rankr_ts = (current_ts, other_ts) if change_side is Side.GHL else (other_ts, current_ts)
    to_write: list[str] = []
    held: list[str] = []
    conflicts: list[FieldConflict] = []
    unwritable: list[str] = []
    for f in mapping.fields:
        if not f.flows_from(change_side):
            continue
        value = current.get(f.name)
        if not mapping.can_write(f.name, change_side.other, "create" if other is None else "update"):
            if other is None or not diff.equal(value, other.get(f.name)):
                unwritable.append(f.name)
            continue
        if other is None:
            if value not in (None, []):
                to_write.append(f.name)
            continue
        other_value = other.get(f.name)
        if diff.equal(value, other_value):
            continue
        if f.direction is not Direction.BOTH:
            to_write.append(f.name)  # the source side of a one-way field is authoritative
            continue
        mine, theirs = _changed(ledger_current, f.name, value), _changed(ledger_other, f.name, other_value)
        if mine is True and theirs is False:
            to_write.append(f.name)
        elif (mine is False and theirs is True) or (hold_unchanged and not (mine and theirs)):
            held.append(f.name)
        else:
            verdict = resolve(
                f.name, f.conflict, ghl_ts=ghl_ts, rankr_ts=rankr_ts, tie_breaker=mapping.tie_breaker
            )
            conflicts.append(verdict)
            (to_write if verdict.winner is change_side else held).append(f.name)

    payload = {name: current.get(name) for name in to_write}
    other_digests = _expected_target(
        mapping=mapping,
        change_side=change_side,
        current=current,
        other=other,
        ledger_other=ledger_other,
        payload=payload,
    )
    if to_write:
        # An echo normally writes nothing (no field changed on its side). It writes only to settle a
        # field whose two baselines disagree (an edit undone back to an old value): see module doc.
        action, reason = Action.WRITE, ("create" if other is None else "drift" if echo else "changed")
    elif echo:
        return Decision(Action.SKIP_ECHO, change_side, (), {}, current, reason="echo")
    else:
        action, reason = Action.NOOP_IN_SYNC, ("unchanged" if unchanged else "in_sync")
    return Decision(
        action=action,
        change_side=change_side,
        fields_changed=tuple(to_write),
        payload=payload,
        source=current,
        is_create=other is None and bool(to_write),
        conflicts=tuple(conflicts),
        held_back=tuple(held),
        not_writable=tuple(unwritable),
        reason=reason,
        _other_digests=other_digests,
        _observed_digests=observed,
    )


def _expected_target(
    *,
    mapping: EntityMapping,
    change_side: Side,
    current: Canonical,
    other: Canonical | None,
    ledger_other: LedgerEntry | None,
    payload: Canonical,
) -> dict[str, str]:
    """Ledger digests of the target after our write.

    A field we did not write but that still differs keeps the target's previous baseline: the
    target's own pending change to it must not pass for our echo. Without a baseline, a field we
    could have written takes the source's value (so the target's differing value reads as its own
    change), one we could not write (GHL companyName on update) keeps the target's value.
    """
    target = change_side.other
    digests: dict[str, str] = {}
    for f in mapping.fields_on(target):
        target_value = other.get(f.name) if other is not None else None
        if f.name in payload:
            digests[f.name] = diff.value_digest(payload[f.name])
        elif (
            other is None or f.accessor(change_side) is None or diff.equal(current.get(f.name), target_value)
        ):
            digests[f.name] = diff.value_digest(target_value)
        elif ledger_other is not None and f.name in ledger_other.field_digests:
            digests[f.name] = ledger_other.field_digests[f.name]
        elif mapping.can_write(f.name, target, "update"):
            digests[f.name] = diff.value_digest(current.get(f.name))
        else:
            digests[f.name] = diff.value_digest(target_value)
    return digests


@dataclass(frozen=True)
class PairPlan:
    """Reconcile's view of one mapped pair: what to write each way, from one snapshot."""

    to_rankr: Decision
    to_ghl: Decision

    @property
    def in_sync(self) -> bool:
        return self.to_rankr.action is not Action.WRITE and self.to_ghl.action is not Action.WRITE


def reconcile_pair(
    ghl: Canonical,
    rankr: Canonical,
    ledger_ghl: LedgerEntry | None,
    ledger_rankr: LedgerEntry | None,
    mapping: EntityMapping,
    *,
    ghl_ts: datetime | None = None,
    rankr_ts: datetime | None = None,
    location_id: str = "",
    ghl_id: str = "",
    rankr_id: str = "",
    hold_unchanged: bool = False,
) -> PairPlan:
    """Both directions for a mapped pair, as if GHL's change were processed first, then Rankr's.

    The Rankr-side decision sees Rankr as it will be after the GHL-side write, so the two plans
    never write the same field in opposite directions. `hold_unchanged`: see `decide`.
    """
    first = decide(
        Side.GHL,
        ghl,
        rankr,
        ledger_current=ledger_ghl,
        ledger_other=ledger_rankr,
        mapping=mapping,
        current_ts=ghl_ts,
        other_ts=rankr_ts,
        hold_unchanged=hold_unchanged,
    )
    rankr_after = {**rankr, **first.payload}
    entries = {
        e.side: e
        for e in first.ledger_entries(location_id, mapping.entity, change_id=ghl_id, other_id=rankr_id)
    }
    second = decide(
        Side.RANKR,
        rankr_after,
        ghl,
        ledger_current=entries.get(Side.RANKR, ledger_rankr),
        ledger_other=entries.get(Side.GHL, ledger_ghl),
        mapping=mapping,
        current_ts=rankr_ts,
        other_ts=ghl_ts,
        hold_unchanged=hold_unchanged,
    )
    return PairPlan(to_rankr=first, to_ghl=second)


def load_ledgers(
    store: LedgerStore,
    location_id: str,
    entity: Entity,
    *,
    ghl_id: str | None,
    rankr_id: str | None,
) -> tuple[LedgerEntry | None, LedgerEntry | None]:
    """(ghl entry, rankr entry) for a pair, read together (one round trip); a missing id gives None."""
    keys = [(side, rid) for side, rid in ((Side.GHL, ghl_id), (Side.RANKR, rankr_id)) if rid]
    if not keys:
        return None, None
    found = store.get_many(location_id, entity, keys)
    ghl = found.get((Side.GHL, ghl_id)) if ghl_id else None
    rankr = found.get((Side.RANKR, rankr_id)) if rankr_id else None
    return ghl, rankr
