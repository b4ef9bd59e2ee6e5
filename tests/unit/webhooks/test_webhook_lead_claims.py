"""Lead push and the webhook worker race for one new GHL contact: lead claims keep it to one Rankr record.

Lead push writes the GHL contact, then the mapping. The ContactCreate webhook of that contact can reach
the worker in between (the mapping write is slow, or the lead-push process died right there: the chaos
fault in devtools' faults.py). Before lead claims, the worker then created a Rankr twin of
the lead and mapped it, and lead push failed for good with contact_linked_elsewhere.

Both flows run here for real (LeadPushService with Powertools Idempotency, InboundProcessor) over ONE set
of in-memory sync stores (tests/fakes.py), one fake GHL location and a fake Rankr holding the leads.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lead_push"))  # lead_push_world

from fakes import InMemoryAuditLog, InMemoryLedgerAudit, InMemorySyncState  # noqa: E402
from fakes.connections import FakeConnectionLookup
from fakes.ghl import FakeGhlRecords  # noqa: E402
from fakes.rankr import FakeRankrRecords  # noqa: E402
from lead_push_world import LOCATION, FakeLocations, InMemoryIdempotencyStore, lead_mapping  # noqa: E402
from rankr_ghl.flows.inbound import InboundProcessor, InboundResult  # noqa: E402
from rankr_ghl.flows.lead_push import (  # noqa: E402
    LEAD_CLAIM_TTL_S,
    LeadPushService,
    PushSettings,
    SyncLeadMapper,
    SyncLeadRecords,
    claim_identities,
    powertools_idempotency,
)
from rankr_ghl.sync.mapping_resolver import MappingResolver  # noqa: E402
from rankr_ghl.sync.ports import (  # noqa: E402
    CLAIM_LINK_ORIGIN,
    LEAD_PUSH_ORIGIN,
    IdMapping,
    lead_claim_identities,
)
from rankr_ghl.sync.types import Entity  # noqa: E402

ACCOUNT = "acct-1"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def add_lead(rankr: FakeRankrRecords, lead: Mapping[str, Any]) -> None:
    """The lead as the Rankr contact it is (leadId = its id), there before the push."""
    now = _iso(datetime.now(UTC) - timedelta(minutes=5))
    fields = {k: v for k, v in lead.items() if k not in ("leadId", "locationId", "note", "task")}
    rankr.seed(Entity.CONTACT, {**fields, "id": lead["leadId"], "createdAt": now, "updatedAt": now})


class NoLifecycle:
    def handle_install(self, *, location_id: str | None, company_id: str | None, **_: Any) -> None:
        raise AssertionError("not used")

    def handle_uninstall(self, *, location_id: str | None, company_id: str | None, **_: Any) -> None:
        raise AssertionError("not used")


class Crash(BaseException):
    """The process dies (os._exit in the deployed fault hook): nothing after it runs, no cleanup."""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Race:
    ghl: FakeGhlRecords
    rankr: FakeRankrRecords
    state: InMemorySyncState
    audit: InMemoryAuditLog
    clock: Clock
    worker: InboundProcessor
    push_service: LeadPushService
    idempotency: InMemoryIdempotencyStore

    def push(self, lead: Mapping[str, Any]) -> dict[str, Any]:
        (result,) = self.push_service.push(dict(lead)).results
        return result

    def event(self, event_type: str, contact_id: str) -> InboundResult:
        message = {
            "v": 1,
            "eventType": event_type,
            "locationId": LOCATION,
            "correlationId": f"corr-{event_type}",
            "event": {"type": event_type, "locationId": LOCATION, "id": contact_id},
        }
        return self.worker.process(message)

    def newest_contact(self) -> str:
        return str(self.ghl.contacts()[-1]["id"])

    def mapping(self, contact_id: str) -> IdMapping | None:
        return self.state.mappings.get_by_ghl(LOCATION, Entity.CONTACT, contact_id)

    def lambda_timeout_frees_the_crashed_invocation(self) -> None:
        self.idempotency.records.clear()  # Powertools' INPROGRESS record expires with the Lambda timeout


@pytest.fixture(params=["atomic_settle", "step_by_step"])
def race(request: pytest.FixtureRequest) -> Race:
    clock = Clock()
    ghl, rankr, audit = FakeGhlRecords(), FakeRankrRecords(), InMemoryAuditLog()
    state = InMemorySyncState(clock=clock)
    resolver = MappingResolver(default=lead_mapping())  # one field mapping for both flows (ledger digests)
    store = InMemoryIdempotencyStore()
    idempotency = powertools_idempotency(store)
    records = SyncLeadRecords(
        state.mappings,
        state.ledger,
        audit,
        resolver,
        claims=state.lead_claims,
        push_store=state.lead_push_writes if request.param == "atomic_settle" else None,
    )
    service = LeadPushService(
        ghl=ghl,
        records=records,
        mapper=SyncLeadMapper(resolver),
        locations=FakeLocations(),
        idempotent=idempotency.runner,
        in_progress_errors=idempotency.in_progress_errors,
        settings=PushSettings(workers=1),
        sleep=lambda _s: None,
    )
    connections = FakeConnectionLookup()
    connections.add(LOCATION, account=ACCOUNT)
    worker = InboundProcessor(
        ghl=ghl,
        rankr=rankr,
        connections=connections,
        lifecycle=NoLifecycle(),
        mappings=state.mappings,
        ledger=state.ledger,
        tombstones=state.tombstones,
        audit=audit,
        mapping_resolver=resolver,
        lead_claims=state.lead_claims,
        mirror_reads=state.mirror_reads,
        ledger_audit=InMemoryLedgerAudit(state.ledger, audit),
    )
    return Race(ghl, rankr, state, audit, clock, worker, service, store)


def new_lead(race: Race, lead_id: str = "L1", **fields: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "leadId": lead_id,
        "locationId": LOCATION,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"{lead_id}@Example.com",
        "phone": "(415) 555-0100",
        "tags": ["Hot"],
    }
    lead.update(fields)
    lead = {k: v for k, v in lead.items() if v is not None}
    add_lead(race.rankr, lead)
    return lead


def in_window(race: Race, monkeypatch: pytest.MonkeyPatch, action: Any) -> list[Any]:
    """Run `action` in the window between lead push's GHL contact write and its mapping write."""
    seen: list[Any] = []
    fired: list[bool] = []  # once: a crash (an exception here) leaves the retry alone
    records = race.push_service._records
    for name in ("link", "settle"):  # the mapping write: lead push's first records call after GHL's

        def before_mapping_write(*args: Any, _write: Any = getattr(records, name), **kwargs: Any) -> Any:
            if not fired:
                fired.append(True)
                seen.append(action())
            return _write(*args, **kwargs)

        monkeypatch.setattr(records, name, before_mapping_write)
    return seen


