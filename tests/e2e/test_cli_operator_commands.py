"""The `rankr-ghl` CLI's cross-account commands through the local runtime's Lambda Invoke API: each is
an operator op on ControlFunction's `ops` alias (which `live` refuses), answered by the function over
the stack's tables and queues; the CLI itself calls no table, queue or secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import control_cli_args, install_location, new_id
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl_tools.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]


def _runs(stack: Any) -> int:
    pool = stack.service.pools.get("ControlFunction")
    return pool.invocations if pool is not None else 0


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_cross_account_cli_commands_go_through_the_ops_alias(e2e_stack, capsys, tmp_path: Path) -> None:
    stack = e2e_stack
    # Rankr's alias ARN: the client puts the operators' alias on it for these commands.
    via = control_cli_args(stack)
    account, location = new_id("acctOps"), new_id("locOps")
    install_location(stack, location, account)
    contact = stack.ghl.admin.create(
        location, "contact", {"email": f"{new_id('ops')}@ops.example", "firstName": "Opal"}, emit_webhook=True
    )
    stack.drain(timeout=120)
    capsys.readouterr()
    before = _runs(stack)
    calls = 0

    # connections list / show / pause / resume, across accounts.
    assert main(["connections", "list", "--json", *via]) == 0
    calls += 1
    rows = {row["connection_id"]: row for row in _json_lines(capsys.readouterr().out)}
    assert rows[location]["rankr_account_id"] == account and rows[location]["status"] == "active"
    assert main(["connections", "list", "--rankr-account", account, "--json", *via]) == 0
    calls += 1
    assert [row["connection_id"] for row in _json_lines(capsys.readouterr().out)] == [location]
    assert main(["connections", "show", location, "--json", *via]) == 0
    calls += 1
    shown = json.loads(capsys.readouterr().out)
    assert shown["connection_id"] == location and shown["token_expires_at"] and "access_token" not in shown
    assert shown["company_id"]
    assert main(["connections", "list", "--company", shown["company_id"], "--json", *via]) == 0
    calls += 1
    assert location in {row["connection_id"] for row in _json_lines(capsys.readouterr().out)}
    assert main(["connections", "pause", location, "--reason", "e2e", *via]) == 0
    calls += 1
    assert "paused" in capsys.readouterr().out
    assert main(["connections", "pause", location, *via]) == 1  # already paused: the op's error
    calls += 1
    assert "invalid_state" in capsys.readouterr().err
    assert main(["connections", "resume", location, *via]) == 0
    calls += 1
    assert main(["connections", "show", new_id("locNone"), *via]) == 1
    calls += 1
    assert "not_found" in capsys.readouterr().err

    # logs of the location (the webhook's audit entries), field names only.
    assert main(["logs", "--location", location, "--json", *via]) == 0
    calls += 1
    entries = _json_lines(capsys.readouterr().out)
    assert entries and any(contact["id"] in row["ids"] for row in entries)
    assert "Opal" not in json.dumps(entries)

    # mapping set / show / clear of the location.
    document = default_mapping().document.to_json()
    document["contact"]["fields"] = document["contact"]["fields"][:1]
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(document))
    assert main(["mapping", "set", "--location", location, str(path), *via]) == 0
    calls += 1
    assert capsys.readouterr().out.startswith("stored mapping ")
    assert main(["mapping", "show", "--location", location, *via]) == 0
    calls += 1
    shown_mapping = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in shown_mapping["contact"]["fields"]] == ["email"]
    assert main(["mapping", "clear", "--location", location, *via]) == 0
    calls += 1
    capsys.readouterr()

    # test-transfer without an account: the connection's account, a dry run.
    assert main(["test-transfer", "--location", location, "--contact", contact["id"], "--json", *via]) == 0
    calls += 1
    preview = json.loads(capsys.readouterr().out)
    assert preview["found"] is True and preview["ghlContactId"] == contact["id"]

    # reconcile run: queued for the worker, followed until its report.
    assert (
        main(["reconcile", "run", "--location", location, "--dry-run", "--json", "--wait", "180", *via]) == 0
    )
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["locationId"] == location and report["dryRun"] is True and report["complete"] is True
    calls = _runs(stack) - before  # the status polls vary in number

    # dlq list / replay: a reconcile job of the location dead-lettered, listed and sent back.
    sqs = stack.client("sqs")
    job = ReconcileJob(location, Mode.INCREMENTAL, dry_run=True, run_id=f"dlq{new_id('r')}")
    sqs.send_message(
        QueueUrl=stack.template.queues["ReconcileDLQ"].url,
        MessageBody=json.dumps(job.to_message()),
        MessageGroupId=location,
        MessageDeduplicationId=job.run_id,
    )
    assert main(["dlq", "list", "--queue", "reconcile", "--location", location, "--json", *via]) == 0
    calls += 1
    listed = _json_lines(capsys.readouterr().out)
    assert [row["locationId"] for row in listed] == [location] and listed[0]["group"] == location
    assert job.run_id not in json.dumps(listed)  # bodies are never shown
    assert main(["dlq", "replay", "--queue", "reconcile", "--location", location, *via]) == 0
    calls += 1
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "queue": "reconcile",
        "replayed": 1,
        "failed": 0,
    }
    assert main(["dlq", "list", "--queue", "reconcile", "--location", location, "--json", *via]) == 0
    calls += 1
    assert _json_lines(capsys.readouterr().out) == []
    stack.drain(timeout=120)

    # At least one ControlFunction invocation per command (and poll); the dead-letter sweep's
    # schedule may add its own.
    assert _runs(stack) - before >= calls
