"""The webhook worker's Rankr side for real: `RankrClientRecords` over `RankrClient` against the Rankr
sandbox. A create that succeeded but lost its mapping write (crash), retried after the GHL contact
changed, gets the sandbox's 409 `idempotency-key-reused` and adopts the record it names: one contact in
Rankr, mapped, with the new state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import InMemoryAuditLog, InMemoryLedgerAudit, InMemorySyncState
from fakes.connections import FakeConnectionLookup
from fakes.ghl import FakeGhlRecords
from rankr_ghl.flows.inbound import InboundProcessor
from rankr_ghl.rankr import RankrClient
from rankr_ghl.rankr.records import RankrClientRecords
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity
from rankr_ghl_tools.rankr_sandbox import RankrSandbox

pytestmark = pytest.mark.integration

LOC = "locKeyReuse000000001"
ACC = "acc_key_reuse"


def ghl_contact_now(ghl: FakeGhlRecords, **fields: Any) -> None:
    """GHL's current state of contact `c1`, as the worker reads it."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ghl.put(LOC, {"id": "c1", "dateUpdated": now, **fields})


class Lifecycle:
    def handle_install(self, **kwargs: Any) -> None:
        raise AssertionError("no app events here")

    def handle_uninstall(self, **kwargs: Any) -> None:
        raise AssertionError("no app events here")


class Crash(Exception):
    pass


def test_worker_adopts_the_record_behind_a_reused_key_against_the_sandbox(
    sandbox: RankrSandbox, client: RankrClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ghl, state, connections = FakeGhlRecords(locations=(LOC,)), InMemorySyncState(), FakeConnectionLookup()
    connections.add(LOC, account=ACC)
    audit = InMemoryAuditLog()
    processor = InboundProcessor(
        ghl=ghl,
        rankr=RankrClientRecords(lambda: client),
        connections=connections,
        lifecycle=Lifecycle(),
        mappings=state.mappings,
        ledger=state.ledger,
        tombstones=state.tombstones,
        audit=audit,
        mapping_resolver=MappingResolver(state.mapping_config),
        mirror_reads=state.mirror_reads,
        ledger_audit=InMemoryLedgerAudit(state.ledger, audit),
    )
    message = {"v": 1, "eventType": "ContactUpdate", "locationId": LOC, "correlationId": "corr-1",
               "event": {"type": "ContactUpdate", "locationId": LOC, "id": "c1"}}  # fmt: skip
    real_put = state.mappings.put

    def crash_once(mapping: IdMapping) -> Any:
        monkeypatch.setattr(state.mappings, "put", real_put)
        raise Crash("killed between Rankr's create and the mapping write")

    ghl_contact_now(ghl, firstName="Ada", lastName="Lovelace", email="ada@example.com")
    monkeypatch.setattr(state.mappings, "put", crash_once)
    with pytest.raises(Crash):
        processor.process(message)
    (orphan,) = sandbox.admin.state(ACC)["contacts"]
    ghl_contact_now(ghl, firstName="Augusta", lastName="Lovelace", email="ada@example.com")
    sandbox.admin.reset_stats()

    result = processor.process(message)  # the SQS redelivery

    assert (result.outcome, result.reason, result.rankr_id) == ("written", "updated", orphan["id"])
    (contact,) = sandbox.admin.state(ACC)["contacts"]  # no twin
    assert (contact["id"], contact["firstName"]) == (orphan["id"], "Augusta")
    mapping = state.mappings.get_by_ghl(LOC, Entity.CONTACT, "c1")
    assert mapping is not None and mapping.rankr_id == orphan["id"]
    requests = sandbox.admin.stats()["requests"]
    assert requests == {
        "POST /v1/accounts/{accountId}/contacts": 1,  # answered 409, naming the orphan
        "GET /v1/accounts/{accountId}/contacts/{contactId}": 1,
        "PATCH /v1/accounts/{accountId}/contacts/{contactId}": 1,
    }
    assert sandbox.admin.stats()["byStatus"] == {"409": 1, "200": 2}
