"""HMAC-SHA256 signatures over a timestamp and a body, one scheme both ways: the
journey's webhooks to a store carry them, and the store's requests to the journey's
HTTP API must.

    X-Journey-Timestamp: 1772301600
    X-Journey-Signature: sha256=<hex of HMAC-SHA256(secret, "{timestamp}.{body}")>

A receiver checks the signature in constant time and refuses a timestamp more than
five minutes from its clock, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Journey-Signature"
TIMESTAMP_HEADER = "X-Journey-Timestamp"
TOLERANCE_SECONDS = 300


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """The signature matches, compared in constant time, and the timestamp is recent."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)
