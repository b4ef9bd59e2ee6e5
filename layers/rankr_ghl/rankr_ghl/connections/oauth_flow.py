"""Browser install flow: the chooselocation redirect and the OAuth callback.

The callback exchanges the code, then stores the secret, then the connection record. A storage failure
puts back what the secret held before, so nothing is half-stored. An agency (Company) install stores
the company token only, queues the fan-out that connects its locations
(`rankr_ghl.connections.agency_fanout`) and answers at once: an agency of 1,000 locations needs minutes
of the company's rate budget, far beyond a callback's 30 s.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from pydantic import BaseModel

from rankr_ghl.connections.agency_job import (
    AgencyInstallJob,
    AgencyInstallProgress,
    AgencyInstallQueue,
    AgencyInstallStatus,
    AgencyProgressStore,
)
from rankr_ghl.connections.errors import (
    CodeExchangeRejected,
    ConnectionsError,
    GHLUnavailable,
    InstallDenied,
    InstallStorageFailed,
    MissingCode,
    StateReused,
)
from rankr_ghl.connections.install_links import (
    CLAIM_TTL_S,
    BrowserMismatch,
    ClaimCodeStore,
    InstallLinkIssuer,
    claim_code_hash,
    new_claim_code,
    new_nonce,
    nonce_hash,
)
from rankr_ghl.connections.location_names import location_name_or_none
from rankr_ghl.connections.ports import ConnectionStore, OAuthClient, TokenGrant, TokenStore
from rankr_ghl.connections.state import InstallState, StateSigner
from rankr_ghl.connections.status import (
    ConnectionStatus,
    UserType,
    company_connection_id,
    from_epoch,
)
from rankr_ghl.ghl.errors import GHLBadRequest, GHLError, GHLInvalidGrant
from rankr_ghl.observability import logger

if TYPE_CHECKING:
    # The connection models and the vault only after a code exchange: the install redirect never
    # loads them (cold start).
    from rankr_ghl.connections.models import Connection, TokenBundle
    from rankr_ghl.connections.vault import TokenVault
    from rankr_ghl.sync.ports import DedupeStore

MAX_CODE_LENGTH = 4096


@dataclass(frozen=True)
class OAuthAppConfig:
    client_id: str
    marketplace_url: str  # https://marketplace.gohighlevel.com or the white-label host
    scopes: tuple[str, ...]
    redirect_uri: str | None = None  # None: the caller passes the one derived from the request

    @property
    def app_id(self) -> str:
        # client_id format is <appId>-<suffix> (GHL SDKs derive the app id the same way).
        return self.client_id.split("-")[0]


class InstallResult(BaseModel):
    user_type: UserType
    company_id: str | None
    location_ids: list[str]
    rankr_account_id: str | None
    # Connections already bound to another Rankr account: their binding was kept, not moved.
    bound_elsewhere: list[str] = []
    # A marketplace install binds nothing: the user types this one-time code into Rankr.
    claim_code: str | None = None
    return_url: str | None = None
    # An agency install: its locations are connected by the queued fan-out, after this answer.
    continues: bool = False
    # A location install: the location's name (None: GHL did not tell it; pages show the id).
    location_name: str | None = None

    @property
    def summary(self) -> str:
        if self.continues:
            return "agency connected; its locations are being connected"
        n = len(self.location_ids)
        return f"{n} location{'s' if n != 1 else ''} connected"


def _install_error(exc: GHLError, what: str) -> ConnectionsError:
    status = exc.status or 0
    if 400 <= status < 500 and status != 429:
        return CodeExchangeRejected(f"GoHighLevel refused the {what} (HTTP {status})")
    return GHLUnavailable(f"GoHighLevel failed during the {what}; please try the install again")


def chooselocation_url(
    app: OAuthAppConfig,
    signer: StateSigner,
    rankr_account_id: str | None,
    *,
    redirect_uri: str | None,
    user_type: UserType,
    browser_hash: str | None = None,
    return_url: str | None = None,
) -> str:
    """GHL's chooselocation URL for one install, its signed state naming the Rankr account."""
    redirect = app.redirect_uri or redirect_uri
    if not redirect:
        raise ValueError("no OAuth redirect URI configured or derivable")
    query = urlencode(
        {
            "response_type": "code",
            "redirect_uri": redirect,
            "client_id": app.client_id,
            "scope": " ".join(app.scopes),
            "state": signer.sign(
                rankr_account_id, user_type, browser_hash=browser_hash, return_url=return_url
            ),
        }
    )
    return f"{app.marketplace_url.rstrip('/')}/v2/oauth/chooselocation?{query}"


