"""AgencyInstallFunction's service: the agency install fan-out over the container's stores."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankr_ghl.connections.agency_fanout import AgencyFanOut
    from rankr_ghl.connections.agency_invocation import AgencyInstallInvocation
    from rankr_ghl.wiring.infrastructure import Infrastructure


def build_agency_fan_out(root: Infrastructure) -> AgencyFanOut:
    from rankr_ghl.aws.agency_progress import DynamoAgencyProgress
    from rankr_ghl.connections.agency_fanout import AgencyFanOut
    from rankr_ghl.connections.vault import powertools_metric
    from rankr_ghl.ghl.oauth import GHLOAuthClient, app_id_from_client_id
    from rankr_ghl.observability import trace_http_clients

    queue = root.agency_install_queue()
    if queue is None:
        raise RuntimeError("AGENCY_INSTALL_QUEUE_URL is not set (the fan-out queues its continuations)")
    trace_http_clients()  # before the client builds its httpx.Client

    def client_secret() -> str:
        # Read on the first token grant only: location tokens are minted with the company token.
        secret = root.app_secret()
        secret.require("client_secret")
        return secret.client_secret.get_secret_value()

    # Location tokens spend the company's budget, which every container shares (ghl.budget): the
    # fan-out's calls take their places in it like every other GHL call.
    limiter = root.rate_limiter()
    oauth = GHLOAuthClient(
        root.ghl_client_id(),
        client_secret,
        base_url=root.settings.ghl_api_base_url,
        rate_limiter=limiter,
    )
    tokens = root.token_store()
    wrap = root.overrides.agency_install_tokens
    connections = root.connection_store()
    return AgencyFanOut(
        oauth,
        wrap(tokens) if wrap is not None else tokens,
        connections,
        # Aggregated across the parallel chunk runs, on the company connection.
        progress=DynamoAgencyProgress(root.settings.connections_table, client_source=root.dynamodb),
        queue=queue,
        company_tokens=root.token_vault(),
        app_id=app_id_from_client_id(root.ghl_client_id()),
        metric=powertools_metric,
        # A run's unused slice of the company's budget goes back when it ends: the next chunk run, in
        # another container, does not wait for it to expire.
        release_budget=limiter.shared.flush if limiter.shared is not None else None,
    )


def build_agency_install(root: Infrastructure) -> AgencyInstallInvocation:
    from rankr_ghl.connections.agency_invocation import AgencyInstallInvocation

    built: list[AgencyFanOut] = []

    def fan_out() -> AgencyFanOut:
        if not built:
            built.append(build_agency_fan_out(root))
        return built[0]

    # The queue renews the running job's message (a short visibility timeout, a heartbeat).
    return AgencyInstallInvocation(fan_out, root.agency_install_queue())
