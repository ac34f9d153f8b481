"""Worker configuration with the real channel adapters pointed at the fake providers."""

from __future__ import annotations

from typing import Any

from activities import WorkerConfig
from tests import fake_email, fake_whatsapp
from tests.conftest import FEEDBACK_SECRET
from tests.fake_email import FakeEmail
from tests.fake_whatsapp import Approved, FakeWhatsApp

UNSUBSCRIBE_URL = "https://loja-um.example/sair"

# The default plan's templates as a store would have them approved in WhatsApp Manager,
# and the settings that map the plan onto them.
APPROVED = {
    "pos_venda_obrigado": Approved("utility", parameters=3),
    "pos_venda_avaliacao": Approved("utility", parameters=2),
    "pos_venda_foto": Approved("marketing", parameters=2),
    "pos_venda_entrega": Approved("utility", parameters=1),
    "pos_venda_cupom": Approved("marketing", parameters=3),
}
WHATSAPP_TEMPLATES: dict[str, Any] = {
    "thanks": {
        "name": "pos_venda_obrigado",
        "parameters": ["customer.first_name", "store.name", "order.id"],
    },
    "feedback_request": {
        "name": "pos_venda_avaliacao",
        "parameters": ["customer.first_name", "feedback_url"],
    },
    "photo_invite": {
        "name": "pos_venda_foto",
        "parameters": ["customer.first_name", "store.social_handle"],
    },
    "delivery_questions": {"name": "pos_venda_entrega", "parameters": ["customer.first_name"]},
    "come_back_coupon": {
        "name": "pos_venda_cupom",
        "parameters": ["customer.first_name", "coupon.benefit", "coupon.code"],
    },
}


def provider_config(whatsapp: FakeWhatsApp, email: FakeEmail, **changes: Any) -> WorkerConfig:
    values: dict[str, Any] = {
        "feedback_secret": FEEDBACK_SECRET,
        "whatsapp_adapter": "cloud_api",
        "whatsapp_api_base": whatsapp.base_url,
        "whatsapp_api_version": fake_whatsapp.VERSION,
        "whatsapp_phone_number_id": fake_whatsapp.PHONE_NUMBER_ID,
        "whatsapp_token": fake_whatsapp.TOKEN,
        "email_adapter": "resend",
        "email_api_base": email.base_url,
        "email_api_key": fake_email.API_KEY,
        "email_from": "Loja Um <pedidos@loja-um.example>",
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "unsubscribe_mailto": "sair@loja-um.example",
        "http_timeout_seconds": 5,
        **changes,
    }
    return WorkerConfig(**values)
