"""The vault's durable writes of a rotated pair (see `rankr_ghl.connections.vault`).

A rotated pair is written to its secret, retried for as long as the invocation's remaining time allows
(the lease extended between attempts). If the secret stays unwritable the pair goes to the connection
item's pending slot, which every later refresh reconciles first (`_latest_stored`). Only if that fails
too does the pair stay in memory with the lease held. Saving a valid pair clears a needs_reauth mark set
by a container that spent a superseded refresh token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rankr_ghl.connections.errors import ConnectionsError, ConnectionUninstalled
from rankr_ghl.connections.models import ConnectionStatus, TokenBundle
from rankr_ghl.connections.ports import ConnectionStore, TokenStore
from rankr_ghl.observability import logger


@dataclass(frozen=True)
class VaultConfig:
    refresh_margin_s: float = 300.0  # GHL tokens live 24 h; renew 5 min early
    cache_ttl_s: float = 300.0  # re-read the secret at least this often
    lease_ttl_s: float = 25.0  # below GHL's 30 s refresh-token reuse grace
    lease_wait_s: float = 10.0  # how long a loser waits for the winner's new pair
    poll_interval_s: float = 0.2
    write_attempts: int | None = None  # None: as many as the invocation's remaining time allows
    write_backoff_s: float = 0.25
    write_backoff_max_s: float = 2.0
    # Kept free at the end of the invocation for the fallback write and the caller's own work.
    write_reserve_s: float = 2.0
    # A refresh is not started with less than this left: GHL's answer could not be stored safely.
    refresh_min_remaining_s: float = 5.0
    # The write budget when the invocation's remaining time is unknown (outside a Lambda invocation).
    default_budget_s: float = 8.0
    reauth_memo_s: float = 60.0  # fail fast this long, then re-check the record (a reinstall heals it)
    inactive_retry_s: float = 300.0  # "Location is not active": try again after this
    forced_refresh_min_interval_s: float = 60.0  # at most one 401-triggered refresh per connection


class MetricSink(Protocol):
    def __call__(self, name: str, value: float = 1) -> None: ...


@dataclass
class _Entry:
    bundle: TokenBundle
    loaded_at: float
    unsaved: bool = False  # rotated pair not yet persisted: the only copy lives here
    replaced_refresh_token: str | None = None  # what the store still holds while unsaved


class DurableWrites:
    """Mixed into `TokenVault`, whose constructor sets these attributes."""

    _tokens: TokenStore
    _connections: ConnectionStore
    _cfg: VaultConfig
    _clock: Callable[[], float]
    _sleep: Callable[[float], None]
    _metric: MetricSink
    _remaining_s: Callable[[], float | None]
    _cache: dict[str, _Entry]
    _blocked: dict[str, Any]
    _guard: threading.Lock
    owner: str

    def _latest_stored(self, connection_id: str, *, reconcile: bool) -> TokenBundle | None:
        """The secret, or the pending pair when a refresh could only store it in the fallback slot.

        With `reconcile` (the caller holds the lease) a newer pending pair is copied into the secret
        and the slot cleared; a pending pair never revives a deleted (uninstalled) secret.
        """
        stored = self._tokens.read(connection_id, fresh=True)
        if stored is None:
            return None
        pending = self._connections.read_pending_token(connection_id)
        # A tie goes to the pending pair: it is only ever written after the secret refused a newer pair.
        if pending is None or pending.issued_at < stored.issued_at or _same_pair(pending, stored):
            return stored
        if reconcile:
            try:
                self._tokens.replace(connection_id, pending)
            except ConnectionsError as exc:
                if not exc.retryable:
                    return None  # deleted meanwhile: uninstalled
                logger.warning(
                    "pending token still not copied to the secret", extra={"connection_id": connection_id}
                )
            except Exception as exc:
                logger.warning(
                    "pending token still not copied to the secret",
                    extra={"connection_id": connection_id, "error": type(exc).__name__},
                )
            else:
                self._connections.clear_pending_token(connection_id, pending.issued_at)
                self._metric("TokenPendingReconciled")
                logger.info("pending token copied to the secret", extra={"connection_id": connection_id})
                self._heal(connection_id)
        return pending

    def _is_latest(self, connection_id: str, sent: TokenBundle) -> bool:
        """Is `sent` still the newest pair anyone stored (secret or pending slot)?"""
        entry = self._cache.get(connection_id)
        if entry is not None and entry.unsaved and entry.bundle is sent:
            return True  # our own in-memory pair is newer than anything stored
        try:
            latest = self._latest_stored(connection_id, reconcile=False)
        except Exception:
            return False  # cannot tell: do not condemn the connection on a storage hiccup
        if latest is None:
            return True
        return _refresh_value(latest) == _refresh_value(sent)

    def _write_deadline(self) -> float:
        remaining = self._remaining_s()
        budget = self._cfg.default_budget_s if remaining is None else remaining
        return self._clock() + max(0.0, budget - self._cfg.write_reserve_s)

    def _persist_new(self, connection_id: str, previous: TokenBundle, new: TokenBundle) -> None:
        entry = self._cache.get(connection_id)
        replaced = (
            entry.replaced_refresh_token if entry is not None and entry.unsaved else _refresh_value(previous)
        )
        deadline = self._write_deadline()
        attempt = 0
        while True:
            try:
                self._tokens.replace(connection_id, new)
            except ConnectionUninstalled:
                self._cache.pop(connection_id, None)
                raise
            except Exception as exc:
                attempt += 1
                logger.warning(
                    "token secret write failed",
                    extra={"connection_id": connection_id, "attempt": attempt, "error": type(exc).__name__},
                )
                pause = min(self._cfg.write_backoff_s * (2 ** (attempt - 1)), self._cfg.write_backoff_max_s)
                capped = self._cfg.write_attempts is not None and attempt >= self._cfg.write_attempts
                if capped or self._clock() + pause >= deadline:
                    break
                self._sleep(pause)
                self._extend_lease(connection_id)
                continue
            self._cache[connection_id] = _Entry(new, self._clock())
            return
        now = self._clock()
        try:
            self._connections.save_pending_token(connection_id, new)
        except Exception as exc:
            logger.error(
                "pending token write failed too",
                extra={"connection_id": connection_id, "error": type(exc).__name__},
            )
        else:
            # Durable in the second place: the next refresh (any container) reconciles it.
            self._metric("TokenSavedAsPending")
            logger.warning(
                "rotated token stored in the pending slot; the secret write will be retried",
                extra={"connection_id": connection_id},
            )
            self._cache[connection_id] = _Entry(new, now)
            return
        # Keep the only copy of the rotated pair; hold the lease so nobody spends the old refresh token.
        self._metric("TokenWriteFailed")
        logger.error(
            "rotated token kept in memory only; will retry the write", extra={"connection_id": connection_id}
        )
        self._cache[connection_id] = _Entry(new, now, unsaved=True, replaced_refresh_token=replaced)

    def _extend_lease(self, connection_id: str) -> None:
        try:
            self._connections.acquire_lease(connection_id, self.owner, self._cfg.lease_ttl_s, self._clock())
        except Exception:  # best effort: the write loop goes on either way
            logger.warning("could not extend the refresh lease", extra={"connection_id": connection_id})

    def _heal(self, connection_id: str) -> None:
        """A valid pair was saved: a needs_reauth mark (set by a container that spent a superseded
        refresh token) no longer holds."""
        try:
            connection = self._connections.get(connection_id)
            if connection is not None and connection.status is ConnectionStatus.NEEDS_REAUTH:
                self._connections.set_status(connection_id, ConnectionStatus.ACTIVE, None)
                self._metric("TokenReauthCleared")
                logger.info("valid pair saved; needs_reauth cleared", extra={"connection_id": connection_id})
        except Exception:
            logger.exception("could not clear needs_reauth", extra={"connection_id": connection_id})
        with self._guard:
            self._blocked.pop(connection_id, None)

    def _retry_unsaved(self, connection_id: str, entry: _Entry) -> None:
        """Another go at persisting an in-memory-only pair (caller holds the per-connection lock)."""
        now = self._clock()
        held = self._connections.acquire_lease(connection_id, self.owner, self._cfg.lease_ttl_s, now)
        if not held:
            # Our lease lapsed and someone else holds it: only overwrite if the store still has the
            # pair we replaced (otherwise theirs is newer and ours may already be revoked).
            stored = self._tokens.read(connection_id, fresh=True)
            stored_rt = stored.refresh_token.get_secret_value() if stored and stored.refresh_token else None
            if stored is not None and stored_rt != entry.replaced_refresh_token:
                self._cache[connection_id] = _Entry(stored, now)
                self._metric("TokenWriteSuperseded")
                return
        try:
            self._tokens.replace(connection_id, entry.bundle)
        except ConnectionUninstalled:
            self._cache.pop(connection_id, None)
            if held:
                self._release(connection_id)
            raise
        except Exception as exc:
            self._metric("TokenWriteFailed")
            logger.warning(
                "token secret write still failing",
                extra={"connection_id": connection_id, "error": type(exc).__name__},
            )
            return
        self._cache[connection_id] = _Entry(entry.bundle, now)
        self._metric("TokenWriteRecovered")
        logger.info("rotated token persisted after earlier failures", extra={"connection_id": connection_id})
        self._heal(connection_id)
        if held:
            self._release(connection_id)

    def _release(self, connection_id: str) -> None:
        try:
            self._connections.release_lease(connection_id, self.owner)
        except Exception:  # the lease expires on its own; never mask the real outcome
            logger.warning("could not release refresh lease", extra={"connection_id": connection_id})


def _refresh_value(bundle: TokenBundle) -> str | None:
    return bundle.refresh_token.get_secret_value() if bundle.refresh_token else None


def _same_pair(a: TokenBundle, b: TokenBundle) -> bool:
    return a.access_token.get_secret_value() == b.access_token.get_secret_value()
