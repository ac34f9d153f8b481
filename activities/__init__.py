"""Activities: everything a journey does to the outside world."""

from __future__ import annotations

import httpx

from activities.alerts import StoreAlerts
from activities.channels import make_adapters
from activities.channels.webhook import SignedWebhook
from activities.config import WorkerConfig
from activities.ledger import JsonLinesLedger
from activities.messages import JourneyActivities
from activities.unsealing import Unsealer
from messages.rendering import Renderer


def build_activities(config: WorkerConfig) -> JourneyActivities:
    renderer = Renderer(config.templates_dir)
    unsealer = Unsealer()
    return JourneyActivities(
        renderer,
        make_adapters(config),
        config.feedback_secret.get_secret_value().encode(),
        _store_alerts(config, renderer, unsealer),
        feedback_page=config.feedback_page,
        unsealer=unsealer,
    )


def _store_alerts(config: WorkerConfig, renderer: Renderer, unsealer: Unsealer) -> StoreAlerts:
    url = config.alert_webhook_url or config.webhook_url
    if url and config.webhook_secret:
        client = httpx.AsyncClient(timeout=config.http_timeout_seconds)
        secret = config.webhook_secret.get_secret_value().encode()
        return StoreAlerts(renderer, webhook=SignedWebhook(url, secret, client), unsealer=unsealer)
    path = config.alerts_path or config.outbox_path.with_name("alerts.jsonl")
    return StoreAlerts(renderer, ledger=JsonLinesLedger(path, id_prefix="alert"), unsealer=unsealer)


__all__ = ["JourneyActivities", "WorkerConfig", "build_activities"]
