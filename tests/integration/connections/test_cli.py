"""`rankr-ghl install-url` and `rankr-ghl connections ...` against the embedded AWS."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from rankr_ghl import wiring
from rankr_ghl.connections import ConnectionStatus, StateSigner
from rankr_ghl_tools.cli import main

pytestmark = pytest.mark.integration


def test_install_url(conn_env, capsys):
    assert main(["install-url", "--rankr-account", "acct_cli"]) == 0
    url = capsys.readouterr().out.strip()
    parts = urlsplit(url)
    assert parts.path == "/v2/oauth/chooselocation"
    q = parse_qs(parts.query)
    assert q["client_id"] == [conn_env.ghl.config.client_id]
    key = wiring.root().app_secret().state_signing_key.get_secret_value()
    assert StateSigner(key).verify(q["state"][0]).rankr_account_id == "acct_cli"


def test_connections_show_link_pause_resume(conn_env, capsys):
    loc = conn_env.new_id()
    bundle = conn_env.install_location(loc)
    assert main(["connections", "show", loc, "--json"]) == 0
    out = capsys.readouterr().out
    view = json.loads(out)
    assert view["status"] == "active" and view["token_expires_at"]
    assert bundle.access_token.get_secret_value() not in out
    assert bundle.refresh_token.get_secret_value() not in out

    assert main(["connections", "link", loc, "acct_linked"]) == 0
    assert main(["connections", "pause", loc]) == 0
    record = wiring.root().connection_store().get(loc)
    assert record.status is ConnectionStatus.PAUSED and record.rankr_account_id == "acct_linked"
    assert main(["connections", "pause", loc]) == 1  # already paused: clear error, non-zero exit
    assert main(["connections", "resume", loc]) == 0
    assert wiring.root().connection_store().get(loc).status is ConnectionStatus.ACTIVE

    assert main(["connections", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(row["connection_id"] == loc for row in listed)
    assert main(["connections", "show", "does-not-exist"]) == 1
