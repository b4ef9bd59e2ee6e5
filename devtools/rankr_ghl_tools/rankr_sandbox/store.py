"""SQLite-backed state of the Rankr sandbox: contacts, tasks, notes, appointment mirrors, idempotency keys.

One connection guarded by one lock (SQLite serialises writers anyway); WAL when backed by a file so a
`make run` stack keeps its data across restarts. Every public method is atomic.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rankr_ghl_tools.rankr_sandbox.records import (
    DEFAULTS,
    ID_PREFIX,
    ApiProblem,
    ListQuery,
    MonotonicClock,
    apply_patch,
    decode_cursor,
    encode_cursor,
    not_found,
    validation,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent_id TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (account_id, kind, id)
);
CREATE INDEX IF NOT EXISTS records_by_updated ON records (account_id, kind, updated_at, id);
CREATE INDEX IF NOT EXISTS records_by_parent ON records (account_id, kind, parent_id, updated_at, id);
CREATE TABLE IF NOT EXISTS idempotency (
    account_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, scope, key)
);
"""


# ---------------------------------------------------------------- the store


class RankrStore:
    def __init__(self, db_path: str = ":memory:", idempotency_ttl_s: float = 86400.0) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self.db_path = db_path
        self.idempotency_ttl_ms = int(idempotency_ttl_s * 1000)
        if db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        if db_path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.clock = MonotonicClock()
        row = self._db.execute("SELECT MAX(updated_at) FROM records").fetchone()
        if row and row[0]:
            self.clock.observe(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and one SQLite transaction (rolled back on error)."""
        with self._lock:
            if self._depth:  # nested: part of the outer transaction
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def reset(self) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM records")
            db.execute("DELETE FROM idempotency")

    # ------------------------------------------------------------ representation

    @staticmethod
    def to_api(kind: str, row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
        _account, _kind, record_id, parent_id, data, created_at, updated_at, deleted_at = row
        fields = json.loads(data)
        out: dict[str, Any]
        if kind == "appointment":
            out = {"externalId": record_id}
        else:
            out = {"id": record_id}
            if kind in ("task", "note"):
                out["contactId"] = parent_id
        out.update(fields)
        out["createdAt"] = created_at
        out["updatedAt"] = updated_at
        out["deletedAt"] = deleted_at
        return out

    def _get_row(self, account_id: str, kind: str, record_id: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._db.execute(
            "SELECT * FROM records WHERE account_id=? AND kind=? AND id=?", (account_id, kind, record_id)
        ).fetchone()
        return row

    def _require(
        self, account_id: str, kind: str, record_id: str, parent_id: str | None = None
    ) -> tuple[Any, ...]:
        row = self._get_row(account_id, kind, record_id)
        if row is None or (parent_id is not None and row[3] != parent_id):
            raise not_found(kind, record_id)
        return row

    def _require_live_contact(self, account_id: str, contact_id: str) -> None:
        row = self._require(account_id, "contact", contact_id)
        if row[7] is not None:
            raise ApiProblem(409, "resource-deleted", "Conflict", f"contact {contact_id} is deleted")

    # ------------------------------------------------------------ reads

    def get(self, account_id: str, kind: str, record_id: str, parent_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            return self.to_api(kind, self._require(account_id, kind, record_id, parent_id))

    def list_records(self, account_id: str, kind: str, query: ListQuery) -> dict[str, Any]:
        include_deleted = (
            query.include_deleted if query.include_deleted is not None else query.updated_since is not None
        )
        sql = ["SELECT * FROM records WHERE account_id=? AND kind=?"]
        args: list[Any] = [account_id, kind]
        if query.parent_id is not None:
            sql.append("AND parent_id=?")
            args.append(query.parent_id)
        if query.updated_since is not None:
            sql.append("AND updated_at >= ?")
            args.append(query.updated_since)
        if not include_deleted:
            sql.append("AND deleted_at IS NULL")
        if "contactId" in query.filters:
            sql.append("AND json_extract(data, '$.contactId') = ?")
            args.append(query.filters["contactId"])
        if query.cursor is not None:
            after_updated, after_id = decode_cursor(query.cursor)
            sql.append("AND (updated_at, id) > (?, ?)")
            args.extend([after_updated, after_id])
        sql.append("ORDER BY updated_at, id LIMIT ?")
        args.append(query.limit + 1)
        with self._lock:
            if kind in ("task", "note") and query.parent_id is not None:
                self._require(account_id, "contact", query.parent_id)
            rows = self._db.execute(" ".join(sql), args).fetchall()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        items = [self.to_api(kind, row) for row in rows]
        next_cursor = encode_cursor(rows[-1][6], rows[-1][2]) if more and rows else None
        return {"items": items, "nextCursor": next_cursor}

    def dump(self, account_id: str | None, include_deleted: bool) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {"contacts": [], "tasks": [], "notes": [], "appointments": []}
        sql = "SELECT * FROM records"
        args: list[Any] = []
        clauses = []
        if account_id is not None:
            clauses.append("account_id=?")
            args.append(account_id)
        if not include_deleted:
            clauses.append("deleted_at IS NULL")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY updated_at, id"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        for row in rows:
            item = self.to_api(row[1], row)
            item["accountId"] = row[0]
            out[row[1] + "s"].append(item)
        return out

    # ------------------------------------------------------------ writes

    def _insert(
        self,
        account_id: str,
        kind: str,
        record_id: str,
        *,
        parent_id: str | None,
        fields: dict[str, Any],
        created_at: str,
        updated_at: str,
        deleted_at: str | None = None,
    ) -> dict[str, Any]:
        row = (
            account_id,
            kind,
            record_id,
            parent_id,
            json.dumps(fields, separators=(",", ":")),
            created_at,
            updated_at,
            deleted_at,
        )
        self._db.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?,?)", row)
        return self.to_api(kind, row)

    def create(
        self,
        account_id: str,
        kind: str,
        body: dict[str, Any],
        *,
        parent_id: str | None = None,
        record_id: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> dict[str, Any]:
        """Create a contact, task or note (body already validated)."""
        with self.transaction():
            if kind in ("task", "note"):
                assert parent_id is not None
                self._require_live_contact(account_id, parent_id)
            record_id = record_id or ID_PREFIX[kind] + secrets.token_hex(10)
            if self._get_row(account_id, kind, record_id) is not None:
                raise ApiProblem(409, "conflict", "Conflict", f"{kind} {record_id} already exists")
            fields = {**DEFAULTS[kind], **body}
            now = self.clock.tick()
            if updated_at is not None:
                self.clock.observe(updated_at)
            return self._insert(
                account_id,
                kind,
                record_id,
                parent_id=parent_id,
                fields=fields,
                created_at=created_at or updated_at or now,
                updated_at=updated_at or now,
            )

    def bulk_create_contacts(self, account_id: str, bodies: Iterable[dict[str, Any]]) -> list[str]:
        """Insert many contacts in one transaction sharing one write instant (fast seeding)."""
        ids: list[str] = []
        with self.transaction() as db:
            now = self.clock.tick()
            rows = []
            for body in bodies:
                record_id = ID_PREFIX["contact"] + secrets.token_hex(10)
                ids.append(record_id)
                fields = {**DEFAULTS["contact"], **body}
                rows.append(
                    (
                        account_id,
                        "contact",
                        record_id,
                        None,
                        json.dumps(fields, separators=(",", ":")),
                        now,
                        now,
                        None,
                    )
                )
            db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?)", rows)
        return ids

    def update(
        self,
        account_id: str,
        kind: str,
        record_id: str,
        changes: dict[str, Any],
        *,
        parent_id: str | None = None,
        force_bump: bool = False,
    ) -> dict[str, Any]:
        """PATCH semantics (changes already validated). No change -> no write, unless `force_bump`."""
        with self.transaction() as db:
            row = self._require(account_id, kind, record_id, parent_id)
            if row[7] is not None:
                raise ApiProblem(409, "resource-deleted", "Conflict", f"{kind} {record_id} is deleted")
            current = json.loads(row[4])
            merged = apply_patch(kind, current, changes)
            if merged == current and not force_bump:
                return self.to_api(kind, row)
            now = self.clock.tick()
            db.execute(
                "UPDATE records SET data=?, updated_at=? WHERE account_id=? AND kind=? AND id=?",
                (json.dumps(merged, separators=(",", ":")), now, account_id, kind, record_id),
            )
            return self.to_api(kind, self._require(account_id, kind, record_id))

    def soft_delete(
        self, account_id: str, kind: str, record_id: str, *, parent_id: str | None = None
    ) -> dict[str, Any]:
        """Idempotent: deleting a deleted record changes nothing."""
        with self.transaction() as db:
            row = self._require(account_id, kind, record_id, parent_id)
            if row[7] is None:
                now = self.clock.tick()
                db.execute(
                    "UPDATE records SET deleted_at=?, updated_at=? WHERE account_id=? AND kind=? AND id=?",
                    (now, now, account_id, kind, record_id),
                )
                row = self._require(account_id, kind, record_id)
            return self.to_api(kind, row)

    def put_appointment(
        self, account_id: str, external_id: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Mirror upsert (body validated, full state). Returns (201|200, record)."""
        fields = {**DEFAULTS["appointment"], **body}
        with self.transaction() as db:
            if (
                fields["contactId"] is not None
                and self._get_row(account_id, "contact", fields["contactId"]) is None
            ):
                raise validation([{"field": "contactId", "message": "is not a contact of this account"}])
            row = self._get_row(account_id, "appointment", external_id)
            if row is None:
                now = self.clock.tick()
                return 201, self._insert(
                    account_id,
                    "appointment",
                    external_id,
                    parent_id=None,
                    fields=fields,
                    created_at=now,
                    updated_at=now,
                )
            if json.loads(row[4]) == fields and row[7] is None:
                return 200, self.to_api("appointment", row)
            now = self.clock.tick()
            db.execute(
                "UPDATE records SET data=?, updated_at=?, deleted_at=NULL "
                "WHERE account_id=? AND kind='appointment' AND id=?",
                (json.dumps(fields, separators=(",", ":")), now, account_id, external_id),
            )
            return 200, self.to_api("appointment", self._require(account_id, "appointment", external_id))

    # ------------------------------------------------------------ idempotency

    def idempotent_create(
        self,
        account_id: str,
        scope: str,
        key: str,
        raw_body: Any,
        create: Any,
    ) -> tuple[int, dict[str, Any], bool]:
        """Run `create()` once per (account, scope, key); returns (status, body, replayed).

        Same key + same body -> the stored original with 200; same key + other body -> 409 naming the
        record the key created (`resourceId`, `resourceLocation`), so the caller can adopt and PATCH it.
        `scope` is "METHOD /collection/path".
        """
        body_hash = hashlib.sha256(
            json.dumps(raw_body, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        now_ms = int(time.time() * 1000)
        with self.transaction():
            row = self._db.execute(
                "SELECT body_hash, response, created_ms FROM idempotency "
                "WHERE account_id=? AND scope=? AND key=?",
                (account_id, scope, key),
            ).fetchone()
            if row is not None and now_ms - row[2] <= self.idempotency_ttl_ms:
                if row[0] != body_hash:
                    original_id = str(json.loads(row[1])["id"])
                    raise ApiProblem(
                        409,
                        "idempotency-key-reused",
                        "Conflict",
                        "this Idempotency-Key was already used with a different request body; "
                        "resourceId names the record it created",
                        extensions={
                            "resourceId": original_id,
                            "resourceLocation": f"{scope.split(' ', 1)[-1]}/{original_id}",
                        },
                    )
                return 200, json.loads(row[1]), True
            record: dict[str, Any] = create()  # joins this transaction: record and key commit together
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?,?,?,?,?,?,?)",
                (account_id, scope, key, body_hash, 201, json.dumps(record), now_ms),
            )
            return 201, record, False
