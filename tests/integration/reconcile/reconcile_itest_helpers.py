"""Reconcile on the local runtime: a connected location whose GHL sandbox contacts and tasks are
mirrored into the Rankr sandbox and the mapping store, drift applied WITHOUT webhooks, and a checker
that compares the two sandboxes' state (not the reconcile's own report)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from rankr_ghl.aws.audit import DynamoAuditLog
from rankr_ghl.aws.connections_store import DynamoConnectionStore
from rankr_ghl.aws.sync_state import SyncStateTable
from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore
from rankr_ghl.connections.models import Connection, TokenBundle, UserType, from_epoch
from rankr_ghl.flows.reconcile.jobs import ReconcileSettings
from rankr_ghl.flows.reconcile.record_values import common_fields
from rankr_ghl.flows.reconcile.run import Reconciler
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.records import GhlClientRecords
from rankr_ghl.ghl.tokens import StaticTokenSource
from rankr_ghl.rankr.client import RankrClient
from rankr_ghl.rankr.records import RankrClientRecords
from rankr_ghl.sync.diff import changed_fields
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity
from rankr_ghl.wire_values import SecretStr
from rankr_ghl_tools.local.stack import LocalStack

FUNCTION = "ReconcileFunction"
WRITE_METHODS = ("POST /contacts/", "PUT ", "DELETE ", "POST /contacts/{contactId}/")


@dataclass
class ReconcileEnv:
    stack: LocalStack

    @property
    def env(self) -> dict[str, str]:
        return dict(self.stack.template.functions[FUNCTION].env)  # type: ignore[union-attr]

    @property
    def ghl(self) -> Any:
        return self.stack.ghl

    @property
    def rankr(self) -> Any:
        return self.stack.rankr

    def sync_table(self) -> SyncStateTable:
        return SyncStateTable(self.env["SYNC_TABLE"], client=self.stack.client("dynamodb"))

    def install(self) -> tuple[str, str]:
        location = f"loc{uuid.uuid4().hex[:12]}"
        account = f"acct-{uuid.uuid4().hex[:8]}"
        self.ghl.admin.create_location(location)
        pair = self.ghl.admin.tokens(location_id=location)
        now = time.time()
        bundle = TokenBundle(
            access_token=SecretStr(pair["access_token"]),
            refresh_token=SecretStr(pair["refresh_token"]),
            expires_at=now + float(pair["expires_in"]),
            user_type=UserType.LOCATION,
            location_id=location,
            issued_at=now,
        )
        SecretsManagerTokenStore(
            self.env["TOKEN_SECRET_PREFIX"], client=self.stack.client("secretsmanager")
        ).write(location, bundle)
        DynamoConnectionStore(self.env["CONNECTIONS_TABLE"], client=self.stack.client("dynamodb")).save(
            Connection(
                connection_id=location,
                location_id=location,
                user_type=UserType.LOCATION,
                installed_at=from_epoch(now),
                token_expires_at=from_epoch(bundle.expires_at),
                rankr_account_id=account,
            )
        )
        return location, account

    def reconciler(
        self, location: str, *, page_size: int = 500, rankr_port: Any = None, **settings: Any
    ) -> Reconciler:
        """An in-process Reconciler on the same sandboxes and tables as the deployed function."""
        token = SecretsManagerTokenStore(
            self.env["TOKEN_SECRET_PREFIX"], client=self.stack.client("secretsmanager")
        ).read(location)
        assert token is not None
        table = self.sync_table()
        ghl = GHLClient(StaticTokenSource(token.access_token.get_secret_value()), base_url=self.ghl.url)
        rankr = RankrClient(self.rankr.url, self.rankr.api_key)
        return Reconciler(
            ghl=GhlClientRecords(lambda: ghl),
            rankr=rankr_port or RankrClientRecords(lambda: rankr),
            mappings=table.mappings,
            ledger=table.ledger,
            tombstones=table.tombstones,
            checkpoints=table.checkpoints,
            audit=DynamoAuditLog(self.env["AUDIT_TABLE"], client=self.stack.client("dynamodb")),
            settings=ReconcileSettings(page_size=page_size, task_page_size=20, **settings),
        )

    def seed_mirrored(
        self, location: str, account: str, contacts: int, *, tasks: bool = True
    ) -> list[tuple[str, str]]:
        """GHL contacts (and one task each) mirrored into Rankr and the mapping store."""
        cm = default_mapping().contact
        tm = default_mapping().for_entity(Entity.TASK)
        self.ghl.admin.seed(location, contacts, tasks_per_contact=1 if tasks else 0)
        state = self.ghl.admin.state(location)
        ghl_contacts = state["contacts"]
        rankr_ids = self.rankr.admin.bulk_contacts(
            account, [cm.to_rankr(cm.from_ghl(c)) for c in ghl_contacts]
        )
        mappings = self.sync_table().mappings
        pairs = []
        by_ghl = {}
        for g, rid in zip(ghl_contacts, rankr_ids, strict=True):
            mappings.put(IdMapping(location, Entity.CONTACT, g["id"], rid, account_id=account))
            pairs.append((g["id"], rid))
            by_ghl[g["id"]] = rid
        for task in state["tasks"] if tasks else []:
            rankr_parent = by_ghl[task["contactId"]]
            body = tm.to_rankr(tm.from_ghl(task))
            created = self.rankr.admin.create(account, "task", body, contact_id=rankr_parent)
            mappings.put(
                IdMapping(
                    location,
                    Entity.TASK,
                    task["id"],
                    created["id"],
                    ghl_parent_id=task["contactId"],
                    rankr_parent_id=rankr_parent,
                )
            )
        return pairs

    def drift(self, location: str, account: str, pairs: list[tuple[str, str]]) -> Counter[str]:
        """One of each kind of drift, none of it announced by a webhook. Returns the expected report."""
        admin = self.ghl.admin
        admin.edit(location, "contact", pairs[0][0], {"firstName": "Changedinghl"}, emit_webhook=False)
        self.rankr.admin.edit(account, "contact", pairs[1][1], {"lastName": "Changedinrankr"})
        admin.delete(location, "contact", pairs[2][0], emit_webhook=False)  # its task goes with it
        self.rankr.admin.delete(account, "contact", pairs[3][1])
        admin.create(
            location, "contact", {"firstName": "Newinghl", "email": "new.ghl@example.com"}, emit_webhook=False
        )
        self.rankr.admin.create(
            account, "contact", {"firstName": "Newinrankr", "email": "new.rankr@example.com"}
        )
        task = next(t for t in admin.state(location)["tasks"] if t["contactId"] == pairs[4][0])
        admin.edit(
            location,
            "task",
            task["id"],
            {"title": "Edited in GHL"},
            contact_id=pairs[4][0],
            emit_webhook=False,
        )
        return Counter(
            {
                "contact.drifted": 2,
                "contact.deleted_in_ghl": 1,
                "contact.deleted_in_rankr": 1,
                "contact.missing_in_rankr": 1,
                "contact.missing_in_ghl": 1,
                "task.drifted": 1,
                "task.deleted_in_ghl": 1,
            }
        )

    def remaining_differences(self, location: str, account: str) -> list[str]:
        cm, tm = default_mapping().contact, default_mapping().for_entity(Entity.TASK)
        ghl_state = self.ghl.admin.state(location)
        rankr_state = self.rankr.admin.state(account, include_deleted=True)
        ghl_contacts = {c["id"]: c for c in ghl_state["contacts"]}
        rankr_live = {c["id"]: c for c in rankr_state["contacts"] if not c.get("deletedAt")}
        mappings = self.sync_table().mappings
        problems: list[str] = []
        mapped_g: set[str] = set()
        mapped_r: set[str] = set()
        for m in mappings.list_for_location(location, Entity.CONTACT):
            mapped_g.add(m.ghl_id)
            mapped_r.add(m.rankr_id)
            g, r = ghl_contacts.get(m.ghl_id), rankr_live.get(m.rankr_id)
            if g is None and r is not None:
                problems.append(f"orphan mapping {m.ghl_id}: Rankr {m.rankr_id} still live")
            elif g is not None and r is None:
                if cm.deleted_tag not in (g.get("tags") or []):
                    problems.append(f"Rankr {m.rankr_id} deleted, GHL {m.ghl_id} live and unmarked")
            elif g is not None and r is not None:
                fields = changed_fields(cm.from_ghl(g), cm.from_rankr(r), common_fields(cm))
                if fields:
                    problems.append(f"pair {m.ghl_id}/{m.rankr_id} differs in {fields}")
        problems += [f"GHL {gid} never mapped" for gid in ghl_contacts if gid not in mapped_g]
        problems += [f"Rankr {rid} never mapped" for rid in rankr_live if rid not in mapped_r]
        ghl_tasks = {t["id"]: t for t in ghl_state["tasks"]}
        rankr_tasks = {t["id"]: t for t in rankr_state["tasks"]}
        mapped_tasks = set()
        for m in mappings.list_for_location(location, Entity.TASK):
            mapped_tasks.add(m.ghl_id)
            g, r = ghl_tasks.get(m.ghl_id), rankr_tasks.get(m.rankr_id)
            if g is None and r is not None and not r.get("deletedAt"):
                problems.append(f"task {m.rankr_id} live in Rankr, gone from GHL")
            elif g is not None and r is not None and not r.get("deletedAt"):
                fields = changed_fields(tm.from_ghl(g), tm.from_rankr(r), common_fields(tm))
                if fields:
                    problems.append(f"task pair {m.ghl_id}/{m.rankr_id} differs in {fields}")
        problems += [
            f"GHL task {tid} never mapped"
            for tid, t in ghl_tasks.items()
            if tid not in mapped_tasks and t["contactId"] in mapped_g
        ]
        return problems


def write_requests(stats: dict[str, Any]) -> dict[str, int]:
    """Requests of a sandbox's stats that change data (search POSTs are reads)."""
    return {
        k: v
        for k, v in stats.get("requests", {}).items()
        if v and not k.startswith("GET ") and "/search" not in k and not k.startswith("POST /oauth")
    }
