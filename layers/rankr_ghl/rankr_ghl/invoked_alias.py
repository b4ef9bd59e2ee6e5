"""The alias a Lambda invocation came through, read from the invoked function ARN.

Lambda puts the qualifier the caller invoked into `context.invoked_function_arn`
(`arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>`), and a caller can invoke a
qualifier only with `lambda:InvokeFunction` on it: the alias is as trustworthy as the IAM grant that
let the call in. An unqualified invocation ($LATEST) has a 7-part ARN and no alias.
"""

from __future__ import annotations

from typing import Any

_QUALIFIED_ARN_PARTS = 8


def invoked_alias(context: Any) -> str | None:
    """The qualifier of the invoked ARN (an alias name, `$LATEST` or a version), or None unqualified."""
    arn = str(getattr(context, "invoked_function_arn", "") or "")
    parts = arn.split(":")
    if len(parts) != _QUALIFIED_ARN_PARTS or not parts[7]:
        return None
    return parts[7]
