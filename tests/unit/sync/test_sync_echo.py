from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fakes import InMemoryLedgerStore
from rankr_ghl.sync import diff
from rankr_ghl.sync.conflict import resolve
from rankr_ghl.sync.echo import Action, decide, is_echo, load_ledgers, reconcile_pair
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import default_mapping, load_mapping
from rankr_ghl.sync.types import ConflictPolicy, Entity, Side

M = default_mapping().contact
T1 = datetime(2025, 1, 1, tzinfo=UTC)
T2 = datetime(2025, 1, 2, tzinfo=UTC)
BASE = {
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann@x.com",
    "phone": "+15551234567",
    "company": "Acme",
    "tags": ["vip"],
    "source": None,
}


def entry(side: Side, canonical: dict, origin: str = "write"):
    return ledger_entry(
        "L", Entity.CONTACT, side, f"{side.value}-1", canonical=canonical, mapping=M, origin=origin
    )  # type: ignore[arg-type]


def test_echo_of_our_write_is_skipped_and_real_edit_is_not() -> None:
    written = {**BASE, "email": "new@x.com"}
    led = entry(Side.GHL, written)
    d = decide(
        Side.GHL,
        dict(written),
        written,
        ledger_current=led,
        ledger_other=entry(Side.RANKR, written, "observed"),
        mapping=M,
    )
    assert (
        d.action is Action.SKIP_ECHO
        and d.ledger_entries("L", Entity.CONTACT, change_id="g", other_id="r") == []
    )
    assert is_echo(written, led, M, Side.GHL)
    edited = {**written, "phone": "+15550000000"}
    d = decide(
        Side.GHL, edited, written, ledger_current=led, ledger_other=entry(Side.RANKR, written), mapping=M
    )
    assert d.action is Action.WRITE and d.fields_changed == ("phone",)
    assert d.rankr_body(M) == {"phone": "+15550000000"}


def test_observed_baseline_is_not_an_echo_but_a_noop() -> None:
    led = entry(Side.GHL, BASE, origin="observed")
    d = decide(Side.GHL, BASE, BASE, ledger_current=led, ledger_other=entry(Side.RANKR, BASE), mapping=M)
    assert d.action is Action.NOOP_IN_SYNC and d.reason == "unchanged"


def test_create_when_counterpart_missing() -> None:
    d = decide(Side.RANKR, {**BASE, "source": None}, None, ledger_current=None, ledger_other=None, mapping=M)
    assert d.action is Action.WRITE and d.is_create
    write = d.ghl_write(M)
    assert write.body["companyName"] == "Acme" and write.body["tags"] == ["vip"]
    entries = d.ledger_entries("L", Entity.CONTACT, change_id="r", other_id="g", at=T1)
    assert {(e.side, e.origin) for e in entries} == {(Side.RANKR, "observed"), (Side.GHL, "write")}
    ghl_entry = next(e for e in entries if e.side is Side.GHL)
    assert ghl_entry.digest == entry(Side.GHL, BASE).digest  # echo of the create will match


def test_other_side_change_is_held_not_overwritten() -> None:
    # GHL edited phone, Rankr edited email; the Rankr event must not push Rankr's stale phone.
    ghl = {**BASE, "phone": "+15550000000"}
    rankr = {**BASE, "email": "b@x.com"}
    d = decide(
        Side.RANKR,
        rankr,
        ghl,
        ledger_current=entry(Side.RANKR, BASE, "observed"),
        ledger_other=entry(Side.GHL, BASE),
        mapping=M,
    )
    assert d.fields_changed == ("email",) and d.held_back == ("phone",)
    # After our write, GHL's own phone change must still look like a change, not our echo.
    after = {**ghl, "email": "b@x.com"}
    ghl_entry = next(
        e for e in d.ledger_entries("L", Entity.CONTACT, change_id="r", other_id="g") if e.side is Side.GHL
    )
    follow = decide(
        Side.GHL,
        after,
        rankr | {"email": "b@x.com"},
        ledger_current=ghl_entry,
        ledger_other=entry(Side.RANKR, rankr, "observed"),
        mapping=M,
    )
    assert follow.action is Action.WRITE and follow.fields_changed == ("phone",)


@pytest.mark.parametrize(
    ("policy", "ghl_ts", "rankr_ts", "winner"),
    [
        (ConflictPolicy.NEWER_WINS, T2, T1, Side.GHL),
        (ConflictPolicy.NEWER_WINS, T1, T2, Side.RANKR),
        (ConflictPolicy.NEWER_WINS, T1, T1, Side.GHL),  # tie -> tie breaker
        (ConflictPolicy.NEWER_WINS, None, T1, Side.GHL),  # no timestamp -> tie breaker
        (ConflictPolicy.GHL_WINS, T1, T2, Side.GHL),
        (ConflictPolicy.RANKR_WINS, T2, T1, Side.RANKR),
    ],
)
def test_conflict_policies(policy, ghl_ts, rankr_ts, winner) -> None:
    assert resolve("email", policy, ghl_ts=ghl_ts, rankr_ts=rankr_ts).winner is winner


