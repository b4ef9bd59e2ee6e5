from __future__ import annotations

import pytest
from rankr_ghl.sync import transforms as tf


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(555) 123-4567", "+1", "+15551234567"),
        ("555.123.4567", "+1", "+15551234567"),
        ("1-555-123-4567", "+1", "+15551234567"),
        ("+1 555 123 4567", "+1", "+15551234567"),
        ("+44 20 7946 0958", "+1", "+442079460958"),
        ("0044 20 7946 0958", "+1", "+442079460958"),
        ("07700 900123", "+44", "+447700900123"),
        ("030 123456", "+49", "+4930123456"),
        ("(555) 123-4567 ext. 89", "+1", "+15551234567"),
        ("12345", "+1", "12345"),  # too short: kept as typed
        ("call me", "+1", "call me"),
        ("  ", "+1", None),
    ],
)
def test_e164(raw: str, region: str, expected: str | None) -> None:
    assert tf.e164(raw, region) == expected


def test_e164_is_idempotent() -> None:
    for raw in ["(555) 123-4567", "+44 20 7946 0958", "07700 900123"]:
        once = tf.e164(raw, "+44")
        assert tf.e164(once, "+44") == once


def test_trim_lowercase_tags_bool_datetime() -> None:
    assert tf.trim("  Mary   Ann ") == "Mary Ann"
    assert tf.trim("   ") is None
    assert tf.lowercase("A@B.COM") == "a@b.com"
    assert tf.normalise_tags([" VIP", "vip", "Lead ", "", None]) == ["lead", "vip"]
    assert tf.normalise_tags(None) == []
    assert tf.to_bool("true") is True and tf.to_bool(0) is False
    assert tf.iso_datetime("2021-07-16 11:00:00") == "2021-07-16T11:00:00Z"
    assert tf.iso_datetime("2021-07-16T13:00:00+02:00") == "2021-07-16T11:00:00Z"
    assert tf.iso_datetime("2021-07-16T11:00:00.123Z") == "2021-07-16T11:00:00Z"
    assert tf.iso_datetime("2021-07-16") == "2021-07-16"
    assert tf.iso_datetime("not a date") == "not a date"


def test_split_and_join_names() -> None:
    assert tf.split_full_name(" Mary  Ann Smith ") == ("Mary", "Ann Smith")
    assert tf.split_full_name("Cher") == ("Cher", None)
    assert tf.split_full_name("") == (None, None)
    assert tf.join_name(" Mary ", None) == "Mary"
    assert tf.join_name("Mary", "Smith") == "Mary Smith"
    assert tf.join_name(None, None) is None


def test_lead_marker_tags_are_the_connectors_not_the_users() -> None:
    """`rankr-lead:<id>` marks a lead's GHL contact for lead push; it never reaches Rankr."""
    from rankr_ghl.sync.mapping import default_mapping
    from rankr_ghl.sync.transforms import normalise_tags
    from rankr_ghl.sync.types import Entity, Side

    assert normalise_tags(["VIP", "rankr-lead:lead-1", "Rankr-Lead:LEAD-2"]) == ["vip"]
    contacts = default_mapping().for_entity(Entity.CONTACT)
    canonical = contacts.canonical(Side.GHL, {"id": "c1", "tags": ["vip", "rankr-lead:lead-1"]})
    assert contacts.to_rankr(canonical)["tags"] == ["vip"]
    # Writing the user's tags back to GHL never removes the marker.
    write = contacts.to_ghl(canonical, mode="update", current=canonical)
    assert write.tags_to_remove == []
