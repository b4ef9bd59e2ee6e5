"""`make run ARGS=--once`: the whole local stack comes up, runs the scenario and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_make_run_once_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "rankr_ghl_tools.run",
            "--once",
            # Free ports: a developer's own `make run` may hold 3000/3001 while the tests run.
            "--gateway-port",
            "0",
            "--invoke-port",
            "0",
            "--log-file",
            str(tmp_path / "functions.log"),
        ],
        cwd=REPO_ROOT,
        env={**env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=240,  # generous: a loaded 2-core box stretches the 25 s scenario past a minute
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    assert "Scenario summary" in output
    assert "0 failed" in output
    for part in (
        "gateway (HTTP API)",
        "Lambda Invoke API",
        "embedded AWS (moto)",
        "GHL sandbox",
        "Rankr sandbox",
    ):
        assert part in output
