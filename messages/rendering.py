"""Message rendering: Jinja2 templates per locale, compiled once per process."""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from models import JourneySettings, Locale
from models.journey import JourneyFacts
from models.order import Order

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
# The web service's customer pages: templates/pages/<locale>/<page>.html.j2, their
# layout and their stylesheet. Not a locale of messages.
PAGES = "pages"

_DATE_FORMATS: dict[str, str] = {"pt-BR": "%d/%m/%Y", "en": "%B %d, %Y"}


class RenderedMessage(BaseModel):
    subject: str
    text: str
    html: str


class TemplateProblem(Exception):
    """A template is missing or needs a variable this order and store do not have."""


class Renderer:
    """Renders `templates/<locale>/<name>.txt.j2` (subject and text blocks, plain) and
    `<name>.html.j2` (autoescaped) with StrictUndefined, so a missing variable fails.
    Also the web service's pages, `templates/pages/...`: a templates directory of
    one's own overrides the pages it has, and the built-in ones serve the rest."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        root = templates_dir or Path(os.environ.get("JOURNEY_TEMPLATES_DIR", DEFAULT_TEMPLATES_DIR))
        self.templates_dir = root
        built_in_pages = jinja2.FileSystemLoader(DEFAULT_TEMPLATES_DIR / PAGES)
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [jinja2.FileSystemLoader(root), jinja2.PrefixLoader({PAGES: built_in_pages})]
            ),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )

    def render(self, template: str, locale: Locale, context: dict[str, Any]) -> RenderedMessage:
        subject, text = self.render_text(template, locale, context)
        html = self._render(f"{locale}/{template}.html.j2", {**context, "locale": locale})
        return RenderedMessage(subject=subject, text=text, html=html)

    def render_text(
        self, template: str, locale: Locale, context: dict[str, Any]
    ) -> tuple[str, str]:
        """The `subject` and `text` blocks of `<locale>/<template>.txt.j2`."""
        name = f"{locale}/{template}.txt.j2"
        context = {**context, "locale": locale}
        try:
            tmpl = self._env.get_template(name)
            # One context for both blocks, as a whole-template render would use.
            shared = tmpl.new_context(context)
            subject, text = (
                "".join(tmpl.blocks[block](shared)).strip() for block in ("subject", "text")
            )
        except KeyError as err:
            raise TemplateProblem(f"template {name} has no block {err}") from err
        except jinja2.TemplateError as err:
            raise _problem(err, locale, template) from err
        return subject, text

    def render_page(self, page: str, locale: Locale, context: dict[str, Any]) -> str:
        """`pages/<locale>/<page>.html.j2`, autoescaped: a customer page of the web service."""
        name = f"{PAGES}/{locale}/{page}.html.j2"
        return self._env.get_template(name).render({**context, "locale": locale})

    def page_file(self, name: str) -> str:
        """A file of the pages served as it is, such as their stylesheet."""
        loader = self._env.loader
        assert loader is not None
        source, _, _ = loader.get_source(self._env, f"{PAGES}/{name}")
        return source

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self._env.get_template(name).render(context)
        except jinja2.TemplateError as err:
            locale, _, template = name.partition("/")
            raise _problem(err, locale, template.split(".")[0]) from err


def _problem(err: jinja2.TemplateError, locale: str, template: str) -> TemplateProblem:
    if isinstance(err, jinja2.TemplateNotFound):
        return TemplateProblem(f"template {err.name} not found")
    if isinstance(err, jinja2.TemplateSyntaxError):
        return TemplateProblem(f"template {err.name} line {err.lineno}: {err.message}")
    return TemplateProblem(f"template {locale}/{template}: {err.message}")


def message_context(
    order: Order,
    settings: JourneySettings,
    feedback_url: str | None = None,
    facts: JourneyFacts | None = None,
) -> dict[str, Any]:
    """The variables templates see. Optional values are left out when unset, so a
    template that needs them fails under StrictUndefined instead of printing 'None'."""
    customer = order.customer
    tz = zoneinfo.ZoneInfo(customer.timezone)
    date_format = _DATE_FORMATS[customer.locale]
    facts = facts or JourneyFacts()
    delivered_at = facts.delivered_at
    order_vars: dict[str, Any] = {
        "id": order.order_id,
        "items": [item.model_dump() for item in order.items],
    }
    context: dict[str, Any] = {
        "customer": {"name": customer.name, "first_name": customer.first_name},
        "store": {"name": settings.store_name},
        "order": order_vars,
        "review_url": str(settings.review_url),
    }
    if delivered_at:
        order_vars["delivered_on"] = delivered_at.astimezone(tz).strftime(date_format)
    promised_by = facts.promised_by or order.promised_delivery_by
    if promised_by:
        order_vars["promised_on"] = promised_by.astimezone(tz).strftime(date_format)
    if facts.shipment:
        context["shipment"] = facts.shipment.model_dump(mode="json")
    if facts.feedback:
        context["feedback"] = facts.feedback.model_dump()
    if settings.social_handle:
        context["store"]["social_handle"] = settings.social_handle
    if settings.coupon:
        context["coupon"] = settings.coupon.model_dump()
    if feedback_url:
        context["feedback_url"] = feedback_url
    return context


def variable(context: dict[str, Any], path: str) -> str:
    """The text at a dotted path of the template variables, e.g. 'customer.first_name'.

    WhatsApp template parameters name their values this way."""
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise TemplateProblem(f"variable {path!r} is undefined")
        value = value[part]
    if not isinstance(value, str | int):
        raise TemplateProblem(f"variable {path!r} is not text")
    return str(value)
