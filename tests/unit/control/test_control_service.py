"""The control API's service over in-memory connections: scoping, binding and hostile requests."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "connections"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the shared sync fakes
from conn_fakes import MemoryConnectionStore  # noqa: E402
from control_fakes import Backlog, DeadLetterCounts, DeadLetters, JobQueue, budget_snapshot  # noqa: E402
from fakes import InMemoryCheckpointStore  # noqa: E402
from rankr_ghl.connections.install_links import (  # noqa: E402
    InstallLinkIssuer,
    ReturnUrlPolicy,
    SignedTokens,
    claim_code_hash,
)
from rankr_ghl.connections.models import Connection, UserType  # noqa: E402
from rankr_ghl.flows.control.contract import OPS  # noqa: E402
from rankr_ghl.flows.control.schemas import contract_document  # noqa: E402
from rankr_ghl.flows.control.service import ControlService  # noqa: E402
from rankr_ghl.sync.ports import AuditAction, AuditEntry, AuditOutcome  # noqa: E402
from rankr_ghl.sync.types import Entity  # noqa: E402

KEY = "control-key-" + "k" * 40
INSTALL = "https://api.example/oauth/install"


class Connections(MemoryConnectionStore):
    def list_by_rankr_account(self, rankr_account_id: str) -> Iterator[Connection]:
        return (c for c in self.list() if c.rankr_account_id == rankr_account_id)


class Claims:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}

    def put(self, code_hash: str, location_ids: list[str], ttl_s: int) -> None:
        self.items[code_hash] = list(location_ids)

    def take(self, code_hash: str) -> list[str] | None:
        return self.items.pop(code_hash, None)


class Audit:
    def __init__(self) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        self.entries = [
            AuditEntry(
                location_id=loc,
                entity=Entity.CONTACT,
                action=AuditAction.CREATE,
                outcome=AuditOutcome.SUCCESS,
                direction="ghl_to_rankr",
                ghl_id=f"g{i}",
                fields=("email", "firstName"),
                at=start + timedelta(minutes=i),
            )
            for loc in ("locA", "locB")
            for i in range(5)
        ]
        self.queries = 0

    def query_location(self, location_id, *, since=None, until=None, entity=None, limit=100):
        self.queries += 1
        rows = [e for e in self.entries if e.location_id == location_id and (until is None or e.at <= until)]
        return sorted(rows, key=lambda e: e.at, reverse=True)[:limit]


class Mappings:
    def __init__(self) -> None:
        self.documents: dict[tuple, dict] = {}

    def get_scoped_document(self, *, location_id=None, account_id=None):
        return self.documents.get((location_id, account_id))

    def put_mapping_document(self, document, *, location_id=None, account_id=None):
        self.documents[(location_id, account_id)] = document


def preview(location_id: str, account_id: str, contact_id: str) -> dict:
    if contact_id != "ghl-1":
        return {"found": False}
    return {"found": True, "would": "create", "rankrBody": {"firstName": "Ann"}, "differences": []}


class Runner:
    """Stands in for flows.control.transfers (tested on its own): records what the service asked."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, location_id, account_id, direction, record_id, apply):
        self.calls.append((location_id, account_id, direction, record_id, apply))
        return {"dryRun": not apply, "direction": direction, "writes": []}


@pytest.fixture
def world():
    connections = Connections()
    for loc, account in (("locA", "acctA"), ("locB", "acctB"), ("locFree", None)):
        connections.save(
            Connection(
                connection_id=loc, location_id=loc, user_type=UserType.LOCATION, rankr_account_id=account
            )
        )
    claims = Claims()
    links = InstallLinkIssuer(
        SignedTokens(KEY, "install-link", ttl_s=900),
        INSTALL,
        ReturnUrlPolicy(["https://app.rankr.example/ghl"]),
    )
    audit = Audit()
    mappings = Mappings()
    runner = Runner()
    queue, checkpoints, dead = JobQueue(), InMemoryCheckpointStore(), DeadLetters()
    counts = DeadLetterCounts()
    service = ControlService(
        links=lambda: links,
        connections=lambda: connections,
        claims=lambda: claims,
        audit=lambda: audit,
        transfer_preview=preview,
        transfer_runner=runner,
        mappings=lambda: mappings,
        reconcile_queue=lambda: queue,
        checkpoints=lambda: checkpoints,
        dead_letters=lambda: dead,
        dead_letter_counts=lambda: counts,
        sweep_budget_s=5.0,
        backlog=Backlog,
        rate_budget=budget_snapshot,
    )
    service.queue, service.checkpoints, service.dead = queue, checkpoints, dead
    service.counts = counts
    service.runner = runner
    service.mappings = mappings
    service.audit = audit
    return service, connections, claims, links