def assert_settled(race: Race, lead: Mapping[str, Any], contact_id: str) -> None:
    """One GHL contact, linked to the lead for good, no Rankr twin, no claims left, echoes skipped."""
    assert [c["id"] for c in race.ghl.contacts()] == [contact_id]
    mapping = race.mapping(contact_id)
    assert mapping is not None and mapping.rankr_id == lead["leadId"]
    assert mapping.attributes["origin"] == LEAD_PUSH_ORIGIN  # confirmed, not provisional
    assert race.rankr.live_ids(Entity.CONTACT) == [lead["leadId"]]
    assert not any(op == "create" for op, *_ in race.rankr.writes)
    body = race.ghl.contacts()[0]
    identities = lead_claim_identities(email=body.get("email"), phone=body.get("phone"), tags=body["tags"])
    assert race.state.lead_claims.find(LOCATION, identities) == []
    writes_before = list(race.rankr.writes)
    for event_type in ("ContactCreate", "ContactTagUpdate"):
        result = race.event(event_type, contact_id)
        assert result.rankr_id == lead["leadId"]
        if "email" in lead or "phone" in lead:
            assert result.outcome == "echo"
    if "email" in lead or "phone" in lead:
        assert race.rankr.writes == writes_before
    else:
        # Known, unrelated to the race: the lead-id tag GHL carries reaches the lead's tags once (an
        # update of the lead, never a second Rankr contact).
        assert [op for op, *_ in race.rankr.writes[len(writes_before) :]] in ([], ["update"])


@pytest.mark.parametrize("tags", [["Hot"], []], ids=["tagged", "untagged"])
def test_a_first_push_settles_in_one_atomic_write_when_nothing_intervenes(
    race: Race, request: pytest.FixtureRequest, tags: list[str]
) -> None:
    lead = new_lead(race, tags=tags)
    result = race.push(lead)
    assert result["outcome"] == "created"
    assert_settled(race, lead, result["ghlContactId"])
    links = race.state.lead_push_writes
    atomic = request.node.callspec.params["race"] == "atomic_settle"
    # A tagged lead is linked with its ledger base in one atomic write before its tags, then settled.
    assert (links.settled, links.refused) == ((1 + bool(tags), 0) if atomic else (0, 0))


