"""The chaos bench's version-2 comparisons (pure functions): each counter counts what it must, only that."""

from __future__ import annotations

from rankr_ghl_tools.chaos.convergence import (
    ChildSides,
    LeadChildren,
    Pair,
    child_mismatches,
    children_lost,
    children_written_twice,
    duplicates_by_key,
    echoed_children,
    extra_records,
    false_deletes,
    pairs_to_check,
    reverts_lost,
)


# -- false deletes ------------------------------------------------------------------------------------------
def _false_deletes(**overrides: object) -> list[str]:
    arguments: dict[str, object] = {
        "ghl_live": {"g1", "g2", "g3"},
        "rankr_live": {"r1", "r2", "r3"},
        "deleted_by_workload": set(),
    }
    arguments.update(overrides)
    pairs = [Pair("g1", "r1"), Pair("g2", "r2"), Pair("g3", "r3")]
    return false_deletes(pairs, **arguments)  # type: ignore[arg-type]


def test_live_pairs_are_no_false_delete() -> None:
    assert _false_deletes() == []


def test_a_rankr_record_deleted_while_its_ghl_twin_lives_is_a_false_delete() -> None:
    problems = _false_deletes(rankr_live={"r1", "r3"})
    assert len(problems) == 1 and "g2/r2" in problems[0] and "Rankr deleted" in problems[0]


def test_a_ghl_record_gone_or_marked_deleted_by_the_connector_is_a_false_delete() -> None:
    assert len(_false_deletes(ghl_live={"g1", "g2"})) == 1
    marked = _false_deletes(ghl_marked_deleted={"g1"}, rankr_live={"r2", "r3"})
    assert len(marked) == 1 and "GHL marked deleted" in marked[0] and "Rankr deleted" in marked[0]


def test_deletes_the_workload_made_are_the_sync_doing_its_job() -> None:
    assert _false_deletes(ghl_live={"g1"}, rankr_live={"r1", "r3"}, deleted_by_workload={"g2", "g3"}) == []


def test_a_vanished_mapping_is_still_judged_unless_its_records_were_re_paired() -> None:
    final = [Pair("g1", "r1")]
    earlier = [Pair("g1", "r1"), Pair("g2", "r2"), Pair("g9", "r1")]
    assert pairs_to_check(final, earlier) == [Pair("g1", "r1"), Pair("g2", "r2")]


# -- twins --------------------------------------------------------------------------------------------------
def test_records_no_workload_step_made_are_twins() -> None:
    assert extra_records(["r1", "r2"], {"r1", "r2"}, label="Rankr contact") == []
    twins = extra_records(["r1", "r2", "rX"], {"r1", "r2"}, label="Rankr contact")
    assert len(twins) == 1 and "rX" in twins[0]


def test_records_sharing_a_unique_key_count_once_per_extra() -> None:
    keys = {
        "g1": "rankr-lead:a",
        "g2": "rankr-lead:a",
        "g3": "rankr-lead:a",
        "g4": "rankr-lead:b",
        "g5": None,
    }
    problems = duplicates_by_key(keys, label="GHL contact")
    assert len(problems) == 2 and all("rankr-lead:a" in p for p in problems)
    assert duplicates_by_key({"g1": "k1", "g2": "k2", "g3": None, "g4": None}, label="x") == []


def test_a_lead_child_written_twice_is_counted() -> None:
    expected = {"g1": LeadChildren("L1", note_body="n1", task_title="t1")}
    once = children_written_twice(
        expected, ghl_note_bodies={"g1": ["n1", "other"]}, ghl_task_titles={"g1": ["t1"]}
    )
    assert once == []
    twice = children_written_twice(
        expected, ghl_note_bodies={"g1": ["n1", "n1"]}, ghl_task_titles={"g1": ["t1"]}
    )
    assert len(twice) == 1 and "note written 2 times" in twice[0]


