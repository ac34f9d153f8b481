"""The customer's pages: the feedback page the feedback link opens, and the unsubscribe
page (and RFC 8058 one-click POST) the unsubscribe link opens.

The signed token in the link is the customer's only credential and the pages' only
input about whom they serve: a token that does not verify gets a friendly page and
nothing reaches Temporal. No GET changes anything (link scanners follow GETs), and a
cross-site form cannot forge a token, so the forms need no CSRF token: they are safe
by construction (docs/customer-pages.md).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from temporalio.service import RPCError

from intake import InvalidJourney, validate_feedback
from messages.feedback_links import FEEDBACK_PAGE
from messages.unsubscribe_links import UNSUBSCRIBE_PAGE
from models.errors import Refusal
from models.limits import MAX_COMMENT
from models.order import Locale
from starter import JourneyNotFound, JourneyRefused, opt_out_journey, submit_feedback
from web.customer_links import (
    LinkedJourney,
    Notice,
    NoticeReason,
    feedback_link,
    unsubscribe_link,
)
from web.dependencies import Settings, Stores, TemporalClient
from web.forms import field, read_form
from web.pages import STYLESHEET, BrowserLocale, page

router = APIRouter(tags=["customer pages"])
log = logging.getLogger("journey.web")

# What an RFC 8058 one-click POST carries, and the page's button too.
ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"
OPT_OUT_REASON = "unsubscribe link"
# How a page answers the journey's refusal of a rating: status and notice.
REFUSED_FEEDBACK = {
    Refusal.JOURNEY_ENDED: (410, NoticeReason.JOURNEY_ENDED),
    Refusal.FEEDBACK_ALREADY_GIVEN: (409, NoticeReason.ALREADY_RATED),
    Refusal.NOT_DELIVERED: (409, NoticeReason.NOT_DELIVERED),
}


# --- feedback -----------------------------------------------------------------------


@router.get(f"/{FEEDBACK_PAGE}", response_class=HTMLResponse, summary="The feedback page")
async def feedback_page(
    request: Request, settings: Settings, stores: Stores, locale: BrowserLocale, token: str = ""
) -> HTMLResponse:
    """1 to 5 stars and an optional comment, for the journey the link's token names."""
    try:
        linked = feedback_link(request, token, settings, stores)
    except Notice as notice:
        return notice.page(request, locale)
    return _feedback_form(request, linked, token, linked.locale or locale)


@router.post(f"/{FEEDBACK_PAGE}", response_class=HTMLResponse, summary="Send the rating")
async def give_feedback(
    request: Request,
    settings: Settings,
    stores: Stores,
    client: TemporalClient,
    locale: BrowserLocale,
) -> HTMLResponse:
    """The form's `token`, `rating` (1 to 5) and `comment`, to the journey's
    `submit_feedback`; then a thank-you page."""
    form = await read_form(request, settings.max_body_bytes)
    token, rating, comment = field(form, "token"), field(form, "rating"), field(form, "comment")
    try:
        linked = feedback_link(request, token, settings, stores)
        locale = linked.locale or locale
        try:
            feedback = validate_feedback(rating or None, comment.strip() or None)
        except InvalidJourney as err:
            wrong = {line.partition(":")[0].rpartition(".")[2] for line in err.problems}
            return _feedback_form(
                request, linked, token, locale, 422, wrong=wrong, rating=rating, comment=comment
            )
        await _submitted(client, linked, feedback.rating, feedback.comment_text)
    except Notice as notice:
        return notice.page(request, locale)
    low = feedback.rating <= linked.store.settings.low_rating
    return page(request, "thanks", locale, linked.store, rating=feedback.rating, low=low)


def _feedback_form(
    request: Request,
    linked: LinkedJourney,
    token: str,
    locale: Locale,
    status: int = 200,
    *,
    wrong: set[str] | None = None,
    rating: str = "",
    comment: str = "",
) -> HTMLResponse:
    return page(
        request,
        "feedback",
        locale,
        linked.store,
        status,
        token=token,
        wrong=sorted(wrong or ()),
        rating=rating,
        comment=comment,
        max_comment=MAX_COMMENT,
    )


