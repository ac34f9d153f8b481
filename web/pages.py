"""How the customer pages answer: HTML from `templates/pages/<locale>/`, in the
customer's language, with headers that keep a page's token to itself.

The pages need no JavaScript and allow none: the Content-Security-Policy lets a page
load only its own stylesheet and post its forms to this service, and no other site
may frame it. `Referrer-Policy: no-referrer` keeps the token in the page's address
out of any request the page leads to (the store's review page, say), and
`Cache-Control: no-store` keeps the page out of shared caches.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from messages.rendering import Renderer
from models.order import SUPPORTED_LOCALES, Locale
from web.stores import Store

DEFAULT_LOCALE: Locale = "pt-BR"
STYLESHEET = "pages.css"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def preferred_locale(accept_language: str | None) -> Locale:
    """The supported locale the browser ranks highest in its Accept-Language (any
    `pt` is pt-BR, any `en` is en), else pt-BR."""
    ranked: list[tuple[float, int, Locale]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, *parameters = (part.strip() for part in item.split(";"))
        locale = _locale_of(tag)
        if locale is None:
            continue
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:
            ranked.append((-weight, position, locale))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE


def browser_locale(request: Request) -> Locale:
    """The language the customer's browser asks for: a page's language when its link
    does not say the customer's."""
    return preferred_locale(request.headers.get("accept-language"))


BrowserLocale = Annotated[Locale, Depends(browser_locale)]


def _locale_of(tag: str) -> Locale | None:
    language = tag.split("-")[0].lower()
    return next((loc for loc in SUPPORTED_LOCALES if loc.split("-")[0].lower() == language), None)


def page(
    request: Request,
    name: str,
    locale: Locale,
    store: Store | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page `name` in `locale`, with the security headers. Every page names the
    store (None: the link names no store served here) and has its public review page
    at hand."""
    renderer: Renderer = request.app.state.renderer
    about = {
        "store_name": store.settings.store_name if store else None,
        "review_url": str(store.settings.review_url) if store else None,
    }
    html = renderer.render_page(name, locale, {"stylesheet": STYLESHEET, **about, **context})
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
