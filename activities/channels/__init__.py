"""Channel adapters: where a rendered message goes, one adapter per channel."""

from __future__ import annotations

import httpx

from activities.channels.base import ChannelAdapter, OutgoingMessage, TemplateCall
from activities.channels.email import EmailApiAdapter
from activities.channels.outbox import OutboxAdapter
from activities.channels.webhook import WebhookAdapter
from activities.channels.whatsapp import WhatsAppCloudAdapter
from activities.config import AdapterName, EmailAdapterName, WhatsAppAdapterName, WorkerConfig
from messages.unsubscribe_links import UnsubscribeLinks
from models import Channel


def make_adapters(config: WorkerConfig) -> dict[Channel, ChannelAdapter]:
    """The adapter of each channel. Channels that share an adapter kind share one
    instance (one outbox file lock, one webhook connection pool)."""
    shared: dict[str, ChannelAdapter] = {}
    adapters: dict[Channel, ChannelAdapter] = {}
    for channel in Channel:
        name = config.adapter_for(channel)
        if name not in shared:
            shared[name] = _make(name, config)
        adapters[channel] = shared[name]
    return adapters


def _client(config: WorkerConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=config.http_timeout_seconds)


def _make(name: str, config: WorkerConfig) -> ChannelAdapter:
    # Settings each adapter needs were checked by WorkerConfig at start.
    if name == AdapterName.WEBHOOK:
        assert config.webhook_url and config.webhook_secret
        return WebhookAdapter(
            config.webhook_url, config.webhook_secret.get_secret_value().encode(), _client(config)
        )
    if name == WhatsAppAdapterName.CLOUD_API:
        assert config.whatsapp_phone_number_id and config.whatsapp_token
        return WhatsAppCloudAdapter(
            config.whatsapp_api_base,
            config.whatsapp_api_version,
            config.whatsapp_phone_number_id,
            config.whatsapp_token.get_secret_value(),
            _client(config),
        )
    if name == EmailAdapterName.RESEND:
        assert config.email_api_key and config.email_from
        assert config.unsubscribe_mailto
        links = UnsubscribeLinks(
            config.unsubscribe_page,
            config.unsubscribe_mailto,
            config.feedback_secret.get_secret_value().encode(),
        )
        return EmailApiAdapter(
            config.email_api_base,
            config.email_api_key.get_secret_value(),
            config.email_from,
            links,
            _client(config),
        )
    return OutboxAdapter(config.outbox_path)


__all__ = [
    "ChannelAdapter",
    "EmailApiAdapter",
    "OutboxAdapter",
    "OutgoingMessage",
    "TemplateCall",
    "WebhookAdapter",
    "WhatsAppCloudAdapter",
    "make_adapters",
]
