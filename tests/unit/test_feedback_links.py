"""Feedback links are signed, expire, carry the customer's locale, and are the same on
every retry."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from messages.feedback_links import InvalidFeedbackToken, feedback_url, verify_feedback_token
from messages.tokens import TokenProblem, sign_token
from messages.unsubscribe_links import unsubscribe_token

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
    return feedback_url("https://journeys.example/feedback?src=wa", **args)  # type: ignore[arg-type]


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


def test_a_link_carries_the_customers_locale_signed() -> None:
    token = token_of(link(locale="en"))
    assert verify_feedback_token(token, SECRET, now=ISSUED).locale == "en"
    assert token != token_of(link(locale="pt-BR"))  # the locale is in the signed payload


def test_tokens_issued_before_the_locale_still_verify_without_one() -> None:
    # A token as workers signed them before tokens carried the locale.
    expires = int((ISSUED + timedelta(days=30)).timestamp())
    old = sign_token(
        {"j": "post-purchase:loja-1:PED-1", "o": "PED-1", "s": "feedback_request", "e": expires},
        SECRET,
    )
    claims = verify_feedback_token(old, SECRET, now=ISSUED)
    assert (claims.journey_id, claims.locale) == ("post-purchase:loja-1:PED-1", None)
    # A locale this code does not know (a newer worker's) is no reason to refuse the link.
    newer = sign_token(
        {"j": "post-purchase:loja-1:PED-1", "o": "PED-1", "s": "s", "e": expires, "l": "fr"},
        SECRET,
    )
    assert verify_feedback_token(newer, SECRET, now=ISSUED).locale is None


def test_each_refusal_names_its_problem() -> None:
    token = token_of(link())
    cases = {
        TokenProblem.EXPIRED: (token, ISSUED + timedelta(days=31)),
        TokenProblem.FORGED: (token[:-3] + "AAA", ISSUED),
        TokenProblem.MALFORMED: ("", ISSUED),
        TokenProblem.OTHER_PURPOSE: (
            unsubscribe_token("post-purchase:loja-1:PED-1", SECRET),
            ISSUED,
        ),
    }
    for problem, (candidate, now) in cases.items():
        with pytest.raises(InvalidFeedbackToken) as exc:
            verify_feedback_token(candidate, SECRET, now=now)
        assert exc.value.problem is problem
