"""The signature stays strict, but a body whose bytes on the wire differ from the compact JSON GHL
signed (pretty-printed, ASCII-escaped) verifies through its canonical form, and the form is recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rankr_ghl.flows.intake import METRIC_SIGNATURE_FORM, WebhookRejected
from rankr_ghl.ghl.signatures import SignatureError, SignatureVerifier, compact_json
from webhook_test_helpers import IntakeHarness, contact_event, sign

EVENT: dict[str, Any] = {"type": "ContactCreate", "locationId": "loc1", "firstName": "Zoë", "note": "a/b <c>"}
SIGNED = json.dumps(EVENT, separators=(",", ":"), ensure_ascii=False).encode()
WIRE = {
    "compact": SIGNED,
    "pretty": json.dumps(EVENT, indent=2, ensure_ascii=False).encode(),
    "ascii_escaped": json.dumps(EVENT, separators=(",", ":"), ensure_ascii=True).encode(),
}


@pytest.mark.parametrize(
    ("wire_format", "form"),
    [("compact", "raw"), ("pretty", "compact_json"), ("ascii_escaped", "compact_json")],
)
def test_each_wire_format_verifies_and_says_which_form_matched(
    verifier: SignatureVerifier, signing_key: Ed25519PrivateKey, wire_format: str, form: str
) -> None:
    verified = verifier.verify(WIRE[wire_format], {"x-ghl-signature": sign(signing_key, SIGNED)})
    assert verified.form == form


@pytest.mark.parametrize("wire_format", sorted(WIRE))
def test_a_changed_document_never_verifies_in_any_form(
    verifier: SignatureVerifier, signing_key: Ed25519PrivateKey, wire_format: str
) -> None:
    tampered = WIRE[wire_format].replace(b"a/b", b"a/c")
    assert tampered != WIRE[wire_format]
    with pytest.raises(SignatureError) as err:
        verifier.verify(tampered, {"x-ghl-signature": sign(signing_key, SIGNED)})
    assert err.value.reason == "invalid_signature"


def test_a_signature_by_another_key_fails_in_both_forms(
    verifier: SignatureVerifier, other_key: Ed25519PrivateKey
) -> None:
    with pytest.raises(SignatureError):
        verifier.verify(WIRE["pretty"], {"x-ghl-signature": sign(other_key, SIGNED)})


def test_compact_json_is_none_for_non_json_and_for_compact_bodies() -> None:
    assert compact_json(b"not json") is None
    assert compact_json(SIGNED) is None
    assert compact_json(b'{"a": NaN}') is None
    assert compact_json(WIRE["pretty"]) == SIGNED


def test_the_intake_records_the_form_once_per_container(harness: IntakeHarness) -> None:
    for n in range(3):
        event = contact_event(webhookId=f"wh-form-{n}")
        signed = json.dumps(event, separators=(",", ":")).encode()
        request = harness.request(json.dumps(event, indent=2), signature=sign(harness.key, signed))
        assert harness.intake.handle(request).outcome == "accepted"
    assert harness.metrics.counts[(METRIC_SIGNATURE_FORM, "compact_json")] == 1
    assert harness.intake.handle(harness.request(contact_event(webhookId="wh-raw"))).outcome == "accepted"
    assert harness.metrics.counts[(METRIC_SIGNATURE_FORM, "raw")] == 1


def test_the_intake_still_refuses_a_pretty_body_signed_by_nobody(harness: IntakeHarness) -> None:
    event = contact_event(webhookId="wh-forged")
    with pytest.raises(WebhookRejected) as info:
        harness.intake.handle(
            harness.request(json.dumps(event, indent=2), signature=sign(harness.key, b"{}"))
        )
    assert info.value.status == 401