def test_a_refused_atomic_settle_falls_back_to_the_step_by_step_path(race: Race) -> None:
    """The worker linked the pair on the lead's claim meanwhile: the atomic write is refused (nothing
    written) and the step-by-step path confirms the link, writes the ledger and releases the claims."""
    lead = new_lead(race, tags=[])
    records = race.push_service._records
    real_settle = records.settle

    def worker_links_first(location_id: str, lead_: Any, contact_id: str, *args: Any, **kw: Any) -> bool:
        assert race.event("ContactCreate", contact_id).outcome == "linked"
        return real_settle(location_id, lead_, contact_id, *args, **kw)

    records.settle = worker_links_first  # type: ignore[method-assign]
    result = race.push(lead)
    assert result["outcome"] == "created"
    assert_settled(race, lead, result["ghlContactId"])
    assert race.state.lead_push_writes.settled == 0


# --------------------------------------------------------------------------------------- order (b)
@pytest.mark.parametrize(
    "identity",
    [
        {},  # e-mail and phone: the lead tag is not used, the e-mail claim decides
        {"email": None},  # phone only, written differently from GHL's E.164
        {"phone": None},
        {"email": None, "phone": None},  # neither: GHL cannot match it, the lead tag is claimed
    ],
    ids=["email+phone", "phone", "email", "lead-tag"],
)
def test_worker_in_the_window_links_the_contact_to_the_lead_instead_of_creating_a_twin(
    race: Race, monkeypatch: pytest.MonkeyPatch, identity: dict[str, Any]
) -> None:
    lead = new_lead(race, **identity)
    seen = in_window(race, monkeypatch, lambda: race.event("ContactCreate", race.newest_contact()))

    result = race.push(lead)

    assert result["outcome"] == "created", result
    (worker_result,) = seen
    assert (worker_result.outcome, worker_result.reason) == ("linked", "pending_lead_push")
    assert worker_result.rankr_id == lead["leadId"] and worker_result.ghl_id == result["ghlContactId"]
    assert race.rankr.writes == []  # nothing written to Rankr: the lead is the source of this contact
    link_audit = [e for e in race.audit.entries if e.flow == "webhook" and e.action == "link"]
    assert [e.ghl_id for e in link_audit] == [result["ghlContactId"]]
    mapping = race.mapping(result["ghlContactId"])
    assert mapping is not None and mapping.attributes.get("linkedBy") == CLAIM_LINK_ORIGIN
    assert_settled(race, lead, result["ghlContactId"])


