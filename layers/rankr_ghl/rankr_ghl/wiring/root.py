"""`Root`: one service per function, over the container's `Infrastructure`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankr_ghl.wiring.infrastructure import Infrastructure, Overrides, cached_factory

if TYPE_CHECKING:
    from rankr_ghl.connections.agency_invocation import AgencyInstallInvocation
    from rankr_ghl.connections.oauth_flow import InstallEndpoints
    from rankr_ghl.flows.control.service import ControlService
    from rankr_ghl.flows.inbound import InboundProcessor
    from rankr_ghl.flows.inbound.batch import InboundBatch
    from rankr_ghl.flows.intake import WebhookIntake
    from rankr_ghl.flows.lead_push.invocation import LeadPushInvocation
    from rankr_ghl.flows.reconcile.invocation import ReconcileInvocation
    from rankr_ghl.flows.reconcile.worker import ReconcileWorker
    from rankr_ghl.wiring.lead_push import LeadPushContainer
    from rankr_ghl.wiring.reconcile import ReconcileContainer


class Root(Infrastructure):
    # ------------------------------------------------------------------- one service per function
    @cached_factory
    def oauth(self) -> InstallEndpoints:
        """OAuthCallbackFunction: the install redirect and the callback."""
        if self.overrides.oauth_install_service is not None:
            return self.overrides.oauth_install_service()
        from rankr_ghl.wiring.oauth import build_oauth_endpoints

        return build_oauth_endpoints(self)

    @cached_factory
    def agency_install(self) -> AgencyInstallInvocation:
        """AgencyInstallFunction: one agency install fan-out job from AgencyInstallQueue."""
        self.warm_http()
        from rankr_ghl.wiring.agency_install import build_agency_install

        return build_agency_install(self)

    @cached_factory
    def control(self) -> ControlService:
        """ControlFunction: one control API request from Rankr (Lambda Invoke API)."""
        from rankr_ghl.wiring.control import build_control

        return build_control(self, self.reconcile_container)

    @cached_factory
    def webhook_intake(self) -> WebhookIntake:
        """WebhookIntakeFunction: verify, dedupe and queue one delivery."""
        from rankr_ghl.wiring.webhooks import build_webhook_intake

        return build_webhook_intake(self)

    @cached_factory
    def inbound_processor(self) -> InboundProcessor:
        if self.overrides.inbound_processor is not None:
            return self.overrides.inbound_processor()
        from rankr_ghl.wiring.webhooks import build_inbound_processor

        return build_inbound_processor(self)

    @cached_factory
    def webhook_worker(self) -> InboundBatch:
        """WebhookWorkerFunction: one SQS batch of queued webhook events."""
        self.warm_http()
        from rankr_ghl.wiring.webhooks import build_webhook_worker

        return build_webhook_worker(self, self.inbound_processor)

    @cached_factory
    def lead_push_container(self) -> LeadPushContainer:
        from rankr_ghl.wiring.lead_push import build_lead_push_container

        return build_lead_push_container(self)

    @cached_factory
    def lead_push(self) -> LeadPushInvocation:
        """LeadPushFunction: one direct invocation by Rankr."""
        self.warm_http()
        from rankr_ghl.flows.lead_push.invocation import LeadPushInvocation

        container = self.lead_push_container()
        return LeadPushInvocation(container.service, container.idempotency)

    @cached_factory
    def reconcile_container(self) -> ReconcileContainer:
        from rankr_ghl.wiring.reconcile import build_reconcile_container

        return build_reconcile_container(self)

    @cached_factory
    def reconcile(self) -> ReconcileInvocation:
        """ReconcileFunction: a schedule (the planner) or a queued job (the worker)."""
        from rankr_ghl.flows.reconcile.invocation import ReconcileInvocation

        return ReconcileInvocation(
            planner=lambda: self.reconcile_container().planner,
            worker=self._reconcile_worker,
        )

    def _reconcile_worker(self) -> ReconcileWorker:
        self.warm_http()  # a job reads GHL; the planner only queues jobs
        return self.reconcile_container().worker


__all__ = ["Overrides", "Root"]