def test_a_lead_child_mirrored_back_into_rankr_is_an_echo_twin() -> None:
    lead_notes = {"L1": "Lead note L1"}
    assert echoed_children({"L1": ["something else"], "L2": ["Lead note L1"]}, lead_notes, label="note") == []
    echoes = echoed_children({"L1": ["Lead note L1"]}, lead_notes, label="note")
    assert len(echoes) == 1 and "L1" in echoes[0]


# -- children lost ------------------------------------------------------------------------------------------
def _children(**overrides: object) -> list[str]:
    arguments: dict[str, object] = {
        "ghl_tags": {"g1": ["chaos", "VIP"]},
        "ghl_note_bodies": {"g1": ["n1"]},
        "ghl_task_titles": {"g1": ["t1"]},
    }
    arguments.update(overrides)
    expected = {"g1": LeadChildren("L1", tags=("chaos", "vip"), note_body="n1", task_title="t1")}
    return children_lost(expected, **arguments)  # type: ignore[arg-type]


def test_all_children_present_is_nothing_lost_whatever_the_tag_case() -> None:
    assert _children() == []


def test_each_missing_child_is_counted() -> None:
    assert len(_children(ghl_tags={"g1": ["chaos"]})) == 1
    assert len(_children(ghl_note_bodies={"g1": []})) == 1
    assert len(_children(ghl_task_titles={})) == 1
    assert len(_children(ghl_tags={"g1": []}, ghl_note_bodies={}, ghl_task_titles={})) == 3


def test_replaced_tags_and_deleted_contacts_are_not_judged() -> None:
    assert _children(ghl_tags={"g1": ["other"]}, tags_replaced={"g1"}) == []
    assert _children(ghl_tags={}, ghl_note_bodies={}, ghl_task_titles={}) == []


# -- reverts ------------------------------------------------------------------------------------------------
def test_a_revert_lost_when_ghl_keeps_the_intermediate_payload() -> None:
    expected = {"g1": {"last_name": "Hopper"}, "g2": {"last_name": "Knuth"}}
    observed = {"g1": {"last_name": "Hopper"}, "g2": {"last_name": "Reverted1"}}
    problems = reverts_lost(expected, observed, when="now")
    assert len(problems) == 1 and "g2" in problems[0]
    assert (
        reverts_lost(expected, {"g1": {"last_name": "Hopper"}, "g2": {"last_name": "Knuth"}}, when="now")
        == []
    )
    assert len(reverts_lost(expected, {"g1": {"last_name": "Hopper"}}, when="now")) == 1


# -- notes and tasks one for one ----------------------------------------------------------------------------
def test_children_matching_one_for_one_are_no_mismatch() -> None:
    sides = ChildSides(ghl={"g1": ["a", "b", "lead"]}, rankr={"r1": ["b", "a"]})
    assert child_mismatches([Pair("g1", "r1")], sides, label="note", ghl_only={"g1": ["lead"]}) == []


def test_a_child_missing_or_extra_on_either_side_is_a_mismatch() -> None:
    pairs = [Pair("g1", "r1")]
    missing = child_mismatches(pairs, ChildSides(ghl={"g1": ["a", "b"]}, rankr={"r1": ["a"]}), label="note")
    assert len(missing) == 1 and "GHL has 'b'" in missing[0]
    extra = child_mismatches(pairs, ChildSides(ghl={"g1": ["a"]}, rankr={"r1": ["a", "a"]}), label="task")
    assert len(extra) == 1 and "Rankr has 'a'" in extra[0]
    differing = child_mismatches(pairs, ChildSides(ghl={"g1": ["a"]}, rankr={"r1": ["a2"]}), label="note")
    assert len(differing) == 2


def test_a_lead_child_echoed_into_rankr_is_a_mismatch() -> None:
    sides = ChildSides(ghl={"g1": ["lead"]}, rankr={"r1": ["lead"]})
    assert len(child_mismatches([Pair("g1", "r1")], sides, label="note", ghl_only={"g1": ["lead"]})) == 1
