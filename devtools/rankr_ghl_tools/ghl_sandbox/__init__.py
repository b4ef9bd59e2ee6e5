"""A faithful GoHighLevel API v2 stand-in for tests, benchmarks and local runs (see INTERFACE.md)."""

from .admin_client import SandboxAdmin, SandboxAdminError
from .config import SandboxConfig
from .sandbox import GHLSandbox

__all__ = ["GHLSandbox", "SandboxAdmin", "SandboxAdminError", "SandboxConfig"]
