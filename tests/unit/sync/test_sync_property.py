"""Property: random edits on both sides, delivered late, out of order and duplicated, settle with no
ping-pong, and every edit causes at most one write to the other side.

The two in-memory sides store values the way the real systems do, differently:
GHL keeps E.164 phones, lower-case e-mails and tags, and trims names; Rankr keeps phones formatted
"(555) 123-4567", e-mails and tags as typed, names with stray spaces. Only the canonical (mapped,
normalised) forms are comparable, which is what the decision logic uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fakes import InMemoryLedgerStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rankr_ghl.sync.echo import Action, decide
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import EntityMapping, default_mapping
from rankr_ghl.sync.types import Entity, Side

LOC = "loc-1"
GHL_ID = "g-1"
RANKR_ID = "r-1"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

VALUES: dict[str, list[Any]] = {
    "first_name": ["Ann", " Ann ", "Bob", "Zoë", None],
    "last_name": ["Lee", "Lee  Smith", "Ng", None],
    "email": ["ann@x.com", "ANN@X.com ", "bob@y.org", None],
    "phone": ["5551234567", "(555) 123-4567", "+1 555 123 4567", "555.987.6543", "+44 20 7946 0958", None],
    "tags": [[], ["VIP"], ["vip", "Lead"], ["lead", " hot "], ["HOT"]],
    "company": ["Acme", "Globex", None],
}
# GHL cannot update companyName, so only GHL-side edits of company are meaningful for two-way sync.
RANKR_EDITABLE = [f for f in VALUES if f != "company"]
GHL_EDITABLE = list(VALUES)

GHL_ATTR = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "tags": "tags",
    "company": "companyName",
}
RANKR_ATTR = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "tags": "tags",
    "company": "company",
}


def ghl_store(attr: str, value: Any) -> Any:
    """How GHL keeps a value it receives."""
    if value is None:
        return None
    if attr == "tags":
        out: list[str] = []
        for tag in value:
            cleaned = tag.strip().lower()
            if cleaned and cleaned not in out:
                out.append(cleaned)
        return out
    if attr == "email":
        return value.strip().lower() or None
    if attr == "phone":
        digits = re.sub(r"\D", "", value)
        if value.strip().startswith("+"):
            return "+" + digits
        return "+1" + digits[-10:]
    return value.strip() or None


def rankr_store(attr: str, value: Any) -> Any:
    """How Rankr keeps a value it receives: phones formatted, everything else as typed."""
    if value is None:
        return None
    if attr == "phone":
        digits = re.sub(r"\D", "", value)
        if value.startswith("+1") or (not value.startswith("+") and len(digits) in (10, 11)):
            d = digits[-10:]
            return f"({d[:3]}) {d[3:6]}-{d[6:]}"
        return value
    if attr == "tags":
        return list(value)
    return value


@dataclass
class World:
    mapping: EntityMapping
    ghl: dict[str, Any] = field(default_factory=dict)
    rankr: dict[str, Any] = field(default_factory=dict)
    clock: int = 0
    ledger: InMemoryLedgerStore = field(default_factory=InMemoryLedgerStore)
    pending: list[Side] = field(default_factory=list)  # "this side's record changed" notifications
    user_edits: dict[Side, int] = field(default_factory=lambda: {Side.GHL: 0, Side.RANKR: 0})
    writes_to: dict[Side, int] = field(default_factory=lambda: {Side.GHL: 0, Side.RANKR: 0})
    echoes: int = 0
    last_edit: dict[str, dict[Side, Any]] = field(default_factory=dict)  # field -> side -> last value

    def tick(self) -> str:
        self.clock += 1
        return (EPOCH + timedelta(seconds=self.clock)).isoformat().replace("+00:00", "Z")

    def raw(self, side: Side) -> dict[str, Any]:
        return self.ghl if side is Side.GHL else self.rankr

    def canonical(self, side: Side) -> dict[str, Any]:
        return self.mapping.canonical(side, self.raw(side))

    def user_edit(self, side: Side, name: str, value: Any) -> None:
        if side is Side.GHL:
            self.ghl[GHL_ATTR[name]] = ghl_store(GHL_ATTR[name], value)
            self.ghl["dateUpdated"] = self.tick()
        else:
            self.rankr[RANKR_ATTR[name]] = rankr_store(RANKR_ATTR[name], value)
            self.rankr["updatedAt"] = self.tick()
        self.user_edits[side] += 1
        self.last_edit.setdefault(name, {})[side] = value
        self.pending.append(side)

    def apply_ghl(self, body: dict[str, Any], add: list[str], remove: list[str]) -> None:
        for attr, value in body.items():
            assert attr not in ("tags", "companyName"), "tags/companyName must never be in a GHL update"
            self.ghl[attr] = ghl_store(attr, value)
        tags = [t for t in (self.ghl.get("tags") or []) if t not in remove]
        self.ghl["tags"] = tags + [t for t in ghl_store("tags", add) if t not in tags]
        self.ghl["dateUpdated"] = self.tick()

    def apply_rankr(self, body: dict[str, Any]) -> None:
        for attr, value in body.items():
            self.rankr[attr] = rankr_store(attr, value)
        self.rankr["updatedAt"] = self.tick()

    def timestamp(self, side: Side) -> datetime | None:
        return self.mapping.timestamp(side, self.raw(side))

    def process(self, side: Side) -> Action:
        other = side.other
        ids = {Side.GHL: GHL_ID, Side.RANKR: RANKR_ID}
        decision = decide(
            side,
            self.canonical(side),
            self.canonical(other),
            ledger_current=self.ledger.get(LOC, Entity.CONTACT, side, ids[side]),
            ledger_other=self.ledger.get(LOC, Entity.CONTACT, other, ids[other]),
            mapping=self.mapping,
            current_ts=self.timestamp(side),
            other_ts=self.timestamp(other),
        )
        if decision.action is Action.SKIP_ECHO:
            self.echoes += 1
        if decision.action is Action.WRITE:
            if other is Side.GHL:
                write = decision.ghl_write(self.mapping, current_ghl=self.canonical(Side.GHL))
                self.apply_ghl(write.body, write.tags_to_add, write.tags_to_remove)
            else:
                self.apply_rankr(decision.rankr_body(self.mapping))
            self.writes_to[other] += 1
            self.pending.append(other)  # the echo of our write
        for entry in decision.ledger_entries(
            LOC, Entity.CONTACT, change_id=ids[side], other_id=ids[other], at=EPOCH
        ):
            self.ledger.put(entry)
        return decision.action


def new_world() -> World:
    mapping = default_mapping().contact
    world = World(mapping)
    # A lead pushed from Rankr: both sides hold it, and the ledger knows what was written/seen.
    seed = {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "Ann@X.com",
        "phone": "(555) 123-4567",
        "tags": ["VIP"],
        "company": "Acme",
    }
    for name, value in seed.items():
        world.rankr[RANKR_ATTR[name]] = rankr_store(RANKR_ATTR[name], value)
        world.ghl[GHL_ATTR[name]] = ghl_store(GHL_ATTR[name], value)
    world.rankr["updatedAt"] = world.tick()
    world.ghl["dateUpdated"] = world.tick()
    world.ledger.put(
        ledger_entry(
            LOC,
            Entity.CONTACT,
            Side.GHL,
            GHL_ID,
            canonical=world.canonical(Side.GHL),
            mapping=mapping,
            origin="write",
        )
    )
    world.ledger.put(
        ledger_entry(
            LOC,
            Entity.CONTACT,
            Side.RANKR,
            RANKR_ID,
            canonical=world.canonical(Side.RANKR),
            mapping=mapping,
            origin="observed",
        )
    )
    return world


edit = st.one_of(
    st.tuples(st.just(Side.GHL), st.sampled_from(GHL_EDITABLE)),
    st.tuples(st.just(Side.RANKR), st.sampled_from(RANKR_EDITABLE)),
).flatmap(
    lambda sf: st.tuples(st.just("edit"), st.just(sf[0]), st.just(sf[1]), st.sampled_from(VALUES[sf[1]]))
)
deliver = st.tuples(st.just("deliver"), st.integers(0, 50), st.booleans())  # index, keep a duplicate
steps = st.lists(st.one_of(edit, deliver), min_size=1, max_size=40)


def both_way_fields(world: World) -> list[str]:
    return [f.name for f in world.mapping.fields if f.flows_from(Side.GHL) and f.flows_from(Side.RANKR)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_edits_settle_without_ping_pong(ops: list[tuple[Any, ...]]) -> None:
    world = new_world()
    for op in ops:
        if op[0] == "edit":
            _, side, name, value = op
            world.user_edit(side, name, value)
        elif world.pending:
            _, index, duplicate = op
            side = world.pending.pop(index % len(world.pending))
            if duplicate:
                world.pending.append(side)
            world.process(side)
    # Drain every notification (echoes included); each processing adds at most one.
    budget = 10 * (len(ops) + 2)
    while world.pending:
        budget -= 1
        assert budget > 0, "notifications keep coming: the two sides ping-pong"
        world.process(world.pending.pop(0))

    # Settled: a fresh notification from either side writes nothing.
    assert world.process(Side.GHL) is not Action.WRITE
    assert world.process(Side.RANKR) is not Action.WRITE
    # Converged on every two-way field, in canonical form.
    ghl, rankr = world.canonical(Side.GHL), world.canonical(Side.RANKR)
    for name in both_way_fields(world):
        assert ghl[name] == rankr[name], name
    # No lost update: a field edited on one side only ends with that side's last value everywhere.
    for name, by_side in world.last_edit.items():
        if len(by_side) == 1:
            ((side, value),) = by_side.items()
            expected = world.mapping.canonical(
                side, {(GHL_ATTR if side is Side.GHL else RANKR_ATTR)[name]: value}
            )
            assert ghl[name] == rankr[name] == expected[name], name
    # One write per edit at most, never one caused by an echo.
    assert world.writes_to[Side.RANKR] <= world.user_edits[Side.GHL]
    assert world.writes_to[Side.GHL] <= world.user_edits[Side.RANKR]


def test_formatting_differences_alone_cause_no_write() -> None:
    world = new_world()
    # Same values, typed differently on each side: nothing to sync.
    world.user_edit(Side.RANKR, "phone", "555.123.4567")
    world.user_edit(Side.RANKR, "email", " ANN@x.COM")
    world.user_edit(Side.RANKR, "tags", ["vip", "VIP "])
    while world.pending:
        assert world.process(world.pending.pop(0)) is not Action.WRITE
    assert world.writes_to == {Side.GHL: 0, Side.RANKR: 0}


def test_edit_and_its_echo() -> None:
    world = new_world()
    world.user_edit(Side.GHL, "phone", "+1 555 987 6543")
    assert world.process(world.pending.pop()) is Action.WRITE
    assert world.rankr["phone"] == "(555) 987-6543"
    assert world.process(world.pending.pop()) is Action.SKIP_ECHO  # Rankr's notification of our write
    assert world.echoes == 1
    # A real edit seconds later still syncs.
    world.user_edit(Side.RANKR, "phone", "5551112222")
    assert world.process(world.pending.pop()) is Action.WRITE
    assert world.ghl["phone"] == "+15551112222"


def test_company_edited_in_rankr_is_not_sent_in_a_ghl_update() -> None:
    world = new_world()
    world.user_edit(Side.RANKR, "company", "Globex")
    assert world.process(world.pending.pop()) is Action.NOOP_IN_SYNC
    assert world.ghl["companyName"] == "Acme"