def snapshot(connections: Connections, claims: Claims) -> str:
    return json.dumps([c.to_json_dict() for c in connections.list()] + [claims.items], sort_keys=True)


def test_install_link_is_signed_single_use_material(world):
    service, _, _, links = world
    answer = service.handle({"op": "install_link", "rankrAccountId": "acctA", "target": "agency"})
    assert answer["ok"], answer
    url = answer["result"]["url"]
    assert url.startswith(INSTALL + "?link=")
    link = links.read(parse_qs(urlsplit(url).query)["link"][0])
    assert link.rankr_account_id == "acctA" and link.user_type is UserType.COMPANY


def test_return_url_outside_the_allow_list_is_refused(world):
    service, *_ = world
    for url in (
        "https://evil.example/ghl",
        "http://app.rankr.example/ghl",
        "https://app.rankr.example/other",
        "https://app.rankr.example@evil.example/ghl",
    ):
        answer = service.handle({"op": "install_link", "rankrAccountId": "acctA", "returnUrl": url})
        assert answer["error"]["code"] == "return_url_not_allowed", url
    ok = service.handle(
        {"op": "install_link", "rankrAccountId": "acctA", "returnUrl": "https://app.rankr.example/ghl/done"}
    )
    assert ok["ok"]


def test_connections_are_scoped_to_their_account(world):
    service, *_ = world
    listed = service.handle({"op": "connections.list", "rankrAccountId": "acctA"})
    assert [c["locationId"] for c in listed["result"]["connections"]] == ["locA"]
    own = service.handle({"op": "connection.get", "rankrAccountId": "acctA", "locationId": "locA"})
    assert own["result"]["connection"]["status"] == "active"
    foreign = service.handle({"op": "connection.get", "rankrAccountId": "acctA", "locationId": "locB"})
    missing = service.handle({"op": "connection.get", "rankrAccountId": "acctA", "locationId": "locNope"})
    assert foreign["error"] == missing["error"]  # nothing tells a foreign location from a missing one
    assert foreign["error"]["code"] == "not_found" and "locB" not in json.dumps(foreign)


def test_link_moves_a_bound_location_only_with_force(world):
    service, connections, claims, _ = world
    before = snapshot(connections, claims)
    refused = service.handle({"op": "connection.link", "rankrAccountId": "acctA", "locationId": "locB"})
    assert refused["error"]["code"] == "not_found"
    assert snapshot(connections, claims) == before
    forced = service.handle(
        {
            "op": "connection.link",
            "rankrAccountId": "acctA",
            "locationId": "locB",
            "force": True,
            "reason": "support",
        }
    )
    assert forced["ok"] and forced["result"]["moved"] is True
    assert connections.get("locB").rankr_account_id == "acctA"


def test_claim_binds_unbound_locations_once(world):
    service, connections, claims, _ = world
    claims.put(claim_code_hash("ABCDE-FGHJK"), ["locFree", "locB"], 900)
    answer = service.handle({"op": "connection.claim", "rankrAccountId": "acctC", "code": "abcde-fghjk"})
    assert [c["locationId"] for c in answer["result"]["connections"]] == ["locFree"]
    assert connections.get("locFree").rankr_account_id == "acctC"
    assert connections.get("locB").rankr_account_id == "acctB"  # a code never moves a bound location
    again = service.handle({"op": "connection.claim", "rankrAccountId": "acctD", "code": "ABCDE-FGHJK"})
    assert again["error"]["code"] == "invalid_claim_code"
    assert connections.get("locFree").rankr_account_id == "acctC"


def test_disconnect_is_scoped(world):
    service, connections, _, _ = world
    foreign = service.handle({"op": "connection.disconnect", "rankrAccountId": "acctA", "locationId": "locB"})
    assert foreign["error"]["code"] == "not_found"
    assert connections.get("locB").status.value == "active"
    own = service.handle({"op": "connection.disconnect", "rankrAccountId": "acctA", "locationId": "locA"})
    assert own["result"]["connection"]["status"] == "uninstalled"