@dataclass(frozen=True)
class InstallStart:
    url: str  # GHL's chooselocation URL
    nonce: str  # goes into the browser's install cookie; the state carries its hash
    max_age_s: int


def start_install(
    app: OAuthAppConfig,
    signer: StateSigner,
    links: InstallLinkIssuer,
    used_links: DedupeStore,
    token: str | None,
    *,
    redirect_uri: str | None,
    clock: Callable[[], float] = time.time,
) -> InstallStart:
    """Accept a link minted for Rankr once (signature, expiry, then a single-use marker) and start
    GHL's consent for the browser that opened it."""
    link = links.read(token)
    ttl_s = max(int(link.expires_at - clock()), 0) + 60
    if not used_links.claim_once(f"install-link#{link.link_id}", ttl_s):
        raise StateReused("this install link was used already; ask Rankr for a new one")
    nonce = new_nonce()
    url = chooselocation_url(
        app,
        signer,
        link.rankr_account_id,
        redirect_uri=redirect_uri,
        user_type=link.user_type,
        browser_hash=nonce_hash(nonce),
        return_url=link.return_url,
    )
    return InstallStart(url=url, nonce=nonce, max_age_s=ttl_s)


class InstallEndpoints(Protocol):
    """What OAuthCallbackFunction's routes call (built by the composition root)."""

    def start_install(self, link: str | None, *, redirect_uri: str | None = None) -> InstallStart: ...

    def complete_install(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None = None,
        redirect_uri: str | None = None,
        browser_nonce: str | None = None,
    ) -> InstallResult: ...

    def sign_result(self, result: dict[str, Any]) -> str: ...

    def read_result(self, token: str | None) -> dict[str, Any]: ...


