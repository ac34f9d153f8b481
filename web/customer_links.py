"""The journey a customer's link names: its token verified, its store one this service
serves; or the notice a page shows instead. Nothing here asks Temporal anything."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from fastapi import Request
from fastapi.responses import HTMLResponse

from messages.feedback_links import verify_feedback_token
from messages.tokens import InvalidToken, TokenProblem
from messages.unsubscribe_links import verify_unsubscribe_token
from models.order import Locale, journey_parts
from web.pages import page
from web.settings import ServiceSettings
from web.stores import Store


class NoticeReason(StrEnum):
    """Why a page says something other than what was asked: each has its own words in
    templates/pages/<locale>/notice.html.j2."""

    BROKEN_LINK = "broken-link"
    EXPIRED_LINK = "expired-link"
    UNKNOWN_STORE = "unknown-store"
    UNKNOWN_JOURNEY = "unknown-journey"
    ALREADY_RATED = "already-rated"
    JOURNEY_ENDED = "journey-ended"
    NOT_DELIVERED = "not-delivered"
    NOT_ONE_CLICK = "not-one-click"
    UNAVAILABLE = "unavailable"


TOKEN_STATUS = {
    TokenProblem.MALFORMED: 400,
    TokenProblem.OTHER_PURPOSE: 400,
    TokenProblem.FORGED: 403,
    TokenProblem.EXPIRED: 410,
}


class Notice(Exception):
    """What a page tells the customer instead of what was asked: `reason` picks the
    text in templates/pages/<locale>/notice.html.j2."""

    def __init__(self, status: int, reason: NoticeReason, store: Store | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.store = status, reason, store

    def page(self, request: Request, locale: Locale) -> HTMLResponse:
        return page(request, "notice", locale, self.store, self.status, reason=self.reason)


@dataclass(frozen=True)
class LinkedJourney:
    """The journey a verified token names, and its store."""

    journey_id: str
    store: Store
    order_id: str
    locale: Locale | None = None  # the customer's, when the token carries it


def _linked_journey(
    request: Request, stores: dict[str, Store], journey_id: str, order_id: str | None = None
) -> LinkedJourney:
    """The journey of a verified token, if this service serves its store."""
    parts = journey_parts(journey_id)
    if parts is None or (order_id is not None and parts[1] != order_id):
        raise Notice(403, NoticeReason.BROKEN_LINK)  # signed by us, yet naming no journey of ours
    store = stores.get(parts[0])
    if store is None:
        raise Notice(404, NoticeReason.UNKNOWN_STORE)
    request.state.journey_id = journey_id  # for the request's log line
    return LinkedJourney(journey_id, store, parts[1])


def _refused_link(err: InvalidToken) -> Notice:
    """A token that does not verify: the customer is told the link did not work."""
    expired = err.problem is TokenProblem.EXPIRED
    reason = NoticeReason.EXPIRED_LINK if expired else NoticeReason.BROKEN_LINK
    return Notice(TOKEN_STATUS[err.problem], reason)


def feedback_link(
    request: Request, token: str, settings: ServiceSettings, stores: dict[str, Store]
) -> LinkedJourney:
    """The journey of a feedback link's token, with the customer's locale if it says."""
    secret = settings.feedback_secret.get_secret_value().encode()
    try:
        claims = verify_feedback_token(token, secret, now=datetime.now(UTC))
    except InvalidToken as err:
        raise _refused_link(err) from None
    return replace(
        _linked_journey(request, stores, claims.journey_id, claims.order_id), locale=claims.locale
    )


def unsubscribe_link(
    request: Request, token: str, settings: ServiceSettings, stores: dict[str, Store]
) -> LinkedJourney:
    """The journey of an unsubscribe link's token."""
    try:
        journey_id = verify_unsubscribe_token(
            token, settings.feedback_secret.get_secret_value().encode()
        )
    except InvalidToken as err:
        raise _refused_link(err) from None
    return _linked_journey(request, stores, journey_id)