def test_logs_are_paged_and_scoped(world):
    service, *_ = world
    first = service.handle({"op": "logs.query", "rankrAccountId": "acctA", "locationId": "locA", "limit": 2})
    assert [e["ghlId"] for e in first["result"]["entries"]] == ["g4", "g3"]
    assert first["result"]["entries"][0]["fields"] == ["email", "firstName"]
    cursor = first["result"]["nextCursor"]
    second = service.handle(
        {"op": "logs.query", "rankrAccountId": "acctA", "locationId": "locA", "limit": 2, "cursor": cursor}
    )
    assert [e["ghlId"] for e in second["result"]["entries"]] == ["g2", "g1"]
    record = service.handle(
        {"op": "logs.query", "rankrAccountId": "acctA", "locationId": "locA", "recordId": "g0"}
    )
    assert [e["ghlId"] for e in record["result"]["entries"]] == ["g0"]
    queries = service.audit.queries
    foreign = service.handle({"op": "logs.query", "rankrAccountId": "acctA", "locationId": "locB"})
    assert foreign["error"]["code"] == "not_found" and service.audit.queries == queries


def test_test_transfer_is_a_scoped_dry_run(world):
    service, *_ = world
    ok = service.handle(
        {"op": "test_transfer", "rankrAccountId": "acctA", "locationId": "locA", "ghlContactId": "ghl-1"}
    )
    assert ok["result"]["dryRun"] is True and ok["result"]["writes"] == []
    assert ok["result"]["preview"]["would"] == "create"
    missing = service.handle(
        {"op": "test_transfer", "rankrAccountId": "acctA", "locationId": "locA", "ghlContactId": "nope"}
    )
    assert missing["error"]["code"] == "not_found"
    foreign = service.handle(
        {"op": "test_transfer", "rankrAccountId": "acctA", "locationId": "locB", "ghlContactId": "ghl-1"}
    )
    assert foreign["error"]["code"] == "not_found"
    assert service.runner.calls == [("locA", "acctA", "ghl_to_rankr", "ghl-1", False)]


def test_test_transfer_apply_names_the_record_of_its_direction_and_needs_an_active_connection(world):
    service, connections, *_ = world
    base = {"op": "test_transfer", "rankrAccountId": "acctA", "locationId": "locA", "apply": True}
    wrong = service.handle({**base, "direction": "rankr_to_ghl", "ghlContactId": "ghl-1"})
    assert wrong["error"]["code"] == "invalid_request" and "rankrContactId" in wrong["error"]["message"]
    ok = service.handle({**base, "direction": "rankr_to_ghl", "rankrContactId": "r-1"})
    assert ok["ok"] and ok["result"]["dryRun"] is False and "preview" not in ok["result"]
    assert service.runner.calls == [("locA", "acctA", "rankr_to_ghl", "r-1", True)]
    service.handle({"op": "connection.disconnect", "rankrAccountId": "acctA", "locationId": "locA"})
    inactive = service.handle({**base, "ghlContactId": "ghl-1"})
    assert inactive["error"]["code"] == "not_active" and len(service.runner.calls) == 1


def test_mapping_is_validated_before_it_is_stored_and_scoped(world):
    service, *_ = world
    default = service.handle({"op": "mapping.get", "rankrAccountId": "acctA", "locationId": "locA"})
    assert default["result"]["source"] == "default"
    document = default["result"]["document"]
    checked = service.handle({"op": "mapping.validate", "rankrAccountId": "acctA", "document": document})
    assert checked["result"]["valid"] is True and checked["result"]["version"] == default["result"]["version"]
    bad = service.handle({"op": "mapping.put", "rankrAccountId": "acctA", "document": {"version": "x"}})
    assert bad["error"]["code"] == "invalid_mapping" and service.mappings.documents == {}
    stored = service.handle(
        {"op": "mapping.put", "rankrAccountId": "acctA", "locationId": "locA", "document": document}
    )
    assert stored["result"]["stored"] and list(service.mappings.documents) == [("locA", None)]
    own = service.handle({"op": "mapping.get", "rankrAccountId": "acctA", "locationId": "locA"})
    assert own["result"]["source"] == "location"
    foreign = service.handle(
        {"op": "mapping.put", "rankrAccountId": "acctA", "locationId": "locB", "document": document}
    )
    assert foreign["error"]["code"] == "not_found" and ("locB", None) not in service.mappings.documents