async def _submitted(
    client: TemporalClient, linked: LinkedJourney, rating: int, comment: str | None
) -> None:
    """The rating handed to the journey, or the notice its refusal becomes."""
    store_id = linked.store.store_id
    try:
        await submit_feedback(client, store_id, linked.order_id, rating, comment)
    except JourneyNotFound:
        raise Notice(404, NoticeReason.UNKNOWN_JOURNEY, linked.store) from None
    except JourneyRefused as err:
        refused = REFUSED_FEEDBACK.get(err.refusal) if err.refusal else None
        if refused is None:  # stuck, or no worker answered
            log.warning("%s did not take a rating: %s", linked.journey_id, err)
            raise Notice(503, NoticeReason.UNAVAILABLE, linked.store) from None
        raise Notice(*refused, linked.store) from None
    except RPCError as err:
        log.warning("Temporal refused %s's rating: %s", linked.journey_id, err)
        raise Notice(503, NoticeReason.UNAVAILABLE, linked.store) from None


# --- unsubscribe --------------------------------------------------------------------


@router.get(f"/{UNSUBSCRIBE_PAGE}", response_class=HTMLResponse, summary="Confirm unsubscribing")
async def unsubscribe_page(
    request: Request, settings: Settings, stores: Stores, locale: BrowserLocale, token: str = ""
) -> HTMLResponse:
    """A page with a button, and nothing more: link scanners follow GETs."""
    try:
        linked = unsubscribe_link(request, token, settings, stores)
    except Notice as notice:
        return notice.page(request, locale)
    return page(
        request,
        "unsubscribe",
        locale,
        linked.store,
        token=token,
        order_id=linked.order_id,
        one_click=(ONE_CLICK_FIELD, ONE_CLICK_VALUE),
    )


@router.post(
    f"/{UNSUBSCRIBE_PAGE}",
    response_class=HTMLResponse,
    summary="Unsubscribe: RFC 8058 one-click, or the page's button",
)
async def unsubscribe(
    request: Request,
    settings: Settings,
    stores: Stores,
    client: TemporalClient,
    locale: BrowserLocale,
    token: str = "",
) -> HTMLResponse:
    """The body `List-Unsubscribe=One-Click` (urlencoded or multipart/form-data) opts
    the customer out of the journey: 200, never a redirect, however often it comes."""
    try:
        linked = unsubscribe_link(request, token, settings, stores)
        form = await read_form(request, settings.max_body_bytes)
        if field(form, ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
            raise Notice(400, NoticeReason.NOT_ONE_CLICK, linked.store)
        await _opted_out(client, linked)
    except Notice as notice:
        return notice.page(request, locale)
    return page(request, "unsubscribed", locale, linked.store, order_id=linked.order_id)


async def _opted_out(client: TemporalClient, linked: LinkedJourney) -> None:
    """The journey opted out, or already over: either way nothing more is sent."""
    try:
        answer = await opt_out_journey(client, linked.journey_id, OPT_OUT_REASON)
    except JourneyNotFound:
        raise Notice(404, NoticeReason.UNKNOWN_JOURNEY, linked.store) from None
    except JourneyRefused as err:
        if err.refusal is Refusal.JOURNEY_ENDED:
            return  # it sends nothing more
        log.warning("%s did not take an opt-out: %s", linked.journey_id, err)
        raise Notice(503, NoticeReason.UNAVAILABLE, linked.store) from None
    except RPCError as err:
        log.warning("Temporal refused %s's opt-out: %s", linked.journey_id, err)
        raise Notice(503, NoticeReason.UNAVAILABLE, linked.store) from None
    log.info("%s: %s by its unsubscribe link", linked.journey_id, answer)


@router.get(f"/{STYLESHEET}", include_in_schema=False)
async def stylesheet(request: Request) -> Response:
    css = request.app.state.renderer.page_file(STYLESHEET)
    return Response(
        css,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
