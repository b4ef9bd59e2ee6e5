"""The `rankr-ghl` CLI as a client of the control API through the local runtime's Lambda Invoke API:
each command is one ControlFunction invocation, answered exactly as Rankr's would be."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_helpers import control_cli_args, new_id
from rankr_ghl_tools.cli import main
from rankr_ghl_tools.installs import walk_install

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _runs(stack: Any) -> int:
    pool = stack.service.pools.get("ControlFunction")
    return pool.invocations if pool is not None else 0


def test_cli_commands_invoke_the_control_function(e2e_stack, capsys) -> None:
    stack = e2e_stack
    via = control_cli_args(stack)
    account, location = new_id("acctCli"), new_id("locCli")
    before = _runs(stack)

    # install-url mints the link through the function; the install it starts binds the account.
    stack.ghl.admin.create_location(location)
    stack.ghl.admin.consent(location_id=location)
    assert main(["install-url", "--rankr-account", account, *via]) == 0
    link = capsys.readouterr().out.strip()
    walk = walk_install(link)
    assert walk.done is not None and walk.done.status_code == 200, walk.page.text

    assert main(["control", "connection", location, "--rankr-account", account, *via]) == 0
    connection = json.loads(capsys.readouterr().out)["connection"]
    assert connection["status"] == "active" and connection["locationId"] == location

    assert main(["control", "connection", location, "--rankr-account", new_id("acctOther"), *via]) == 2
    assert "not_found" in capsys.readouterr().err

    contact = stack.ghl.admin.create(
        location,
        "contact",
        {"email": f"{new_id('cli')}@cli.example", "firstName": "Cleo"},
        emit_webhook=False,
    )
    transfer = ["control", "transfer", location, "--rankr-account", account, "--ghl-contact", contact["id"]]
    assert main([*transfer, *via]) == 0
    assert json.loads(capsys.readouterr().out)["writes"] == []
    assert main([*transfer, "--apply", *via]) == 0
    writes = json.loads(capsys.readouterr().out)["writes"]
    assert [w["call"] for w in writes if w["system"] == "rankr"] == ["create"]

    # The operators' test-transfer, scoped to the account, is the same op.
    back = ["test-transfer", "--location", location, "--contact", writes[0]["recordId"], "--rankr-contact"]
    assert main([*back, "--rankr-account", account, "--json", *via]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["direction"] == "rankr_to_ghl" and answer["dryRun"] is True and answer["writes"] == []

    assert main(["control", "logs", location, "--rankr-account", account, "--limit", "5", *via]) == 0
    assert json.loads(capsys.readouterr().out)["entries"]

    # connections link: the same op Rankr calls, refused for a location bound to another account.
    assert main(["connections", "link", location, new_id("acctThief"), *via]) == 1
    assert "not_found" in capsys.readouterr().err
    assert _runs(stack) - before == 8
