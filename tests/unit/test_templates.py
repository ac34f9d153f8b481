"""Every template renders in every locale; HTML is escaped; a gap is an error."""

import pytest

from intake import PREVIEW_FACTS
from messages.rendering import PAGES, Renderer, TemplateProblem, message_context
from models import SUPPORTED_LOCALES, DeliveredOrder, JourneySettings, default_plan
from models.stages import ALERT_TEMPLATES, STAGE_STEPS
from tests import builders

FEEDBACK_URL = "https://loja-um.example/avaliar?token=abc.def"


def context_for(locale: str, **customer: str) -> dict[str, object]:
    order = DeliveredOrder.model_validate(builders.order(customer={"locale": locale, **customer}))
    settings = JourneySettings.model_validate(builders.settings())
    # Every fact an event can bring, so the stage templates have what they use, with
    # this order's own delivery date.
    facts = PREVIEW_FACTS.model_copy(update={"delivered_at": order.delivered_at})
    return message_context(order.without_delivery(), settings, FEEDBACK_URL, facts)


def test_every_template_directory_is_a_supported_locale() -> None:
    renderer = Renderer()
    on_disk = {p.name for p in renderer.templates_dir.iterdir() if p.is_dir()}
    assert on_disk == {*SUPPORTED_LOCALES, PAGES}
    pages = {p.name for p in (renderer.templates_dir / PAGES).iterdir() if p.is_dir()}
    assert pages == set(SUPPORTED_LOCALES)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("template", [s.template for s in (*default_plan().steps, *STAGE_STEPS)])
def test_every_template_renders_in_every_locale(locale: str, template: str) -> None:
    message = Renderer().render(template, locale, context_for(locale))  # type: ignore[arg-type]
    assert message.subject and "\n" not in message.subject
    assert "Ana" in message.text
    assert message.text.strip() == message.text
    assert f'<html lang="{locale}">' in message.html
    assert "Loja Um" in message.html
    # Nothing left unrendered.
    for part in (message.subject, message.text, message.html):
        assert "{{" not in part and "{%" not in part


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("template", ALERT_TEMPLATES)
def test_every_store_alert_renders_in_every_locale(locale: str, template: str) -> None:
    subject, text = Renderer().render_text(template, locale, context_for("pt-BR"))  # type: ignore[arg-type]
    assert "PED-1" in subject and "Ana Souza" in text
    assert "{{" not in subject + text and "{%" not in subject + text


def test_locales_really_differ() -> None:
    pt = Renderer().render("thanks", "pt-BR", context_for("pt-BR"))
    en = Renderer().render("thanks", "en", context_for("en"))
    assert "Obrigado" in pt.subject and "Thank you" in en.subject
    assert "chegou em 10/03/2026" in pt.text
    assert "arrived on March 10, 2026" in en.text


def test_feedback_request_carries_the_link() -> None:
    message = Renderer().render("feedback_request", "pt-BR", context_for("pt-BR"))
    assert FEEDBACK_URL in message.text
    assert 'href="https://loja-um.example/avaliar?token=abc.def"' in message.html


def test_html_is_autoescaped_and_text_is_not() -> None:
    message = Renderer().render("thanks", "en", context_for("en", name="<b>Bo</b> & Co"))
    assert "&lt;b&gt;Bo&lt;/b&gt;" in message.html
    assert "<b>Bo</b>" not in message.html
    assert "Hi <b>Bo</b>," in message.text


def test_a_missing_variable_fails_instead_of_rendering_blank() -> None:
    order = DeliveredOrder.model_validate(builders.order())
    settings = JourneySettings.model_validate(builders.settings(coupon=None))
    with pytest.raises(TemplateProblem, match="'coupon' is undefined"):
        Renderer().render("come_back_coupon", "pt-BR", message_context(order, settings))


def test_an_unknown_template_is_named() -> None:
    with pytest.raises(TemplateProblem, match=r"pt-BR/nope\.txt\.j2 not found"):
        Renderer().render("nope", "pt-BR", context_for("pt-BR"))
