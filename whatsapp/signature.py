"""`X-Hub-Signature-256`: how Meta signs every webhook POST, with the app's secret.

    X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(app secret, raw body)>

Checked on the raw bytes, before anything is parsed, and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(app_secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def verify(app_secret: bytes, body: bytes, header: str | None) -> bool:
    """The header is `sha256=` and the HMAC of `body` under the app secret."""
    if not header:
        return False
    # Headers arrive as latin-1 text; compare bytes so any header compares in constant time.
    given = header.strip().encode("latin-1", errors="replace")
    return hmac.compare_digest(sign(app_secret, body).encode("ascii"), given)
