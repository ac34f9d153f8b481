"""Message rendering: Jinja2 templates per locale, compiled once per process."""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from models import DeliveredOrder, JourneySettings, Locale

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

_DATE_FORMATS: dict[str, str] = {"pt-BR": "%d/%m/%Y", "en": "%B %d, %Y"}


class RenderedMessage(BaseModel):
    subject: str
    text: str
    html: str


class TemplateProblem(Exception):
    """A template is missing or needs a variable this order and store do not have."""


class Renderer:
    """Renders `templates/<locale>/<name>.txt.j2` (subject and text blocks, plain) and
    `<name>.html.j2` (autoescaped) with StrictUndefined, so a missing variable fails."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        root = templates_dir or Path(os.environ.get("JOURNEY_TEMPLATES_DIR", DEFAULT_TEMPLATES_DIR))
        self.templates_dir = root
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(root),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )

    def render(self, template: str, locale: Locale, context: dict[str, Any]) -> RenderedMessage:
        context = {**context, "locale": locale}
        text_name = f"{locale}/{template}.txt.j2"
        html_name = f"{locale}/{template}.html.j2"
        try:
            text_tmpl = self._env.get_template(text_name)
            # One context for both blocks, as a whole-template render would use.
            text_context = text_tmpl.new_context(context)
            blocks = {
                name: "".join(text_tmpl.blocks[name](text_context)).strip()
                for name in ("subject", "text")
            }
            html = self._env.get_template(html_name).render(context)
        except jinja2.TemplateNotFound as err:
            raise TemplateProblem(f"template {err.name} not found in {self.templates_dir}") from err
        except KeyError as err:
            raise TemplateProblem(f"template {text_name} has no block {err}") from err
        except jinja2.UndefinedError as err:
            raise TemplateProblem(f"template {locale}/{template}: {err.message}") from err
        except jinja2.TemplateSyntaxError as err:
            raise TemplateProblem(f"template {err.name} line {err.lineno}: {err.message}") from err
        return RenderedMessage(subject=blocks["subject"], text=blocks["text"], html=html)


def message_context(
    order: DeliveredOrder, settings: JourneySettings, feedback_url: str | None = None
) -> dict[str, Any]:
    """The variables templates see. Optional settings are left out when unset, so a
    template that needs them fails under StrictUndefined instead of printing 'None'."""
    customer = order.customer
    delivered_local = order.delivered_at.astimezone(zoneinfo.ZoneInfo(customer.timezone))
    context: dict[str, Any] = {
        "customer": {"name": customer.name, "first_name": customer.first_name},
        "store": {"name": settings.store_name},
        "order": {
            "id": order.order_id,
            "items": [item.model_dump() for item in order.items],
            "delivered_on": delivered_local.strftime(_DATE_FORMATS[customer.locale]),
        },
        "review_url": str(settings.review_url),
    }
    if settings.social_handle:
        context["store"]["social_handle"] = settings.social_handle
    if settings.coupon:
        context["coupon"] = settings.coupon.model_dump()
    if feedback_url:
        context["feedback_url"] = feedback_url
    return context
