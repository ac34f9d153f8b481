"""Unsubscribe links: every journey email lets the customer leave the journey.

Emails carry `List-Unsubscribe: <https://…?token=…>, <mailto:…?subject=unsubscribe%20…>`
and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), so mail clients
show an unsubscribe button that POSTs to the link: by default the web service's
page, `{public url}/unsubscribe`. The token names the journey; the page calls
`verify_unsubscribe_token` and forwards the opt-out to that journey. Tokens do not
expire: an email may be opened months later, and all a token can do is stop messages.
"""

from __future__ import annotations

from urllib.parse import quote

from messages.feedback_links import with_token
from messages.tokens import InvalidToken, TokenProblem, sign_token, verify_token

PURPOSE = "unsubscribe"
# The web service's page, under its public URL (JOURNEY_PUBLIC_URL).
UNSUBSCRIBE_PAGE = "unsubscribe"


class InvalidUnsubscribeToken(InvalidToken):
    """The token is malformed, forged or not an unsubscribe token."""


def unsubscribe_token(journey_id: str, secret: bytes) -> str:
    return sign_token({"p": PURPOSE, "j": journey_id}, secret)


def verify_unsubscribe_token(token: str, secret: bytes) -> str:
    """The journey id the token names, or `InvalidUnsubscribeToken`."""
    try:
        fields = verify_token(token, secret)
    except InvalidToken as err:
        raise InvalidUnsubscribeToken(str(err), err.problem) from err
    if fields.get("p") != PURPOSE or not isinstance(fields.get("j"), str):
        raise InvalidUnsubscribeToken("not an unsubscribe token", TokenProblem.OTHER_PURPOSE)
    return str(fields["j"])


class UnsubscribeLinks:
    """Builds the two headers from the worker's unsubscribe page and mailbox."""

    def __init__(self, page_url: str, mailto: str, secret: bytes) -> None:
        self.page_url = page_url
        self.mailto = mailto
        self._secret = secret

    def headers(self, journey_id: str) -> dict[str, str]:
        token = unsubscribe_token(journey_id, self._secret)
        page = with_token(self.page_url, token)
        mail = f"mailto:{self.mailto}?subject={quote(f'unsubscribe {token}')}"
        return {
            "List-Unsubscribe": f"<{page}>, <{mail}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