class OAuthInstallService:
    def __init__(
        self,
        app: OAuthAppConfig,
        signer: StateSigner,
        oauth: OAuthClient,
        tokens: TokenStore,
        connections: ConnectionStore,
        *,
        vault: TokenVault | None = None,
        used_states: DedupeStore | None = None,
        claims: ClaimCodeStore | None = None,
        agency_queue: AgencyInstallQueue | None = None,
        agency_progress: AgencyProgressStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`used_states`: where a state's nonce is marked used, so an install link completes once
        (None: a state is good until it expires). `agency_queue`: where an agency install's fan-out
        is queued (an agency install is refused without one); `agency_progress`: where it shows."""
        self._used_states = used_states
        self._agency_queue = agency_queue
        self._agency_progress = agency_progress
        self._claims = claims
        self._app = app
        self._signer = signer
        self._oauth = oauth
        self._tokens = tokens
        self._connections = connections
        self._vault = vault
        self._clock = clock

    def complete_install(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None = None,
        redirect_uri: str | None = None,
        browser_nonce: str | None = None,
    ) -> InstallResult:
        if error:
            raise InstallDenied("the install was not approved in GoHighLevel")
        install_state: InstallState | None = self._signer.verify(state) if state else None
        if install_state is not None:
            _check_browser(install_state, browser_nonce)
        if not code or len(code) > MAX_CODE_LENGTH:
            raise MissingCode("the callback carries no authorization code")
        used_key = self._use_once(install_state) if install_state is not None else None
        try:
            return self._complete(code, install_state, redirect_uri)
        except BaseException:
            if used_key is not None:
                self._forget_use(used_key)
            raise

    def _forget_use(self, key: str) -> None:
        """The install did not complete: the link stays usable, and a refused code leaves no trace."""
        if self._used_states is None:
            return
        try:
            self._used_states.release(key)
        except Exception:  # the original error matters more; the marker expires with the state
            logger.warning("install link marker not released", exc_info=True)

    def _complete(
        self, code: str, install_state: InstallState | None, redirect_uri: str | None
    ) -> InstallResult:
        requested = install_state.user_type if install_state else UserType.LOCATION
        account = install_state.rankr_account_id if install_state else None
        redirect = self._app.redirect_uri or redirect_uri or ""
        grant = self._exchange(code, requested, redirect, type_known=install_state is not None)
        user_type = UserType(grant.user_type) if grant.user_type in {u.value for u in UserType} else requested
        now = self._clock()
        if user_type is UserType.LOCATION:
            bundles, records = self._location_install(grant, now, account)
        else:
            bundles, records = self._company_install(grant, now, account)
        self._store(bundles, records)
        if user_type is UserType.COMPANY:
            self._queue_fan_out(records[0], now)
        location_ids = [r.location_id for r in records if r.location_id]
        company_id = next((r.company_id for r in records if r.company_id), None)
        bound_elsewhere = [
            r.connection_id for r in records if account and r.rankr_account_id not in (None, account)
        ]
        unbound = [r.connection_id for r in records if not r.rankr_account_id]
        claim_code = self._issue_claim_code(unbound) if account is None and unbound else None
        logger.info(
            "install completed",
            extra={
                "user_type": user_type.value,
                "company_id": company_id,
                "locations": len(location_ids),
                "bound_elsewhere": len(bound_elsewhere),
                "unbound": len(unbound),
            },
        )
        bound = {r.rankr_account_id for r in records if r.rankr_account_id}
        name = None
        if user_type is UserType.LOCATION and grant.access_token and len(location_ids) == 1:
            name = location_name_or_none(self._oauth, grant.access_token, location_ids[0])
        return InstallResult(
            location_name=name,
            user_type=user_type,
            company_id=company_id,
            location_ids=location_ids,
            rankr_account_id=account if account else (bound.pop() if len(bound) == 1 else None),
            bound_elsewhere=bound_elsewhere,
            claim_code=claim_code,
            return_url=install_state.return_url if install_state else None,
            continues=user_type is UserType.COMPANY,
        )

    def _queue_fan_out(self, company: Connection, now: float) -> None:
        """Queue the agency's fan-out after its token and record are stored (a lost message is
        recovered by installing again: the fan-out skips what is connected)."""
        assert self._agency_queue is not None and company.company_id is not None  # checked before storing
        job = AgencyInstallJob(company.company_id, int(now * 1000))
        if self._agency_progress is not None:
            progress = AgencyInstallProgress(AgencyInstallStatus.QUEUED, job.requested_ms, job.requested_ms)
            try:
                self._agency_progress.record_agency_install(job.company_id, progress)
            except Exception as exc:  # progress is for people; the fan-out writes it again
                logger.warning("agency install progress not recorded", extra={"error": type(exc).__name__})
        try:
            self._agency_queue.enqueue(job)
        except Exception as exc:
            logger.error("agency install fan-out not queued", extra={"error": type(exc).__name__})
            raise InstallStorageFailed(
                "the agency is connected, but connecting its locations could not be started; "
                "please try the install again"
            ) from exc

    def _issue_claim_code(self, connection_ids: list[str]) -> str | None:
        """A one-time code for Rankr's `connection.claim`; the tokens are stored either way."""
        if self._claims is None:
            return None
        code = new_claim_code()
        self._claims.put(claim_code_hash(code), connection_ids, CLAIM_TTL_S)
        return code

    # ----------------------------------------------------------------- internals
    def _use_once(self, install_state: InstallState) -> str | None:
        """A state completes one install: a replayed callback URL (browser history, a leaked link)
        is refused before any code exchange. Marked until the state would have expired anyway."""
        if self._used_states is None:
            return None
        key = f"oauth-state#{install_state.nonce}"
        ttl_s = max(int(install_state.expires_at - self._clock()), 0) + 60
        if not self._used_states.claim_once(key, ttl_s):
            raise StateReused("this install link was used already; start the install again")
        return key

    def _exchange(self, code: str, requested: UserType, redirect: str, *, type_known: bool) -> TokenGrant:
        try:
            return self._oauth.exchange_code(code, requested.value, redirect)
        except GHLInvalidGrant as exc:
            self._log_exchange_failure(exc)
            raise _install_error(exc, "authorization code") from None
        except GHLBadRequest as exc:
            # A marketplace install says nothing about the token type, and GHL refuses a code exchanged
            # for the wrong one with a plain 400 (the code is not spent): try the other type once.
            if type_known:
                self._log_exchange_failure(exc)
                raise _install_error(exc, "authorization code") from None
            other = UserType.COMPANY if requested is UserType.LOCATION else UserType.LOCATION
            try:
                return self._oauth.exchange_code(code, other.value, redirect)
            except GHLError as retry_exc:
                self._log_exchange_failure(retry_exc)
                raise _install_error(retry_exc, "authorization code") from None
        except GHLError as exc:
            self._log_exchange_failure(exc)
            raise _install_error(exc, "authorization code") from None

    @staticmethod
    def _log_exchange_failure(exc: GHLError) -> None:
        logger.warning(
            "code exchange failed",
            extra={"status": exc.status, "error": type(exc).__name__, "ghl_trace_id": exc.trace_id},
        )

    def _record(
        self,
        connection_id: str,
        bundle: TokenBundle,
        account: str | None,
        *,
        token_source: str,
    ) -> Connection:
        from rankr_ghl.connections.models import Connection

        existing = self._connections.get(connection_id)
        return Connection(
            connection_id=connection_id,
            location_id=bundle.location_id if bundle.user_type is UserType.LOCATION else None,
            company_id=bundle.company_id,
            user_type=bundle.user_type,
            scopes=bundle.scopes,
            status=ConnectionStatus.ACTIVE,
            installed_at=from_epoch(bundle.issued_at),
            token_expires_at=from_epoch(bundle.expires_at),
            last_refresh_at=None,
            # A bound connection keeps its account: only Rankr's `connection.link` with force moves it.
            # A marketplace install carries no account and leaves an unbound connection unbound.
            rankr_account_id=(existing.rankr_account_id if existing else None) or account,
            token_source=token_source,
            updated_at=from_epoch(bundle.issued_at),
            # The install itself is the newest lifecycle event: an older UNINSTALL replayed later is stale.
            lifecycle_event_ms=int(bundle.issued_at * 1000),
            lifecycle_event_id="",
        )

    def _location_install(
        self, grant: TokenGrant, now: float, account: str | None
    ) -> tuple[dict[str, TokenBundle], list[Connection]]:
        from rankr_ghl.connections.vault import bundle_from_grant

        if not grant.location_id:
            raise CodeExchangeRejected("GoHighLevel returned a location token without a locationId")
        bundle = bundle_from_grant(
            grant,
            now=now,
            user_type=UserType.LOCATION,
            company_id=grant.company_id,
            location_id=grant.location_id,
        )
        return {grant.location_id: bundle}, [
            self._record(grant.location_id, bundle, account, token_source="location")
        ]

    def _company_install(
        self, grant: TokenGrant, now: float, account: str | None
    ) -> tuple[dict[str, TokenBundle], list[Connection]]:
        from rankr_ghl.connections.vault import bundle_from_grant

        company_id = grant.company_id
        if not company_id or not grant.access_token:
            raise CodeExchangeRejected("GoHighLevel returned an agency token without a companyId")
        company_bundle = bundle_from_grant(
            grant, now=now, user_type=UserType.COMPANY, company_id=company_id, location_id=None
        )
        if self._agency_queue is None:
            raise InstallStorageFailed("agency installs are not set up on this connector")
        company_cid = company_connection_id(company_id)
        # The locations follow in the fan-out (`_queue_fan_out`), once this token is stored.
        return {company_cid: company_bundle}, [
            self._record(company_cid, company_bundle, account, token_source="company")
        ]

    def _store(self, bundles: dict[str, TokenBundle], records: Iterable[Connection]) -> None:
        store_all(self._tokens, self._connections, bundles, list(records))
        if self._vault is not None:
            for connection_id in bundles:
                self._vault.invalidate(connection_id)


