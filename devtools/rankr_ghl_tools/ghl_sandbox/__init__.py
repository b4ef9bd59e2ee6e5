"""A faithful GoHighLevel API v2 stand-in for tests, benchmarks and local runs (see INTERFACE.md)."""

from .admin_client import SandboxAdmin, SandboxAdminError
from .config import SandboxConfig
from .sandbox import GHLSandbox
from .variants import SWITCHES, pick_variants

__all__ = ["SWITCHES", "GHLSandbox", "SandboxAdmin", "SandboxAdminError", "SandboxConfig", "pick_variants"]