def test_event_after_the_link_but_before_the_ledger_does_not_overwrite_the_lead(
    race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upsert carries no tags (they follow with POST .../tags): GHL's state at that moment must not
    be mirrored onto the lead, or the lead loses its tags. The link's ledger base changes nothing here:
    while the lead's claim holds, the event is skipped."""
    lead = new_lead(race, tags=["Hot", "webinar"])
    seen: list[InboundResult] = []
    records = race.push_service._records
    real_record_write, real_settle = records.record_write, records.settle

    def event_once(contact_id: str) -> None:
        if not seen:  # one event in all
            seen.append(race.event("ContactCreate", contact_id))

    def event_first(location_id: str, contact_id: str, *args: Any) -> None:
        event_once(contact_id)
        real_record_write(location_id, contact_id, *args)

    def event_before_settle(location_id: str, lead: Any, contact_id: str, *args: Any, **kw: Any) -> bool:
        if kw.get("release"):  # the settle that ends the push, not the link with its ledger base
            event_once(contact_id)
        return real_settle(location_id, lead, contact_id, *args, **kw)

    monkeypatch.setattr(records, "record_write", event_first)
    monkeypatch.setattr(records, "settle", event_before_settle)
    result = race.push(lead)

    assert result["outcome"] == "created"
    assert [(r.outcome, r.reason) for r in seen] == [("skipped", "pending_lead_push")]
    assert race.rankr.writes == []
    assert race.rankr.records[(Entity.CONTACT, "L1")]["tags"] == ["Hot", "webinar"]
    assert_settled(race, lead, result["ghlContactId"])


def test_after_an_abandoned_push_the_worker_decides_against_the_link_base(
    race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push that died after its link and tag write, its retries failing too: once its claims have
    expired, a GHL event is decided field by field against the base the link wrote, so a one-sided
    Rankr edit of the lead survives GHL's newer timestamp (without a base, the newer record won)."""
    lead = new_lead(race, tags=["Hot"])
    real_add_tags = race.ghl.add_tags

    def add_tags_then_die(*args: Any, **kwargs: Any) -> list[str]:
        real_add_tags(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(race.ghl, "add_tags", add_tags_then_die)
    with pytest.raises(Crash):
        race.push(lead)
    contact_id = race.newest_contact()
    assert race.mapping(contact_id) is not None  # linked; the settle never ran
    assert race.event("ContactTagUpdate", contact_id).reason == "pending_lead_push"  # claimed: skipped

    race.clock.now += timedelta(seconds=LEAD_CLAIM_TTL_S + 1)
    race.rankr.update(ACCOUNT, Entity.CONTACT, "L1", {"lastName": "Byron"}, None)  # one-sided edit
    newer = _iso(datetime.now(UTC) + timedelta(minutes=1))
    race.ghl.update_contact(LOCATION, contact_id, {"dateUpdated": newer})  # GHL's record is newer
    race.event("ContactUpdate", contact_id)

    assert race.rankr.records[(Entity.CONTACT, "L1")]["lastName"] == "Byron"


def test_crash_between_ghl_write_and_mapping_then_retry_links_the_same_contact(
    race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = new_lead(race, note={"body": "first call"}, task={"title": "call back"})

    def crash() -> None:
        raise Crash

    in_window(race, monkeypatch, crash)
    with pytest.raises(Crash):
        race.push(lead)
    contact_id = race.newest_contact()
    assert race.mapping(contact_id) is None  # the crashed invocation never linked

    # GHL's ContactCreate reaches the worker: without the claim this made a Rankr twin of the lead.
    worker_result = race.event("ContactCreate", contact_id)
    assert (worker_result.outcome, worker_result.rankr_id) == ("linked", "L1")
    provisional = race.mapping(contact_id)
    assert provisional is not None and provisional.attributes["origin"] == CLAIM_LINK_ORIGIN
    # Another event before lead push is back changes nothing in Rankr.
    assert race.event("ContactUpdate", contact_id).reason == "pending_lead_push"

    race.lambda_timeout_frees_the_crashed_invocation()
    retried = race.push(lead)

    assert retried == {"leadId": "L1", "ghlContactId": contact_id, "outcome": "created"}
    contact = race.ghl.contacts()[0]
    assert contact["tags"] == ["hot"]
    assert contact["notes"] == ["first call"] and len(contact["tasks"]) == 1  # once, by the retry
    assert_settled(race, lead, contact_id)


def test_crash_then_retry_of_a_lead_without_email_or_phone(
    race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = new_lead(race, "L2", email=None, phone=None, note={"body": "hello"})

    def crash() -> None:
        raise Crash

    in_window(race, monkeypatch, crash)
    with pytest.raises(Crash):
        race.push(lead)
    contact_id = race.newest_contact()
    worker_result = race.event("ContactCreate", contact_id)
    assert (worker_result.outcome, worker_result.rankr_id) == ("linked", "L2")

    race.lambda_timeout_frees_the_crashed_invocation()
    retried = race.push(lead)

    assert (retried["outcome"], retried["ghlContactId"]) == ("created", contact_id)
    assert race.ghl.contacts()[0]["notes"] == ["hello"]
    assert_settled(race, lead, contact_id)


def test_a_later_push_of_a_confirmed_lead_takes_the_mapping_path(
    race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = new_lead(race, email=None, phone=None, note={"body": "hello"})
    in_window(race, monkeypatch, lambda: race.event("ContactCreate", race.newest_contact()))
    first = race.push(lead)
    race.ghl.calls.clear()

    again = race.push({**lead, "firstName": "Augusta"})

    assert (again["outcome"], again["ghlContactId"]) == ("updated", first["ghlContactId"])
    assert [op for op, _ in race.ghl.calls] == ["update", "add_tags"]
    assert race.ghl.contacts()[0]["notes"] == ["hello"]  # the first note is not written twice


# --------------------------------------------------------------------------------------- order (a)
def test_event_after_lead_push_finished_is_an_echo_with_one_claim_lookup_at_most(race: Race) -> None:
    lead = new_lead(race)
    result = race.push(lead)
    finds = race.state.lead_claims.finds

    assert race.event("ContactCreate", result["ghlContactId"]).outcome == "echo"
    assert race.state.lead_claims.finds == finds  # mapped with a ledger: no claim lookup at all
    assert_settled(race, lead, result["ghlContactId"])


def test_worker_whose_mapping_read_was_stale_links_the_same_pair(
    race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Order (a) with claims: lead push links while the worker holds a stale 'unmapped' read."""
    lead = new_lead(race)
    mappings = race.state.mappings
    real_get = mappings.get_by_ghl
    seen: list[InboundResult] = []

    def stale_read(location_id: str, entity: Entity, ghl_id: str) -> Any:
        monkeypatch.setattr(mappings, "get_by_ghl", real_get)
        return None  # the worker read before lead push's mapping write (which is about to happen)

    def worker_reads_then_push_links() -> None:
        monkeypatch.setattr(mappings, "get_by_ghl", stale_read)
        contact_id = race.newest_contact()
        mappings.put(
            IdMapping(LOCATION, Entity.CONTACT, contact_id, "L1", attributes={"origin": "lead_push"})
        )
        seen.append(race.event("ContactCreate", contact_id))

    in_window(race, monkeypatch, worker_reads_then_push_links)
    result = race.push(lead)

    assert result["outcome"] == "created"
    assert [(r.outcome, r.rankr_id) for r in seen] == [("linked", "L1")]
    assert race.rankr.writes == []
    assert_settled(race, lead, result["ghlContactId"])


# --------------------------------------------------------------------------------------- claim edges
def test_unmapped_contact_without_claims_is_created_in_rankr_after_one_lookup(race: Race) -> None:
    contact_id = race.ghl.seed(email="someone@example.com", firstName="Grace")
    result = race.event("ContactCreate", contact_id)
    assert (result.outcome, result.reason) == ("written", "created")
    assert race.state.lead_claims.finds == 1


def test_expired_claim_no_longer_steers_the_worker(race: Race) -> None:
    new_lead(race)
    race.state.lead_claims.claim(LOCATION, ["email:l1@example.com"], "L1", LEAD_CLAIM_TTL_S)
    contact_id = race.ghl.seed(email="l1@example.com")
    race.clock.now += timedelta(seconds=LEAD_CLAIM_TTL_S + 1)
    result = race.event("ContactCreate", contact_id)
    assert (result.outcome, result.reason) == ("written", "created")
    assert race.mapping(contact_id).rankr_id != "L1"  # type: ignore[union-attr]


def test_claim_of_a_lead_already_linked_for_good_does_not_capture_another_contact(race: Race) -> None:
    new_lead(race)
    race.state.mappings.put(
        IdMapping(LOCATION, Entity.CONTACT, "c-old", "L1", attributes={"origin": "lead_push"})
    )
    race.state.lead_claims.claim(LOCATION, ["email:l1@example.com"], "L1", LEAD_CLAIM_TTL_S)
    contact_id = race.ghl.seed(email="L1@example.com")  # a second contact (the location allows duplicates)
    result = race.event("ContactCreate", contact_id)
    assert (result.outcome, result.reason) == ("written", "created")
    assert race.state.mappings.get_by_rankr(LOCATION, Entity.CONTACT, "L1").ghl_id == "c-old"  # type: ignore[union-attr]


def test_lead_provisionally_linked_to_another_contact_gets_no_twin_and_lead_push_picks_its_own(
    race: Race,
) -> None:
    lead = new_lead(race)
    decoy = race.ghl.seed(email="l1@example.com", firstName="Decoy")
    claims = claim_identities(  # what a push of this lead claims
        push_lead_model(lead), {"email": "l1@example.com", "phone": "+14155550100"}
    )
    race.state.lead_claims.claim(LOCATION, claims, "L1", LEAD_CLAIM_TTL_S)
    assert race.event("ContactCreate", decoy).outcome == "linked"
    own = race.ghl.seed(phone="+14155550100", firstName="Own")  # GHL matches the lead by phone
    assert race.event("ContactCreate", own).reason == "pending_lead_push"  # no twin meanwhile
    race.ghl.locations[LOCATION].contacts[decoy]["email"] = "decoy@example.com"  # GHL now matches `own`

    result = race.push(lead)

    assert (result["outcome"], result["ghlContactId"]) == ("linked_existing", own)
    assert race.mapping(own).rankr_id == "L1"  # type: ignore[union-attr]
    assert race.mapping(decoy) is None  # the provisional link was replaced
    assert race.rankr.writes == []


def push_lead_model(lead: Mapping[str, Any]) -> Any:
    from rankr_ghl.flows.lead_push import parse_lead

    return parse_lead(dict(lead))


def test_identities_are_normalised_alike_on_both_sides() -> None:
    assert lead_claim_identities(
        email=" Ada@Example.COM ", phone="(415) 555-0100", tags=["VIP", "Rankr-Lead:L9"]
    ) == [
        "tag:rankr-lead:l9",
        "email:ada@example.com",
        "phone:+14155550100",
    ]
    assert lead_claim_identities(phone="+1 415-555-0100") == ["phone:+14155550100"]
    assert lead_claim_identities(tags=["rankr-lead:"], email="  ") == []
    no_identifier = push_lead_model({"leadId": "AbC", "locationId": LOCATION})
    assert claim_identities(no_identifier, {}) == ["tag:rankr-lead:abc"]  # GHL lower-cases tags
