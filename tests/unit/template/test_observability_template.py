"""Alarms and the dashboard watch metrics the code really emits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "rankr_ghl" / "rankr_ghl"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template, errors = decode(str(ROOT / "template.yaml"))
    assert not errors and template is not None
    return dict(template["Resources"])


def _layer_source() -> str:
    """The shipped code: the layer and the handlers."""
    files = [*LAYER.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
    return "\n".join(path.read_text() for path in files)


def _dashboard_metrics(resources: dict[str, Any]) -> set[str]:
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${...} substitutions are strings inside the JSON, so the body parses as it is.
    widgets = json.loads(body)["widgets"]
    names = set()
    for widget in widgets:
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], dict):  # a SEARCH over every dimension value of a metric
                names.update(re.findall(r'MetricName="(\w+)"', row[0].get("expression", "")))
            elif row[0] == "RankrGhl" or row[0] == "." and len(row) > 1:
                names.add(row[1])
    return names


def test_dashboard_shows_the_metrics_emitted_with_a_reason_dimension(resources: dict[str, Any]) -> None:
    """A metric with a `reason` dimension is not in a widget that names only `service`: a SEARCH shows
    every reason of it."""
    assert {"WebhooksRejected", "WebhookEventsSkipped"} <= _dashboard_metrics(resources)


def test_custom_metric_alarms_watch_emitted_metrics(resources: dict[str, Any]) -> None:
    source = _layer_source()
    alarms = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"] == "RankrGhl"
    ]
    assert {a["MetricName"] for a in alarms} >= {
        "TokenNeedsReauth",
        "TokenWriteFailed",
        "ReconcileStaleLocations",
    }
    for alarm in alarms:
        assert re.search(rf'"{alarm["MetricName"]}"', source), f"nothing emits {alarm['MetricName']}"


def test_dashboard_custom_metrics_are_emitted(resources: dict[str, Any]) -> None:
    source = _layer_source()
    names = _dashboard_metrics(resources)
    assert len(names) >= 10
    missing = sorted(n for n in names if f'"{n}"' not in source)
    assert not missing, f"dashboard shows metrics nothing emits: {missing}"


def test_every_function_and_dlq_has_an_alarm(resources: dict[str, Any]) -> None:
    watched = json.dumps([r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"])
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert f'"Ref": "{name}"' in watched, f"no error alarm for {name}"
        if resource["Type"] == "AWS::SQS::Queue" and ("DLQ" in name or "Failure" in name):
            assert f'"{name}"' in watched, f"no alarm on {name}"
