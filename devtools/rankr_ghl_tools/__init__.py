"""Dev and operator tooling: sandboxes, local runtime, CLI. Never shipped in the Lambda layer."""
