"""Offline lint of the template's IAM policies with parliament: zero findings."""

from __future__ import annotations

from pathlib import Path

from rankr_ghl_tools.local.iam_policies import lint_documents, lint_template

REPO_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_template_policies_have_no_parliament_findings() -> None:
    findings = lint_template(REPO_TEMPLATE)
    assert findings == [], "\n".join(f"{f.policy}: {f.issue} {f.detail}" for f in findings)


def test_the_linter_reports_a_bad_policy() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValu", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": "arn:aws:sqs:us-east-1:123456789012:q",
            },
        ],
    }
    issues = {f.issue for f in lint_documents({"bad": document})}
    assert "UNKNOWN_ACTION" in issues and "RESOURCE_MISMATCH" in issues
    assert lint_documents({"bad": document}, waivers=issues) == []
