"""What every GHL endpoint group shares: the request engine, per-location calls, parsed answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, overload

import httpx

from rankr_ghl.ghl.ratelimit import RateLimiter
from rankr_ghl.ghl.responses import M, Replay, T, parse_response, parse_wire_response
from rankr_ghl.ghl.tokens import TokenSource
from rankr_ghl.ghl.transport import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    VERSION_CONTACTS,
    HttpCore,
    HttpCoreOwner,
    require_id,
)

SEARCH_MAX_PAGE_LIMIT = 500
SEARCH_PAGE_WINDOW = 10_000  # page+pageLimit reaches this many records; searchAfter beyond


class GhlClientBase(HttpCoreOwner):
    """Owns the request engine; endpoint groups (contacts, tasks and notes) call through `_call`."""

    def __init__(
        self,
        token_source: TokenSource,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        rate_limit_max_wait_s: float | None = None,
        search_page_window: int = SEARCH_PAGE_WINDOW,
        sleep: Callable[[float], None] = time.sleep,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        """``rate_limit_max_wait_s``: fail with GHLRateLimited instead of waiting longer for budget.
        ``search_page_window``: how many records page+pageLimit can reach before searchAfter is used.
        ``event_hooks``: passed to httpx (tests record traffic with them)."""
        if search_page_window < 1:
            raise ValueError("search_page_window must be >= 1")
        self.search_page_window = search_page_window
        self._core = HttpCore(
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limiter=rate_limiter,
            transport=transport,
            token_source=token_source,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            rate_limit_max_wait_s=rate_limit_max_wait_s,
            sleep=sleep,
            event_hooks=event_hooks,
        )

    @property
    def rate_limiter(self) -> RateLimiter:
        return self._core.rate_limiter

    @overload
    def _call(
        self,
        model: type[M],
        method: str,
        template: str,
        location_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        replay: Replay = Replay.SAFE,
        version: str = VERSION_CONTACTS,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> M: ...

    @overload
    def _call(
        self,
        model: Callable[[Any], T],
        method: str,
        template: str,
        location_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        replay: Replay = Replay.SAFE,
        version: str = VERSION_CONTACTS,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> T: ...

    def _call(
        self,
        model: type[M] | Callable[[Any], T],
        method: str,
        template: str,
        location_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        replay: Replay = Replay.SAFE,
        version: str = VERSION_CONTACTS,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> M | T:
        """One call for `location_id`; the answer read by `model`: a pydantic model class, or a wire
        parser (a function of the JSON body, see `contact_wire`) on paths that must not load pydantic."""
        require_id("location_id", location_id)
        body = self._core.request(
            method,
            template,
            path_params=path_params,
            resource_id=location_id,
            version=version,
            replay=replay,
            params=params,
            json_body=json_body,
        )
        if isinstance(model, type):
            return parse_response(model, body, method=method, path=template)
        return parse_wire_response(model, body, method=method, path=template)