def _check_browser(install_state: InstallState, browser_nonce: str | None) -> None:
    """The callback must come from the browser that opened the install link (its nonce cookie)."""
    expected = install_state.browser_hash
    if not expected or not browser_nonce or not hmac.compare_digest(nonce_hash(browser_nonce), expected):
        raise BrowserMismatch(
            "this install was started in another browser (or its cookie is gone); "
            "open the install link again in this browser"
        )


def store_all(
    tokens: TokenStore,
    connections: ConnectionStore,
    bundles: dict[str, TokenBundle],
    records: list[Connection],
) -> None:
    """Write every secret, then every record; on failure put back what the secrets held before."""
    previous: dict[str, TokenBundle | None] = {}
    written: list[str] = []
    try:
        for connection_id, bundle in bundles.items():
            previous[connection_id] = tokens.read(connection_id, fresh=True)
            tokens.install(connection_id, bundle)
            written.append(connection_id)
        connections.save_all(records)
    except Exception as exc:
        logger.error(
            "install storage failed; rolling back",
            extra={"error": type(exc).__name__, "secrets_written": len(written)},
        )
        for connection_id in reversed(written):
            try:
                tokens.restore(connection_id, previous[connection_id])
            except Exception:
                logger.exception("rollback of a token secret failed", extra={"connection_id": connection_id})
        raise InstallStorageFailed("the connection could not be saved; please try the install again") from exc
