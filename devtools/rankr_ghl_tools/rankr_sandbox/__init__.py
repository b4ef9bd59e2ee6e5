"""Rankr sandbox: a real HTTP server implementing docs/rankr-api.yaml, state in SQLite (see INTERFACE.md)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from rankr_ghl_tools.rankr_sandbox.admin import RankrSandboxAdmin
from rankr_ghl_tools.rankr_sandbox.server import DEFAULT_API_KEY, RankrApp, RankrSandboxConfig, _Server

__all__ = ["DEFAULT_API_KEY", "RankrSandbox", "RankrSandboxAdmin", "RankrSandboxConfig"]


class RankrSandbox:
    """`RankrSandbox(config, host, port=0)`; `start()` serves in background threads until `stop()`."""

    def __init__(
        self, config: RankrSandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or RankrSandboxConfig()
        self.host = host
        self.port = port
        self.app: RankrApp | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._admin: RankrSandboxAdmin | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Rankr sandbox is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def api_key(self) -> str:
        return self.config.api_keys[0]

    @property
    def admin(self) -> RankrSandboxAdmin:
        if self._admin is None:
            self._admin = RankrSandboxAdmin(self.url)
        return self._admin

    def start(self) -> Self:
        if self._server is not None:
            return self
        self.app = RankrApp(self.config)
        self._server = _Server((self.host, self.port), self.app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="rankr-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.app is not None:
            self.app.store.close()
            self.app = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
