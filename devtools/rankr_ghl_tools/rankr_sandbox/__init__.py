"""Rankr sandbox: a real HTTP server implementing docs/rankr-api.yaml, state in SQLite (see INTERFACE.md)."""

from __future__ import annotations

from typing import Self

from rankr_ghl_tools.rankr_sandbox.admin import RankrSandboxAdmin
from rankr_ghl_tools.rankr_sandbox.http_front import RankrFront
from rankr_ghl_tools.rankr_sandbox.server import (
    DEFAULT_API_KEY,
    MAX_ADMIN_BODY_BYTES,
    RankrApp,
    RankrSandboxConfig,
)
from rankr_ghl_tools.served_sandbox import ServedSandbox

__all__ = ["DEFAULT_API_KEY", "RankrSandbox", "RankrSandboxAdmin", "RankrSandboxConfig"]


class RankrSandbox(ServedSandbox[RankrSandboxAdmin]):
    """`RankrSandbox(config, host, port=0)`; `start()` serves in background threads until `stop()`."""

    def __init__(
        self, config: RankrSandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__("rankr-sandbox", RankrSandboxAdmin, host, port)
        self.config = config or RankrSandboxConfig()
        self.app: RankrApp | None = None

    @property
    def api_key(self) -> str:
        return self.config.api_keys[0]

    def start(self) -> Self:
        if self.serving:
            return self
        self.app = RankrApp(self.config)
        self.serve(RankrFront(self.app).dispatch, max_body_bytes=MAX_ADMIN_BODY_BYTES).start()
        return self

    def stop(self) -> None:
        self.stop_serving()
        if self.app is not None:
            self.app.store.close()
            self.app = None