def test_both_changed_same_field_follows_field_policy() -> None:
    doc = default_mapping().document.to_json()
    doc["contact"]["fields"][0]["conflict"] = "rankr_wins"  # email
    m = load_mapping(doc).contact
    ghl, rankr = {**BASE, "email": "g@x.com"}, {**BASE, "email": "r@x.com"}
    lg, lr = entry(Side.GHL, BASE), entry(Side.RANKR, BASE, "observed")
    from_ghl = decide(
        Side.GHL, ghl, rankr, ledger_current=lg, ledger_other=lr, mapping=m, current_ts=T2, other_ts=T1
    )
    from_rankr = decide(
        Side.RANKR, rankr, ghl, ledger_current=lr, ledger_other=lg, mapping=m, current_ts=T1, other_ts=T2
    )
    assert from_ghl.action is Action.NOOP_IN_SYNC and from_ghl.conflicts[0].winner is Side.RANKR
    assert from_rankr.fields_changed == ("email",)
    # newer_wins (default) picks GHL, the newer record, whichever side is processed.
    from_ghl = decide(
        Side.GHL, ghl, rankr, ledger_current=lg, ledger_other=lr, mapping=M, current_ts=T2, other_ts=T1
    )
    from_rankr = decide(
        Side.RANKR, rankr, ghl, ledger_current=lr, ledger_other=lg, mapping=M, current_ts=T1, other_ts=T2
    )
    assert from_ghl.fields_changed == ("email",) and from_rankr.action is Action.NOOP_IN_SYNC


def test_reconcile_pair_never_writes_a_field_both_ways() -> None:
    ghl = {**BASE, "email": "g@x.com", "phone": "+15550000000"}
    rankr = {**BASE, "email": "r@x.com", "first_name": "Annie"}
    plan = reconcile_pair(
        ghl,
        rankr,
        entry(Side.GHL, BASE),
        entry(Side.RANKR, BASE, "observed"),
        M,
        ghl_ts=T2,
        rankr_ts=T1,
        location_id="L",
        ghl_id="g",
        rankr_id="r",
    )
    assert set(plan.to_rankr.fields_changed) == {"email", "phone"}
    assert plan.to_ghl.fields_changed == ("first_name",)
    assert not set(plan.to_rankr.fields_changed) & set(plan.to_ghl.fields_changed)
    same = reconcile_pair(BASE, BASE, entry(Side.GHL, BASE), entry(Side.RANKR, BASE, "observed"), M)
    assert same.in_sync


def test_an_unfinished_writers_pair_carries_one_sided_changes_and_holds_the_rest() -> None:
    """A lead push's link base: GHL's contact without the lead's tags (their write is pending), the lead
    with them. A one-sided edit is carried; the tags, changed on neither side, are held for the push
    instead of going to the newer record (GHL's), which would strip them from the lead."""
    ghl_base, rankr_base = {**BASE, "tags": []}, BASE
    ghl_now, rankr_now = {**ghl_base, "source": "web"}, {**rankr_base, "last_name": "Byron"}
    ledgers = (entry(Side.GHL, ghl_base), entry(Side.RANKR, rankr_base, "observed"))
    held = reconcile_pair(ghl_now, rankr_now, *ledgers, M, ghl_ts=T2, rankr_ts=T1, hold_unchanged=True)
    assert held.to_rankr.fields_changed == ("source",) and held.to_ghl.fields_changed == ("last_name",)
    by_time = reconcile_pair(ghl_now, rankr_now, *ledgers, M, ghl_ts=T2, rankr_ts=T1)
    assert "tags" in by_time.to_rankr.fields_changed


def test_ledger_helpers_and_digests() -> None:
    store = InMemoryLedgerStore()
    store.put(entry(Side.GHL, BASE))
    g, r = load_ledgers(store, "L", Entity.CONTACT, ghl_id="ghl-1", rankr_id=None)
    assert g is not None and r is None
    assert diff.changed_fields(BASE, {**BASE, "email": "z@x.com", "tags": ["b"]}) == ["email", "tags"]
    assert diff.equal(None, None) and not diff.equal("", None)


def test_echo_still_settles_a_field_whose_baselines_disagree() -> None:
    # Rankr went Lee -> Ng -> Lee while GHL's "Lee Smith" lost a conflict: both look unchanged.
    ghl = {**BASE, "last_name": "Lee Smith"}
    led_ghl = entry(Side.GHL, ghl, "observed")
    led_rankr = entry(Side.RANKR, BASE, "write")
    d = decide(
        Side.RANKR,
        BASE,
        ghl,
        ledger_current=led_rankr,
        ledger_other=led_ghl,
        mapping=M,
        current_ts=T2,
        other_ts=T1,
    )
    assert d.action is Action.WRITE and d.reason == "drift" and d.fields_changed == ("last_name",)
