"""`GHLSandbox`: serve the sandbox on the shared local HTTP server, with its webhook delivery threads."""

from __future__ import annotations

from typing import Self

from ..served_sandbox import ServedSandbox
from .admin_api import AdminApi
from .admin_client import SandboxAdmin
from .config import SandboxConfig
from .http_front import SandboxFront
from .server import SandboxApp


class GHLSandbox(ServedSandbox[SandboxAdmin]):
    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__("ghl-sandbox", SandboxAdmin, host, port)
        self.config = config or SandboxConfig()
        self.app = SandboxApp(self.config)

    @property
    def public_key_pem(self) -> str:
        return str(self.app.webhooks.signer.public_keys()["ed25519_pem"])

    def start(self) -> Self:
        if self.serving:
            return self
        server = self.serve(SandboxFront(self.app, AdminApi(self.app)).dispatch)
        self.app.webhooks.start()
        server.start()
        return self

    def stop(self) -> None:
        self.stop_serving()
        self.app.webhooks.stop()
