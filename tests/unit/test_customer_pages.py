"""What the customer pages show, over real HTTP (uvicorn on loopback), with no Temporal
behind them: the service's client points at a port where nothing listens, so a page
that tried to reach a journey would fail. The pages with journeys behind them, bad
links among them, are in tests/workflow/test_customer_pages.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from messages.rendering import Renderer
from models.order import SUPPORTED_LOCALES, Locale
from tests.customer_pages import (
    REVIEW_URL,
    assert_a_safe_page,
    feedback_link,
    heading,
    registered_store,
    token_of,
    unsubscribe_link,
)
from tests.processes import free_port
from tests.protection import converter
from tests.web_service import running_service
from web.customer_links import NoticeReason
from web.routers.customer_pages import ONE_CLICK_FIELD, ONE_CLICK_VALUE

NOW = datetime.now(UTC)  # feedback links expire by the service's own (wall) clock
ONE_CLICK = (ONE_CLICK_FIELD, ONE_CLICK_VALUE)


@dataclass
class Site:
    base: str
    http: httpx.AsyncClient


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    nowhere = await Client.connect(
        f"127.0.0.1:{free_port()}",
        lazy=True,
        data_converter=converter(),
    )
    stores = registered_store(tmp_path / "stores")
    async with (
        running_service(nowhere, stores_dir=stores) as base,
        httpx.AsyncClient(timeout=30) as http,
    ):
        yield Site(base, http)


async def test_the_unsubscribe_page_asks_first_and_needs_no_journey_to_ask(site: Site) -> None:
    shown = await site.http.get(unsubscribe_link(site.base))
    assert (shown.status_code, heading(shown)) == (
        200,
        "Não quer mais receber mensagens sobre este pedido?",
    )
    assert_a_safe_page(shown)
    assert "pedido PED-1" in shown.text and "Loja Um" in shown.text
    # Its button posts what a mail provider's one-click POST carries, to the link itself.
    token = token_of(unsubscribe_link(site.base))
    assert f'<form method="post" action="unsubscribe?token={token}">' in shown.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in shown.text


@pytest.mark.parametrize(
    ("rating", "comment"),
    [("0", ""), ("6", ""), ("cinco", ""), ("", ""), ("4", "x" * 2001)],
    ids=["zero", "six", "text", "none", "long comment"],
)
async def test_a_bad_rating_gets_the_form_again_saying_what_to_fix(
    site: Site, rating: str, comment: str
) -> None:
    token = token_of(feedback_link(site.base, NOW))
    sent = await site.http.post(
        f"{site.base}/feedback", data={"token": token, "rating": rating, "comment": comment}
    )
    assert (sent.status_code, heading(sent)) == (422, "Como foi sua compra?")
    assert_a_safe_page(sent)
    problem = "Ele pode ter até 2000 caracteres." if comment else "Escolha de 1 a 5 estrelas."
    assert problem in sent.text
    assert f'name="token" value="{token}"' in sent.text  # the same link, to try again


async def test_the_form_keeps_what_was_written_and_escapes_it(site: Site) -> None:
    token = token_of(feedback_link(site.base, NOW))
    comment = '<script>alert("oi")</script> & ' + "x" * 2000
    sent = await site.http.post(
        f"{site.base}/feedback", data={"token": token, "rating": "2", "comment": comment}
    )
    assert sent.status_code == 422
    assert "&lt;script&gt;alert(&#34;oi&#34;)&lt;/script&gt; &amp; xxx" in sent.text
    assert "<script" not in sent.text
    assert 'value="2" required checked' in sent.text  # the stars chosen stay chosen


@pytest.mark.parametrize(
    ("token_locale", "accept_language", "page_locale"),
    [
        ("en", "pt-BR,pt;q=0.9", "en"),  # the token's locale wins
        ("pt-BR", "en-US,en;q=0.9", "pt-BR"),
        (None, "en-US,en;q=0.9,pt;q=0.5", "en"),  # an older token: the browser's
        (None, "fr-FR, en;q=0.4, pt;q=0.8", "pt-BR"),
        (None, "de-DE", "pt-BR"),
        (None, None, "pt-BR"),
    ],
)
async def test_the_feedback_page_speaks_the_customers_language(
    site: Site, token_locale: str | None, accept_language: str | None, page_locale: str
) -> None:
    link = feedback_link(site.base, NOW, locale=token_locale)  # type: ignore[arg-type]
    headers = {"Accept-Language": accept_language} if accept_language else {}
    shown = await site.http.get(link, headers=headers)
    assert shown.status_code == 200
    assert f'<html lang="{page_locale}">' in shown.text
    expected = {"pt-BR": "Como foi sua compra?", "en": "How was your purchase?"}
    assert heading(shown) == expected[page_locale]


async def test_the_stylesheet_is_the_pages_own(site: Site) -> None:
    shown = await site.http.get(feedback_link(site.base, NOW))
    assert '<link rel="stylesheet" href="pages.css">' in shown.text
    css = await site.http.get(f"{site.base}/pages.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".stars" in css.text


PAGE_CONTEXTS: dict[str, dict[str, object]] = {
    "feedback": {"token": "t.s", "wrong": [], "rating": "", "comment": "", "max_comment": 2000},
    "thanks": {"rating": 2, "low": True},
    "unsubscribe": {"token": "t.s", "order_id": "PED-1", "one_click": ONE_CLICK},
    "unsubscribed": {"order_id": "PED-1"},
    **{f"notice {reason}": {"reason": reason} for reason in NoticeReason},
}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_page_renders_in_every_locale_with_words_of_its_own(locale: Locale) -> None:
    renderer = Renderer()
    headings = {}
    for name, context in PAGE_CONTEXTS.items():
        about = {"stylesheet": "pages.css", "store_name": "Loja Um", "review_url": REVIEW_URL}
        html = renderer.render_page(name.split()[0], locale, {**about, **context})
        assert f'<html lang="{locale}">' in html and "Loja Um" in html, name
        assert "{{" not in html and "{%" not in html, name
        found = re.search(r"<h1>(.*?)</h1>", html, re.S)
        assert found, name
        headings[name] = found.group(1).strip()
    # Every page and every notice says something of its own: none falls back to another.
    assert len(set(headings.values())) == len(PAGE_CONTEXTS)
    other: Locale = "en" if locale == "pt-BR" else "pt-BR"
    feedback = Renderer().render_page(
        "feedback",
        other,
        {**PAGE_CONTEXTS["feedback"], "stylesheet": "", "store_name": None, "review_url": None},
    )
    assert headings["feedback"] not in feedback  # the locales really differ


def test_a_templates_directory_of_ones_own_overrides_only_the_pages_it_has(
    tmp_path: Path,
) -> None:
    own = tmp_path / "templates"
    (own / "pages" / "pt-BR").mkdir(parents=True)
    (own / "pages" / "pt-BR" / "thanks.html.j2").write_text(
        '{% extends "pages/_layout.html.j2" %}{% block content %}<h1>Valeu!</h1>{% endblock %}',
        encoding="utf-8",
    )
    (own / "pages" / "pages.css").write_text("body { color: teal; }", encoding="utf-8")
    renderer = Renderer(own)
    about = {"stylesheet": "pages.css", "store_name": "Loja Um", "review_url": REVIEW_URL}
    thanks = renderer.render_page("thanks", "pt-BR", {**about, "rating": 5, "low": False})
    assert "<h1>Valeu!</h1>" in thanks and "<title>" in thanks  # the built-in layout
    feedback = renderer.render_page("feedback", "pt-BR", {**about, **PAGE_CONTEXTS["feedback"]})
    assert "<h1>Como foi sua compra?</h1>" in feedback  # not overridden: the built-in
    assert renderer.page_file("pages.css") == "body { color: teal; }"
