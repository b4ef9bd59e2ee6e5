"""GHL's retries are accepted exactly once over the whole retry horizon, and a claim never strands a
delivery: the claim is a short lease that only a successful enqueue extends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakes.metrics import CountingMetrics
from rankr_ghl.flows.intake import (
    DEFAULT_DEDUPE_TTL_S,
    DEFAULT_RETRY_HORIZON_S,
    METRIC_CLAIM_EXTEND_FAILED,
    EnqueueFailed,
    IntakeConfig,
    QueuedWebhook,
    WebhookIntake,
    WebhookRejected,
)
from rankr_ghl.ghl.signatures import SignatureVerifier
from webhook_test_helpers import (
    APP_ID,
    NOW,
    FakeQueue,
    IntakeHarness,
    contact_event,
    iso,
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class LeasedDedupe:
    """Claims with an expiry on a shared clock, like the DynamoDB marker with its TTL condition."""

    clock: Clock
    expires: dict[str, float] = field(default_factory=dict)
    fail_extend: bool = False

    def claim_once(self, key: str, ttl_s: int) -> bool:
        if self.expires.get(key, float("-inf")) > self.clock():
            return False
        self.expires[key] = self.clock() + ttl_s
        return True

    def extend(self, key: str, ttl_s: int) -> None:
        if self.fail_extend:
            raise ConnectionError("dynamodb unreachable")
        self.expires[key] = self.clock() + ttl_s

    def release(self, key: str) -> None:
        self.expires.pop(key, None)


class KilledBeforeSend(BaseException):
    """The Lambda runtime ending the invocation (timeout, OOM): no except clause of the intake runs."""


@dataclass
class KillableQueue(FakeQueue):
    kill_next: bool = False

    def send(self, message: QueuedWebhook) -> str:
        if self.kill_next:
            self.kill_next = False
            raise KilledBeforeSend
        return super().send(message)


@dataclass
class Harness:
    intake: WebhookIntake
    dedupe: LeasedDedupe
    queue: KillableQueue
    metrics: CountingMetrics
    clock: Clock
    signer: IntakeHarness


@pytest.fixture
def leased(signing_key: Ed25519PrivateKey, verifier: SignatureVerifier) -> Callable[..., Harness]:
    def build(**config: int) -> Harness:
        clock = Clock(NOW)
        dedupe, queue, metrics = LeasedDedupe(clock), KillableQueue(), CountingMetrics()
        intake = WebhookIntake(
            verifier=verifier,
            dedupe=dedupe,
            queue=queue,
            config=IntakeConfig(app_id=APP_ID, **config),
            metrics=metrics,
            clock=clock,
        )
        signer = IntakeHarness(intake, None, queue, metrics, signing_key)  # type: ignore[arg-type]
        return Harness(intake, dedupe, queue, metrics, clock, signer)

    return build


def test_a_30_minute_old_genuine_retry_is_accepted_once(leased: Callable[..., Harness]) -> None:
    h = leased()
    retry = h.signer.request(contact_event(timestamp=iso(NOW - 30 * 60), webhookId="wh-retry"))
    assert h.intake.handle(retry).outcome == "accepted"
    assert h.intake.handle(retry).outcome == "duplicate"
    assert len(h.queue.messages) == 1


def test_a_retry_at_the_end_of_the_horizon_is_accepted_and_a_replay_an_hour_later_is_a_duplicate(
    leased: Callable[..., Harness],
) -> None:
    h = leased()
    late = h.signer.request(contact_event(timestamp=iso(NOW - DEFAULT_RETRY_HORIZON_S), webhookId="wh-late"))
    assert h.intake.handle(late).outcome == "accepted"
    h.clock.now += 3600  # the same signed body, replayed later: the marker still stands
    with pytest.raises(WebhookRejected) as info:
        h.intake.handle(late)
    assert info.value.reason == "stale_timestamp"
    fresh_replay = h.signer.request(contact_event(timestamp=iso(NOW - 3600), webhookId="wh-late"))
    assert h.intake.handle(fresh_replay).outcome == "duplicate"
    assert len(h.queue.messages) == 1


def test_nothing_older_than_the_marker_is_accepted(leased: Callable[..., Harness]) -> None:
    h = leased()
    for age, webhook_id in ((DEFAULT_DEDUPE_TTL_S, "wh-old"), (DEFAULT_DEDUPE_TTL_S + 60, "wh-older")):
        with pytest.raises(WebhookRejected) as info:
            h.intake.handle(h.signer.request(contact_event(timestamp=iso(NOW - age), webhookId=webhook_id)))
        assert info.value.reason == "stale_timestamp"


def test_future_timestamps_are_refused_only_beyond_the_clock_skew(leased: Callable[..., Harness]) -> None:
    h = leased(clock_skew_s=120)
    assert h.intake.handle(h.signer.request(contact_event(timestamp=iso(NOW + 119)))).outcome == "accepted"
    with pytest.raises(WebhookRejected) as info:
        h.intake.handle(h.signer.request(contact_event(timestamp=iso(NOW + 121), webhookId="wh-ahead")))
    assert info.value.reason == "future_timestamp"


def test_the_dedupe_ttl_must_cover_the_horizon() -> None:
    with pytest.raises(ValueError, match="dedupe_ttl_s"):
        IntakeConfig(retry_horizon_s=7200, clock_skew_s=300, dedupe_ttl_s=7200)


def test_a_kill_between_claim_and_send_never_strands_the_delivery(leased: Callable[..., Harness]) -> None:
    h = leased(claim_lease_s=40)
    delivery = h.signer.request(contact_event(webhookId="wh-killed"))
    h.queue.kill_next = True
    with pytest.raises(KilledBeforeSend):
        h.intake.handle(delivery)
    assert h.queue.messages == []
    # GHL's retry during the lease meets the claim of the dead invocation (its answer is not 2xx, so GHL
    # retries again later) ...
    assert h.intake.handle(delivery).outcome == "duplicate"
    # ... and once the short lease has lapsed, the next retry is queued, exactly once.
    h.clock.now += 41
    assert h.intake.handle(delivery).outcome == "accepted"
    h.clock.now += 3600
    assert h.intake.handle(delivery).outcome == "duplicate"
    assert len(h.queue.messages) == 1


def test_a_successful_enqueue_extends_the_claim_to_the_dedupe_ttl(leased: Callable[..., Harness]) -> None:
    h = leased(claim_lease_s=40)
    h.intake.handle(h.signer.request(contact_event(webhookId="wh-ok")))
    assert h.dedupe.expires["webhook:wh-ok"] == NOW + DEFAULT_DEDUPE_TTL_S


def test_a_failed_extend_still_answers_accepted_and_is_counted(leased: Callable[..., Harness]) -> None:
    h = leased(claim_lease_s=40)
    h.dedupe.fail_extend = True
    assert h.intake.handle(h.signer.request(contact_event(webhookId="wh-x"))).outcome == "accepted"
    assert h.metrics.counts[(METRIC_CLAIM_EXTEND_FAILED, None)] == 1


def test_a_failed_send_releases_the_claim_at_once(leased: Callable[..., Harness]) -> None:
    h = leased()
    h.queue.fail = True
    delivery = h.signer.request(contact_event(webhookId="wh-503"))
    with pytest.raises(EnqueueFailed):
        h.intake.handle(delivery)
    h.queue.fail = False
    assert h.intake.handle(delivery).outcome == "accepted"