INJECTION = [
    "acct' OR '1'='1",
    "acct\r\nX: y",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "acct;DROP TABLE",
]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"op": "nope", "rankrAccountId": "acctA"}, "unknown_op"),
        ({"rankrAccountId": "acctA"}, "unknown_op"),
        ({"op": ["connections.list"], "rankrAccountId": "acctA"}, "unknown_op"),
        ({"op": "connections.list"}, "invalid_request"),
        ({"op": "connections.list", "rankrAccountId": ""}, "invalid_request"),
        ({"op": "connections.list", "rankrAccountId": 7}, "invalid_request"),
        (
            {"op": "connection.get", "rankrAccountId": "acctA", "locationId": "locA", "extra": 1},
            "invalid_request",
        ),
        ({"op": "connection.get", "rankrAccountId": "acctA", "locationId": "x" * 200}, "invalid_request"),
        (
            {"op": "connection.link", "rankrAccountId": "acctA", "locationId": "locB", "force": "yes"},
            "invalid_request",
        ),
        ({"op": "connection.claim", "rankrAccountId": "acctA", "code": "x"}, "invalid_request"),
        ({"op": "install_link", "rankrAccountId": "acctA", "blob": "y" * 70_000}, "invalid_request"),
        ("not json", "invalid_request"),
        (b"{" * 70_000, "invalid_request"),
        ([1, 2], "invalid_request"),
        (None, "invalid_request"),
    ]
    + [
        ({"op": "connection.get", "rankrAccountId": bad, "locationId": "locA"}, "invalid_request")
        for bad in INJECTION
    ]
    + [
        ({"op": "connection.claim", "rankrAccountId": "acctA", "code": bad}, "invalid_request")
        for bad in INJECTION
    ],
)
def test_hostile_requests_get_a_clear_error_and_write_nothing(world, request_, code):
    service, connections, claims, _ = world
    before = snapshot(connections, claims)
    answer = service.handle(request_)
    assert answer["ok"] is False
    assert answer["error"]["code"] == code
    assert set(answer["error"]) == {"code", "message", "retryable"} and answer["error"]["retryable"] is False
    text = json.dumps(answer)
    for bad in INJECTION:
        assert bad not in text
    assert snapshot(connections, claims) == before


def test_every_op_publishes_a_json_schema_in_the_docs():
    document = contract_document()
    docs = (Path(__file__).resolve().parents[3] / "docs" / "control-api.md").read_text()
    assert f"Contract version: {document['version']}" in docs
    for name, schema in document["ops"].items():
        assert schema["properties"]["op"]["const"] == name
        assert "rankrAccountId" in schema["required"]
        assert json.dumps(schema, indent=2, sort_keys=True) in docs, f"docs/control-api.md: schema of {name}"
    assert set(OPS) == set(document["ops"])


def test_connection_get_shows_reconcile_backlog_dead_letters_and_rate_budget(world):
    from control_fakes import Letter
    from rankr_ghl.flows.control.dead_letter_sweep import SWEEP_EVENT
    from rankr_ghl.flows.reconcile.jobs import RESULT_CHECKPOINT, STATE_CHECKPOINT

    service, *_ = world
    service.checkpoints.save("locA", STATE_CHECKPOINT, {"lastSuccessAt": "2026-01-01T00:00:00+00:00"})
    service.checkpoints.save("locA", RESULT_CHECKPOINT, {"runId": "r1", "totalRepaired": 2, "failures": {}})
    service.dead.queued["webhooks"] += [Letter("webhooks", "m1", "locA"), Letter("webhooks", "m2", "locB")]
    request = {"op": "connection.get", "rankrAccountId": "acctA", "locationId": "locA"}
    assert service.handle(SWEEP_EVENT)["ok"] is True
    looks = service.dead.looks
    got = service.handle(request)
    connection = got["result"]["connection"]
    assert connection["lastReconcile"]["lastSuccessAt"] == "2026-01-01T00:00:00+00:00"
    assert connection["lastReconcile"]["result"]["totalRepaired"] == 2
    dead_letters = connection["deadLetters"]
    assert {k: dead_letters[k] for k in ("webhooks", "reconcile", "lead-push")} == {
        "webhooks": 1,
        "reconcile": 0,
        "lead-push": 0,
    }
    assert dead_letters["complete"] is True and dead_letters["countedAt"] is not None
    # One read of the count item; no dead-letter queue is touched in the request path.
    assert service.counts.reads == 1 and service.dead.looks == looks
    assert connection["backlog"]["webhooks"] == 3
    assert connection["rateBudget"]["windowRequests"] == 20 and connection["rateBudget"]["windowLimit"] == 100
    assert connection["unavailable"] == [] and service.dead.hidden == set()
    assert connection["lastWebhookAt"] is None  # the fake audit holds no webhook entries


