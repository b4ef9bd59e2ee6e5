"""IAM proven by the calls the code makes: every AWS call recorded in this pytest session is granted.

tests/conftest.py turns recording on for the whole session (`RANKR_GHL_AWS_CALLS_DIR`): every local
runtime worker of the integration and e2e tests (and the `make run` subprocess) writes each AWS call it
makes. `conftest.py` moves this test after every other e2e test, so it judges all of them, against the
role policies of template.yaml (SAM policy templates expanded by aws-sam-translator). Moto enforces no
IAM: without this, a call the template does not grant passes every other test and fails on AWS.

Run alone, the session has recorded nothing yet for some functions: the `make run` scenario is then
run on the e2e stack first, so the check still covers every function.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rankr_ghl_tools.local.aws_calls import AWS_CALLS_DIR_ENV
from rankr_ghl_tools.local.iam_check import IamReport, check_directory, format_report

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def _check(directory: Path) -> IamReport:
    report = check_directory(directory, TEMPLATE)
    (directory / "iam-report.json").parent.mkdir(parents=True, exist_ok=True)
    (directory / "iam-report.json").write_text(json.dumps(report.to_json(), indent=2, default=str))
    return report


def test_every_recorded_aws_call_is_granted_by_the_template(request: pytest.FixtureRequest) -> None:
    directory = Path(os.environ[AWS_CALLS_DIR_ENV])
    report = _check(directory)
    if report.unrecorded_functions:
        from rankr_ghl_tools.scenario import ScenarioContext, load_steps, run_steps

        stack = request.getfixturevalue("e2e_stack")
        outcomes = run_steps(ScenarioContext(stack=stack), load_steps())
        assert all(o.result.ok for o in outcomes), [o.result.summary for o in outcomes if not o.result.ok]
        stack.drain(timeout=60)
        report = _check(directory)
    print(format_report(report))  # the unused grants, for the record (also in iam-report.json)
    assert report.unmapped == [], "operations with no IAM mapping (add a row to iam_check): " + ", ".join(
        report.unmapped
    )
    assert report.missing == [], "calls the template does not grant:\n" + "\n".join(map(str, report.missing))
    assert report.unrecorded_functions == [], f"functions never exercised: {report.unrecorded_functions}"
    assert report.calls_recorded > 0 and report.distinct_operations > 0
