"""WebhookIntake: envelopes, dedupe, queueing, failure handling and the bad-input matrix."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rankr_ghl.flows.intake import (
    METRIC_ACCEPTED,
    METRIC_DUPLICATE,
    METRIC_ENQUEUE_FAILED,
    METRIC_REJECTED,
    METRIC_UNKNOWN_TYPE,
    EnqueueFailed,
    RawWebhookRequest,
    WebhookRejected,
    sqs_deduplication_id,
)
from rankr_ghl.flows.queue_message import parse_queued_message
from webhook_test_helpers import (
    APP_ID,
    LOCATION_ID,
    NOW,
    IntakeHarness,
    contact_event,
    iso,
    sign,
)


# ------------------------------------------------------------------------------------------ accepted
def test_flat_event_is_queued_with_group_and_dedup_id(harness: IntakeHarness) -> None:
    result = harness.intake.handle(harness.request(contact_event()))
    assert (result.outcome, result.status) == ("accepted", 202)
    (message,) = harness.queue.messages
    assert message.group_id == LOCATION_ID
    assert message.deduplication_id == "webhook:wh-0001"
    assert message.attributes == {
        "eventType": "ContactUpdate",
        "correlationId": "corr-1",
        "locationId": LOCATION_ID,
    }
    body = parse_queued_message(message.body)
    assert body["event"]["id"] == "contact0000000000001"
    assert body["correlationId"] == "corr-1"
    assert body["signatureScheme"] == "ed25519"
    assert harness.metrics.counts[(METRIC_ACCEPTED, None)] == 1


def test_data_wrapped_envelope_is_normalised(harness: IntakeHarness) -> None:
    wrapped = {
        "type": "TaskCreate",
        "timestamp": iso(NOW - 10),
        "webhookId": "wh-wrapped",
        "data": {"locationId": LOCATION_ID, "id": "task00000000000000001", "title": "Call", "appId": APP_ID},
    }
    harness.intake.handle(harness.request(wrapped))
    body = parse_queued_message(harness.queue.messages[0].body)
    assert body["eventType"] == "TaskCreate"
    assert body["event"]["id"] == "task00000000000000001"
    assert body["event"]["webhookId"] == "wh-wrapped"
    assert body["locationId"] == LOCATION_ID


def test_wrapped_type_inside_data_is_used(harness: IntakeHarness) -> None:
    wrapped = {"webhookId": "wh-in", "data": {"type": "NoteCreate", "locationId": LOCATION_ID, "id": "n1"}}
    assert harness.intake.handle(harness.request(wrapped)).outcome == "accepted"
    assert parse_queued_message(harness.queue.messages[0].body)["eventType"] == "NoteCreate"


def test_base64_encoded_body_is_decoded_before_verification(harness: IntakeHarness) -> None:
    result = harness.intake.handle(harness.request(contact_event(), base64_encoded=True))
    assert result.outcome == "accepted"


def test_non_ascii_body_verifies_over_exact_bytes(harness: IntakeHarness) -> None:
    raw = json.dumps(contact_event(firstName="Zoë 名前"), ensure_ascii=False).encode()
    assert harness.intake.handle(harness.request(raw)).outcome == "accepted"
    assert "Zoë 名前" in harness.queue.messages[0].body


def test_agency_install_groups_by_company(harness: IntakeHarness) -> None:
    event = {"type": "INSTALL", "appId": APP_ID, "companyId": "company0000000000001", "webhookId": "wh-i"}
    harness.intake.handle(harness.request(event))
    assert harness.queue.messages[0].group_id == "company0000000000001"
    assert harness.queue.messages[0].attributes["companyId"] == "company0000000000001"


def test_appointment_with_wrong_documented_type_is_accepted(harness: IntakeHarness) -> None:
    event = {"type": "AppointmentCreate", "locationId": LOCATION_ID, "appointment": {"id": "appt1"}}
    assert harness.intake.handle(harness.request(event)).outcome == "accepted"


def test_missing_webhook_id_dedupes_on_body_hash(harness: IntakeHarness) -> None:
    request = harness.request(contact_event(webhookId=None))
    assert harness.intake.handle(request).outcome == "accepted"
    assert harness.intake.handle(request).outcome == "duplicate"
    assert len(harness.queue.messages) == 1
    assert harness.queue.messages[0].deduplication_id.startswith("body:")


def test_missing_timestamp_is_accepted(harness: IntakeHarness) -> None:
    assert harness.intake.handle(harness.request(contact_event(timestamp=None))).outcome == "accepted"


def test_epoch_millis_timestamp_is_accepted(harness: IntakeHarness) -> None:
    result = harness.intake.handle(harness.request(contact_event(timestamp=int(NOW * 1000) - 5000)))
    assert result.outcome == "accepted"


def test_foreign_app_check_skipped_when_app_id_not_configured(
    make_harness: Callable[..., IntakeHarness],
) -> None:
    from rankr_ghl.flows.intake import IntakeConfig

    h = make_harness()
    object.__setattr__(h.intake, "_config", IntakeConfig(app_id=None))
    assert h.intake.handle(h.request(contact_event(appId="someoneelse"))).outcome == "accepted"


# ---------------------------------------------------------------------------------------- duplicates
def test_same_webhook_id_three_times_enqueues_once(harness: IntakeHarness) -> None:
    outcomes = [harness.intake.handle(harness.request(contact_event())).outcome for _ in range(3)]
    assert outcomes == ["accepted", "duplicate", "duplicate"]
    assert len(harness.queue.messages) == 1
    assert harness.metrics.counts[(METRIC_DUPLICATE, None)] == 2


def test_unknown_type_is_acknowledged_not_queued(harness: IntakeHarness) -> None:
    result = harness.intake.handle(harness.request(contact_event(type="OpportunityCreate")))
    assert (result.outcome, result.status) == ("ignored", 202)
    assert harness.queue.messages == []
    assert harness.dedupe.claims == {}
    assert harness.metrics.counts[(METRIC_UNKNOWN_TYPE, None)] == 1


# ------------------------------------------------------------------------------------------ failures
def test_enqueue_failure_releases_claim_and_allows_retry(harness: IntakeHarness) -> None:
    harness.queue.fail = True
    with pytest.raises(EnqueueFailed):
        harness.intake.handle(harness.request(contact_event()))
    assert harness.dedupe.released == ["webhook:wh-0001"]
    assert harness.metrics.counts[(METRIC_ENQUEUE_FAILED, None)] == 1
    harness.queue.fail = False
    assert harness.intake.handle(harness.request(contact_event())).outcome == "accepted"
    assert len(harness.queue.messages) == 1


def test_dedupe_store_failure_is_retryable_and_nothing_queued(harness: IntakeHarness) -> None:
    harness.dedupe.fail = True
    with pytest.raises(EnqueueFailed) as err:
        harness.intake.handle(harness.request(contact_event()))
    assert err.value.reason == "dedupe_unavailable"
    assert harness.queue.messages == []


def test_sqs_dedup_id_hashes_unsafe_ids() -> None:
    assert sqs_deduplication_id("webhook:abc-123") == "webhook:abc-123"
    hashed = sqs_deduplication_id("webhook:" + "é" * 10)
    assert hashed.startswith("h:") and len(hashed) <= 128
    assert sqs_deduplication_id("webhook:" + "x" * 200).startswith("h:")


# ---------------------------------------------------------------------------------- bad-input matrix
def _raw(h: IntakeHarness, raw: bytes, **kwargs: Any) -> RawWebhookRequest:
    return h.request(raw, **kwargs)


def _resigned(key: Ed25519PrivateKey, raw: bytes) -> dict[str, str]:
    return {"x-ghl-signature": sign(key, raw)}


def _case_forged(h: IntakeHarness) -> RawWebhookRequest:
    good = json.dumps(contact_event()).encode()
    return _raw(h, good.replace(b"Ada", b"Eve"), signature=sign(h.key, good))


def _case_wrong_key(h: IntakeHarness) -> RawWebhookRequest:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = json.dumps(contact_event()).encode()
    return _raw(h, raw, signature=sign(Ed25519PrivateKey.generate(), raw))


def _case_reserialised(h: IntakeHarness) -> RawWebhookRequest:
    # Signed over one pretty form, sent in another: neither the raw bytes nor the canonical compact
    # form were signed (a compact-signed body sent pretty is accepted: test_webhook_signature_forms).
    signed = json.dumps(contact_event(), indent=2).encode()
    wire = json.dumps(contact_event(), indent=4).encode()
    return _raw(h, wire, signature=sign(h.key, signed))


def _case_truncated(h: IntakeHarness) -> RawWebhookRequest:
    raw = json.dumps(contact_event()).encode()
    return _raw(h, raw[:-5], signature=sign(h.key, raw))


def _case_truncated_resigned(h: IntakeHarness) -> RawWebhookRequest:
    return _raw(h, json.dumps(contact_event()).encode()[:-5])  # signed, but not JSON


def _case_b64_invalid(h: IntakeHarness) -> RawWebhookRequest:
    raw = json.dumps(contact_event()).encode()
    return RawWebhookRequest(
        body="%%%not-base64%%%",
        headers={"x-ghl-signature": sign(h.key, raw), "content-type": "application/json"},
        is_base64_encoded=True,
    )


def _case_b64_bad_padding(h: IntakeHarness) -> RawWebhookRequest:
    raw = json.dumps(contact_event()).encode()
    raw += b" " * ((1 - len(raw)) % 3)  # len % 3 == 1: the encoding ends in "=="
    encoded = base64.b64encode(raw).decode()
    assert encoded.endswith("==")
    encoded = encoded[:-2]  # API Gateway never strips padding; a proxy that does is refused
    return RawWebhookRequest(
        body=encoded,
        headers={"x-ghl-signature": sign(h.key, raw), "content-type": "application/json"},
        is_base64_encoded=True,
    )


def _case_b64_flag_missing(h: IntakeHarness) -> RawWebhookRequest:
    raw = json.dumps(contact_event()).encode()
    return RawWebhookRequest(
        body=base64.b64encode(raw).decode(),
        headers={"x-ghl-signature": sign(h.key, raw), "content-type": "application/json"},
        is_base64_encoded=False,
    )


def _case_b64_of_garbage_signed(h: IntakeHarness) -> RawWebhookRequest:
    return h.request(b"\xff\xfe\x00garbage", base64_encoded=True)


def _case_oversized(h: IntakeHarness) -> RawWebhookRequest:
    return h.request(contact_event(firstName="x" * (200 * 1024)))


def _case_oversized_b64(h: IntakeHarness) -> RawWebhookRequest:
    return h.request(contact_event(firstName="x" * (200 * 1024)), base64_encoded=True)


def _case_wrong_content_type(h: IntakeHarness) -> RawWebhookRequest:
    return h.request(contact_event(), headers={"content-type": "text/plain"})


def _case_form_content(h: IntakeHarness) -> RawWebhookRequest:
    return h.request(
        b"type=ContactUpdate&id=1", headers={"content-type": "application/x-www-form-urlencoded"}
    )


CaseBuilder = Callable[[IntakeHarness], RawWebhookRequest]

BAD_INPUT: list[tuple[str, CaseBuilder, int, str]] = [
    ("forged body", _case_forged, 401, "invalid_signature"),
    ("wrong key", _case_wrong_key, 401, "invalid_signature"),
    ("re-serialised whitespace", _case_reserialised, 401, "invalid_signature"),
    ("truncated body", _case_truncated, 401, "invalid_signature"),
    ("truncated but signed", _case_truncated_resigned, 400, "invalid_json"),
    ("missing signature", lambda h: h.request(contact_event(), signature=None), 401, "missing_signature"),
    ("N/A signature", lambda h: h.request(contact_event(), signature="N/A"), 401, "missing_signature"),
    (
        "signature not base64",
        lambda h: h.request(contact_event(), signature="***"),
        401,
        "malformed_signature",
    ),
    (
        "signature wrong length",
        lambda h: h.request(contact_event(), signature="YWJj"),
        401,
        "malformed_signature",
    ),
    (
        "only retired RSA header",
        lambda h: h.request(contact_event(), signature=None, headers={"x-wh-signature": "YWJj"}),
        401,
        "legacy_signature_disabled",
    ),
    (
        "older than the dedupe marker lives",
        lambda h: h.request(contact_event(timestamp=iso(NOW - 49 * 3600))),
        400,
        "stale_timestamp",
    ),
    (
        "future timestamp",
        lambda h: h.request(contact_event(timestamp=iso(NOW + 301))),
        400,
        "future_timestamp",
    ),
    (
        "garbage timestamp",
        lambda h: h.request(contact_event(timestamp="yesterday-ish")),
        400,
        "invalid_timestamp",
    ),
    ("boolean timestamp", lambda h: h.request(contact_event(timestamp=True)), 400, "invalid_timestamp"),
    ("oversized body", _case_oversized, 413, "body_too_large"),
    ("oversized base64 body", _case_oversized_b64, 413, "body_too_large"),
    ("empty body", lambda h: h.request(b""), 400, "empty_body"),
    ("absent body", lambda h: h.request(None), 400, "empty_body"),
    ("non-JSON body", lambda h: h.request(b"hello, GHL"), 400, "invalid_json"),
    ("invalid UTF-8", lambda h: h.request(b'{"type":"\xff"}'), 400, "invalid_json"),
    ("NaN constant", lambda h: h.request(b'{"type":"ContactUpdate","x":NaN}'), 400, "invalid_json"),
    ("deep nesting", lambda h: h.request(b"[" * 90_000 + b"]" * 90_000), 400, "invalid_json"),
    ("JSON array", lambda h: h.request(b"[1,2,3]"), 400, "invalid_envelope"),
    ("JSON string", lambda h: h.request(b'"ContactUpdate"'), 400, "invalid_envelope"),
    ("JSON null", lambda h: h.request(b"null"), 400, "invalid_envelope"),
    ("isBase64Encoded invalid base64", _case_b64_invalid, 400, "invalid_base64"),
    ("isBase64Encoded bad padding", _case_b64_bad_padding, 400, "invalid_base64"),
    ("base64 body without the flag", _case_b64_flag_missing, 401, "invalid_signature"),
    ("base64 of non-JSON bytes", _case_b64_of_garbage_signed, 400, "invalid_json"),
    ("foreign appId", lambda h: h.request(contact_event(appId="otherapp")), 403, "foreign_app"),
    ("missing type", lambda h: h.request(contact_event(type=None)), 422, "missing_type"),
    ("empty type", lambda h: h.request(contact_event(type="  ")), 422, "missing_type"),
    ("numeric type", lambda h: h.request(contact_event(type=7)), 422, "missing_type"),
    ("huge type", lambda h: h.request(contact_event(type="X" * 500)), 422, "invalid_type"),
    ("missing locationId", lambda h: h.request(contact_event(locationId=None)), 422, "missing_location"),
    (
        "injection in locationId",
        lambda h: h.request(contact_event(locationId="loc#1/../other")),
        422,
        "invalid_location_id",
    ),
    (
        "non-string locationId",
        lambda h: h.request(contact_event(locationId=["a"])),
        422,
        "invalid_location_id",
    ),
    ("missing entity id", lambda h: h.request(contact_event(id=None)), 422, "missing_entity_id"),
    (
        "appointment without id",
        lambda h: h.request({"type": "AppointmentUpdate", "locationId": LOCATION_ID, "appointment": {}}),
        422,
        "missing_entity_id",
    ),
    ("numeric webhookId", lambda h: h.request(contact_event(webhookId=12345)), 422, "invalid_webhook_id"),
    ("empty webhookId", lambda h: h.request(contact_event(webhookId="")), 422, "invalid_webhook_id"),
    ("text/plain content", _case_wrong_content_type, 415, "unsupported_media_type"),
    ("form content", _case_form_content, 415, "unsupported_media_type"),
    (
        "uninstall without location or company",
        lambda h: h.request({"type": "UNINSTALL", "appId": APP_ID}),
        422,
        "missing_location",
    ),
]


def test_bad_input_matrix_has_enough_cases() -> None:
    assert len(BAD_INPUT) >= 25


@pytest.mark.parametrize(("name", "build", "status", "reason"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_rejected_with_clear_reason(
    harness: IntakeHarness, name: str, build: CaseBuilder, status: int, reason: str
) -> None:
    request = build(harness)
    with pytest.raises(WebhookRejected) as err:
        harness.intake.handle(request)
    assert (err.value.status, err.value.reason) == (status, reason), name
    assert 400 <= err.value.status < 500
    assert err.value.detail
    assert harness.queue.messages == []
    assert harness.dedupe.claims == {}
    assert harness.metrics.counts[(METRIC_REJECTED, reason)] == 1
