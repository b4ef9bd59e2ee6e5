"""`rankr-ghl install-url` and `rankr-ghl connections ...` against the embedded AWS."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from rankr_ghl import wiring
from rankr_ghl.connections import ConnectionStatus
from rankr_ghl.wiring.oauth import build_install_links
from rankr_ghl_tools.cli import main

pytestmark = pytest.mark.integration


def test_install_url(conn_env, capsys):
    assert main(["install-url", "--rankr-account", "acct_cli"]) == 0
    url = capsys.readouterr().out.strip()
    parts = urlsplit(url)
    assert parts.path == "/oauth/install"
    token = parse_qs(parts.query)["link"][0]
    link = build_install_links(wiring.root()).read(token)
    assert link.rankr_account_id == "acct_cli"
    assert main(["install-url", "--rankr-account", "acct cli"]) == 2  # not an id: clear refusal


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
