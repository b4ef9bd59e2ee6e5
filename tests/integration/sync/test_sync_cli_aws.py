from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.ports import AuditAction, AuditEntry, AuditOutcome
from rankr_ghl.sync.types import Entity
from rankr_ghl_tools.cli import main

pytestmark = pytest.mark.integration


def test_logs_command(audit_log, location: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AUDIT_TABLE", audit_log.table_name)
    monkeypatch.setenv("COLUMNS", "250")
    now = datetime.now(UTC)
    audit_log.record(
        AuditEntry(
            location,
            Entity.CONTACT,
            AuditAction.UPDATE,
            AuditOutcome.SUCCESS,
            "ghl_to_rankr",
            ghl_id="g1",
            rankr_id="r1",
            fields=("email",),
            at=now - timedelta(hours=3),
        )
    )
    audit_log.record(
        AuditEntry(
            location,
            Entity.TASK,
            AuditAction.SKIP,
            AuditOutcome.SKIPPED,
            "ghl_to_rankr",
            ghl_id="t1",
            reason="echo",
            at=now,
        )
    )
    assert main(["logs", "--location", location, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["entity"] for r in rows] == ["task", "contact"]
    assert main(["logs", "--location", location, "--since", "1h", "--json"]) == 0
    assert [json.loads(x)["reason"] for x in capsys.readouterr().out.splitlines()] == ["echo"]
    assert main(["logs", "--location", location, "--entity", "contact"]) == 0
    out = capsys.readouterr().out
    assert "ghl:g1" in out and "email" in out and "t1" not in out


def test_mapping_set_show_clear(sync_state, location: str, tmp_path: Path, monkeypatch, capsys) -> None:
    # The control API's operator ops, answered in this process over the deployment's tables.
    monkeypatch.setenv("SYNC_TABLE", sync_state.table_name)
    doc = default_mapping().document.to_json()
    doc["contact"]["fields"] = doc["contact"]["fields"][:1]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    table: list[str] = []
    assert main(["mapping", "set", "--location", location, *table, str(path)]) == 0
    capsys.readouterr()
    assert main(["mapping", "show", "--location", location, *table]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in shown["contact"]["fields"]] == ["email"]
    path.write_text(
        json.dumps({"version": 1, "contact": {"fields": [{"name": "x", "ghl": "nope", "rankr": "email"}]}})
    )
    assert main(["mapping", "set", "--location", location, *table, str(path)]) == 1  # nothing stored
    assert sync_state.mapping_config.get_scoped_document(location_id=location) is not None
    assert main(["mapping", "clear", "--location", location, *table]) == 0
    assert sync_state.mapping_config.get_scoped_document(location_id=location) is None
