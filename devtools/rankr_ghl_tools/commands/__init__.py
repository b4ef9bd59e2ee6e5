"""CLI command groups. Each module defines `register(subparsers)` and sets `handler` defaults."""
