"""The customer pages under test: the tests' store registered with the web service,
links to its pages signed as the worker signs them, and what a page says."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from messages.feedback_links import feedback_url
from messages.unsubscribe_links import unsubscribe_token
from models.order import Locale
from tests import builders
from tests.conftest import FEEDBACK_SECRET

JOURNEY_ID = "post-purchase:loja-1:PED-1"  # the builders' order
SECRET = FEEDBACK_SECRET.encode()
REVIEW_URL = builders.SETTINGS["review_url"]


def registered_store(directory: Path) -> Path:
    """A stores directory with the builders' store, `loja-1`, as the service reads it."""
    directory.mkdir(parents=True, exist_ok=True)
    store = {
        "store_id": "loja-1",
        "api_secret": "test-only-secret-for-loja-1-0123456789",
        "settings": builders.settings(),
    }
    (directory / "loja-1.json").write_text(json.dumps(store), encoding="utf-8")
    return directory


def feedback_link(
    base: str,
    issued_at: datetime,
    *,
    journey_id: str = JOURNEY_ID,
    ttl: timedelta = timedelta(days=30),
    locale: Locale | None = None,
    secret: bytes = SECRET,
) -> str:
    return feedback_url(
        f"{base}/feedback",
        journey_id=journey_id,
        order_id=journey_id.rsplit(":", 1)[1],
        step_id="feedback_request",
        issued_at=issued_at,
        ttl=ttl,
        secret=secret,
        locale=locale,
    )


def unsubscribe_link(base: str, journey_id: str = JOURNEY_ID, secret: bytes = SECRET) -> str:
    return f"{base}/unsubscribe?token={unsubscribe_token(journey_id, secret)}"


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def tampered(token: str) -> str:
    """The token with another order in its payload, and its own signature."""
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["j"] = "post-purchase:loja-1:PED-2"
    if "o" in claims:
        claims["o"] = "PED-2"
    changed = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return f"{base64.urlsafe_b64encode(changed).rstrip(b'=').decode()}.{signature}"


def heading(response: httpx.Response) -> str:
    """The page's <h1>: what it tells the customer first."""
    found = re.search(r"<h1>(.*?)</h1>", response.text, re.S)
    assert found, f"no heading in a {response.status_code} page: {response.text[:300]}"
    return found.group(1).strip()


def assert_a_safe_page(response: httpx.Response) -> None:
    """A page of the service's own: HTML, no script allowed, never framed, its token
    kept out of Referer headers and caches."""
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "<script" not in response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in response.text
