from __future__ import annotations

import json
from pathlib import Path

import pytest
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl_tools.cli import main


def test_mapping_validate_reports_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "version": 1,
                "contact": {
                    "fields": [
                        {"name": "email", "ghl": "emial", "rankr": "email", "transforms": ["upper"]},
                        {"name": "phone", "ghl": "phone", "rankr": "phone", "direction": "sideways"},
                    ]
                },
            }
        )
    )
    assert main(["mapping", "validate", str(bad)]) == 1
    out = capsys.readouterr()
    lines = [line for line in out.out.splitlines() if line.startswith("  - ")]
    assert len(lines) == 1 and "direction" in lines[0]  # structure first: the bad enum
    bad.write_text(
        json.dumps(
            {
                "version": 1,
                "contact": {
                    "fields": [
                        {"name": "email", "ghl": "emial", "rankr": "email", "transforms": ["upper"]},
                    ]
                },
            }
        )
    )
    assert main(["mapping", "validate", str(bad)]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  - ")]
    assert len(lines) == 2
    assert "unknown GHL contact field 'emial'" in lines[0] and "unknown transform 'upper'" in lines[1]


def test_mapping_validate_accepts_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(default_mapping().document.to_json()))
    assert main(["mapping", "validate", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
