"""Channel adapters: where a rendered message goes."""

from __future__ import annotations

import httpx

from activities.channels.base import ChannelAdapter, OutgoingMessage
from activities.channels.outbox import OutboxAdapter
from activities.channels.webhook import WebhookAdapter
from activities.config import AdapterName, WorkerConfig


def make_adapter(config: WorkerConfig) -> ChannelAdapter:
    if config.adapter is AdapterName.WEBHOOK:
        assert config.webhook_url and config.webhook_secret  # checked by WorkerConfig
        client = httpx.AsyncClient(timeout=config.http_timeout_seconds)
        return WebhookAdapter(
            config.webhook_url, config.webhook_secret.get_secret_value().encode(), client
        )
    return OutboxAdapter(config.outbox_path)


__all__ = ["ChannelAdapter", "OutboxAdapter", "OutgoingMessage", "WebhookAdapter", "make_adapter"]
