"""Unsubscribe tokens name the journey, verify with the secret, and are not
interchangeable with feedback tokens."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from messages.feedback_links import (
    FeedbackClaims,
    InvalidFeedbackToken,
    sign_feedback_token,
    verify_feedback_token,
)
from messages.unsubscribe_links import (
    InvalidUnsubscribeToken,
    UnsubscribeLinks,
    unsubscribe_token,
    verify_unsubscribe_token,
)

SECRET = b"s3cret-for-journey-links"
JOURNEY = "post-purchase:loja-1:PED-1"


def test_a_token_names_its_journey_and_is_stable() -> None:
    token = unsubscribe_token(JOURNEY, SECRET)
    assert token == unsubscribe_token(JOURNEY, SECRET)
    assert verify_unsubscribe_token(token, SECRET) == JOURNEY
    assert unsubscribe_token("post-purchase:loja-1:PED-2", SECRET) != token


def test_forged_and_malformed_tokens_are_refused() -> None:
    token = unsubscribe_token(JOURNEY, SECRET)
    with pytest.raises(InvalidUnsubscribeToken, match="bad signature"):
        verify_unsubscribe_token(token, b"another-secret")
    payload, signature = token.split(".")
    with pytest.raises(InvalidUnsubscribeToken, match="bad signature"):
        verify_unsubscribe_token(payload[:-2] + "xx." + signature, SECRET)
    with pytest.raises(InvalidUnsubscribeToken, match="malformed"):
        verify_unsubscribe_token("no-dot-here", SECRET)


def test_feedback_and_unsubscribe_tokens_are_not_interchangeable() -> None:
    now = datetime(2026, 3, 12, tzinfo=UTC)
    claims = FeedbackClaims(
        journey_id=JOURNEY, order_id="PED-1", step_id="feedback", expires_at=now + timedelta(1)
    )
    feedback = sign_feedback_token(claims, SECRET)
    with pytest.raises(InvalidUnsubscribeToken, match="not an unsubscribe token"):
        verify_unsubscribe_token(feedback, SECRET)
    with pytest.raises(InvalidFeedbackToken, match="not a feedback token"):
        verify_feedback_token(unsubscribe_token(JOURNEY, SECRET), SECRET, now=now)


def test_headers_offer_one_click_https_and_mailto() -> None:
    links = UnsubscribeLinks("https://loja.example/sair?src=email", "sair@loja.example", SECRET)
    headers = links.headers(JOURNEY)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip().strip("<>") for part in headers["List-Unsubscribe"].split(","))
    query = parse_qs(urlsplit(https).query)
    assert https.startswith("https://loja.example/sair?") and query["src"] == ["email"]
    assert verify_unsubscribe_token(query["token"][0], SECRET) == JOURNEY
    assert mailto.startswith("mailto:sair@loja.example?subject=")
    subject = unquote(mailto.split("subject=", 1)[1])
    assert subject == f"unsubscribe {query['token'][0]}"