def test_the_sweep_counts_per_location_and_clears_counts_whose_letters_are_gone(world):
    from control_fakes import Letter
    from rankr_ghl.flows.control.dead_letter_sweep import SWEEP_EVENT

    service, *_ = world
    dead, counts = service.dead, service.counts

    def dead_letters(location: str) -> dict[str, Any]:
        request = {"op": "connection.get", "rankrAccountId": "acctA", "locationId": location}
        found: dict[str, Any] = service.handle(request)["result"]["connection"]["deadLetters"]
        return found

    assert dead_letters("locA") == {
        "webhooks": 0,
        "reconcile": 0,
        "lead-push": 0,
        "countedAt": None,
        "complete": None,
    }
    dead.queued["webhooks"] += [Letter("webhooks", "m1", "locA"), Letter("webhooks", "m2", "locA")]
    dead.queued["reconcile"] += [Letter("reconcile", "r1", "locA"), Letter("reconcile", "r2", "locB")]
    dead.queued["lead-push"] += [Letter("lead-push", "l1", None, lead_targets=(("acctA", None),))]
    assert dead_letters("locA")["webhooks"] == 0  # not counted before a sweep: the request path never looks
    swept = service.handle(SWEEP_EVENT)["result"]
    assert swept["queues"]["webhooks"] == {"messages": 2, "complete": True} and swept["locations"] == 2
    assert "locA" not in json.dumps(swept)  # totals only
    assert {k: dead_letters("locA")[k] for k in ("webhooks", "reconcile", "lead-push")} == {
        "webhooks": 2,
        "reconcile": 1,
        "lead-push": 0,
    }
    assert counts.items["locB"]["counts"]["reconcile"] == 1 and dead.hidden == set()

    # A replay leaves the count at once; a FIFO queue holding letters back makes the count a lower bound.
    replayed = service.handle(
        {"op": "dlq.replay", "rankrAccountId": "acctA", "locationId": "locA", "queue": "webhooks", "max": 1}
    )["result"]
    assert replayed["byLocation"] == {"locA": 1} and dead_letters("locA")["webhooks"] == 1
    dead.queued["reconcile"].clear()
    dead.holds_back["webhooks"] = True
    service.handle(SWEEP_EVENT)
    after = dead_letters("locA")
    assert (after["webhooks"], after["reconcile"], after["complete"]) == (1, 0, False)
    assert counts.items["locB"]["counts"]["reconcile"] == 0  # gone since the last sweep: cleared
    dead.queued["webhooks"].clear()
    service.handle(SWEEP_EVENT)
    service.handle(SWEEP_EVENT)
    assert dead_letters("locA")["webhooks"] == 0 and counts.swept == set()


def test_reconcile_start_queues_a_job_and_status_follows_it(world):
    from rankr_ghl.flows.reconcile.jobs import DRY_RUN_RESULT_CHECKPOINT, Mode, cursor_checkpoint

    service, *_ = world
    base = {"rankrAccountId": "acctA", "locationId": "locA"}
    started = service.handle({**base, "op": "reconcile.start", "mode": "full", "dryRun": True})
    run_id = started["result"]["runId"]
    assert [(j.location_id, j.mode, j.dry_run, j.run_id) for j in service.queue.sent] == [
        ("locA", Mode.FULL, True, run_id)
    ]
    assert service.handle({**base, "op": "reconcile.status"})["result"]["state"] == "queued"
    service.checkpoints.save(
        "locA", cursor_checkpoint(Mode.FULL), {"runId": run_id, "phase": "full_contacts"}
    )
    running = service.handle({**base, "op": "reconcile.status"})["result"]
    assert running["state"] == "running" and running["running"][0]["phase"] == "full_contacts"
    service.checkpoints.save("locA", DRY_RUN_RESULT_CHECKPOINT, {"runId": run_id, "totalDifferences": 4})
    done = service.handle({**base, "op": "reconcile.status", "runId": run_id})["result"]
    assert done["state"] == "complete" and done["report"]["totalDifferences"] == 4
    foreign = service.handle({"op": "reconcile.start", "rankrAccountId": "acctA", "locationId": "locB"})
    assert foreign["error"]["code"] == "not_found" and len(service.queue.sent) == 1


