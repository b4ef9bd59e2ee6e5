"""Each GHL-calling function's priority in the shared rate budget is the one docs/rate-budget.md gives."""

from __future__ import annotations

from pathlib import Path

from rankr_ghl.config import Settings
from rankr_ghl_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[3]

# docs/rate-budget.md, "Priority rule": who waits on the call sets the priority.
EXPECTED = {
    "LeadPushFunction": "interactive",  # Rankr (a user) waits on the answer
    "WebhookWorkerFunction": "standard",
    "AgencyInstallFunction": "standard",  # background: the admin's page answered at the callback
    "ReconcileFunction": "background",
}


def test_every_ghl_calling_function_has_the_documented_priority() -> None:
    template = load_template(ROOT / "template.yaml")
    default = Settings().ghl_budget_priority
    seen = {
        logical_id: spec.env.get("GHL_BUDGET_PRIORITY", default)
        for logical_id, spec in template.functions.items()
        if logical_id in EXPECTED
    }
    assert seen == EXPECTED
