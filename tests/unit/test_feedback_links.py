"""Feedback links are signed, expire, and are the same on every retry."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from messages.feedback_links import InvalidFeedbackToken, feedback_url, verify_feedback_token

SECRET = b"s3cret-for-feedback-links"
ISSUED = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)


def link(**changes: object) -> str:
    args: dict[str, object] = {
        "journey_id": "post-purchase:loja-1:PED-1",
        "order_id": "PED-1",
        "step_id": "feedback_request",
        "issued_at": ISSUED,
        "ttl": timedelta(days=30),
        "secret": SECRET,
    }
    args.update(changes)
    return feedback_url("https://loja.example/avaliar?src=wa", **args)  # type: ignore[arg-type]


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_link_keeps_the_stores_query_and_verifies_with_the_secret() -> None:
    url = link()
    assert parse_qs(urlsplit(url).query)["src"] == ["wa"]
    claims = verify_feedback_token(token_of(url), SECRET, now=ISSUED + timedelta(days=1))
    assert claims.order_id == "PED-1"
    assert claims.expires_at == ISSUED + timedelta(days=30)


def test_same_inputs_give_the_same_link_and_other_orders_another() -> None:
    assert link() == link()
    assert link(order_id="PED-2", journey_id="post-purchase:loja-1:PED-2") != link()


def test_expired_forged_and_malformed_tokens_are_refused() -> None:
    token = token_of(link())
    with pytest.raises(InvalidFeedbackToken, match="expired"):
        verify_feedback_token(token, SECRET, now=ISSUED + timedelta(days=30))
    with pytest.raises(InvalidFeedbackToken, match="bad signature"):
        verify_feedback_token(token, b"another-secret", now=ISSUED)
    payload, signature = token.split(".")
    with pytest.raises(InvalidFeedbackToken, match="bad signature"):
        verify_feedback_token(payload[:-2] + "xx." + signature, SECRET, now=ISSUED)
    with pytest.raises(InvalidFeedbackToken, match="malformed"):
        verify_feedback_token("no-dot-here", SECRET, now=ISSUED)