def test_dlq_is_scoped_to_the_account_and_replays_only_its_location(world):
    from control_fakes import Letter

    service, *_ = world
    dead = service.dead
    dead.queued["webhooks"] += [
        Letter("webhooks", "m1", "locA"),
        Letter("webhooks", "m2", "locB"),
        Letter("webhooks", "m3", "locA"),
    ]
    summary = service.handle({"op": "dlq.summary", "rankrAccountId": "acctA"})["result"]["queues"]
    assert summary["webhooks"]["messages"] == 2 and summary["webhooks"]["byLocation"] == {"locA": 2}
    assert "m2" not in json.dumps(summary) and dead.hidden == set()
    base = {"op": "dlq.replay", "rankrAccountId": "acctA", "queue": "webhooks"}
    foreign = service.handle({**base, "locationId": "locB"})
    assert foreign["error"]["code"] == "not_found" and dead.replayed == []
    one = service.handle({**base, "locationId": "locA", "messageIds": ["m3", "m2"]})
    assert one["result"]["replayed"] == ["m3"] and dead.replayed == ["m3"]
    rest = service.handle({**base, "locationId": "locA"})
    assert rest["result"]["replayed"] == ["m1"] and dead.hidden == set()
    unnamed = service.handle({"op": "dlq.replay", "rankrAccountId": "acctA", "queue": "webhooks"})
    assert unnamed["error"]["code"] == "invalid_request" and "locationId" in unnamed["error"]["message"]


def _lead_letters() -> list[Any]:
    from control_fakes import Letter

    def letter(message_id: str, *targets: tuple[str | None, str | None]) -> Letter:
        locations = {location for _, location in targets}
        location = next(iter(locations)) if len(locations) == 1 else None
        return Letter("lead-push", message_id, location, lead_targets=targets)

    return [
        letter("l1", ("acctA", None)),  # names only the account
        letter("l2", ("acctB", "locA")),  # another account naming A's location: nobody's
        letter("l3", ("acctA", "locA"), ("acctB", None)),  # a batch mixing accounts: nobody's
        letter("l4", (None, "locA")),  # names only A's location
        letter("l5", (None, "locB")),
    ]


def test_lead_push_failures_are_the_account_s_only_when_every_lead_is(world):
    service, *_ = world
    service.dead.queued["lead-push"] += _lead_letters()
    mine = service.handle({"op": "dlq.summary", "rankrAccountId": "acctA"})["result"]["queues"]["lead-push"]
    assert [m["messageId"] for m in mine["sample"]] == ["l1", "l4"] and mine["replayable"] is True
    theirs = service.handle({"op": "dlq.summary", "rankrAccountId": "acctB"})["result"]["queues"]
    assert [m["messageId"] for m in theirs["lead-push"]["sample"]] == ["l5"]
    assert service.dead.hidden == set()


def test_lead_push_failures_replay_without_a_location_and_never_another_account_s(world):
    service, *_ = world
    dead = service.dead
    dead.queued["lead-push"] += _lead_letters()
    base = {"op": "dlq.replay", "rankrAccountId": "acctA", "queue": "lead-push"}
    at_location = service.handle({**base, "locationId": "locA"})["result"]
    assert at_location["replayed"] == ["l4"] and dead.replayed == ["l4"]
    rest = service.handle(base)["result"]
    assert rest["replayed"] == ["l1"] and dead.replayed == ["l4", "l1"]
    assert service.handle(base)["result"]["replayed"] == []  # l2, l3 and l5 stay where they are
    assert sorted(m.message_id for m in dead.queued["lead-push"]) == ["l2", "l3", "l5"]
    assert dead.hidden == set()
    dead.targets.discard("lead-push")
    dead.queued["lead-push"] += _lead_letters()[:1]
    refused = service.handle(base)
    assert refused["error"]["code"] == "not_replayable" and dead.replayed == ["l4", "l1"]
