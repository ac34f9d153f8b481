"""Finding a customer's journeys by phone without storing or indexing the number.

Each journey is indexed by `CustomerPhoneHash`, a keyed hash (HMAC-SHA256 under
`JOURNEY_PHONE_HASH_SECRET`) of the customer's number in E.164. Without the secret the
hash cannot be tested against guessed numbers, which a plain hash of a phone number,
a small space, could.

Brazilian mobile numbers have two forms: WhatsApp accounts made before the ninth digit
still report `55 DD 8XXX-XXXX` as their `wa_id`, while the store holds `+55 DD 9 8XXX-XXXX`.
Both hash alike: a mobile number (8 digits starting 6 to 9 after the area code) gains
its ninth digit before hashing.
"""

from __future__ import annotations

import hashlib
import hmac


def canonical_phone(number: str) -> str | None:
    """`+` and the digits, a Brazilian mobile with its ninth digit; None if not a number."""
    digits = number.strip().removeprefix("+")
    if not (digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 15):
        return None
    if digits.startswith("55") and len(digits) == 12 and digits[4] in "6789":
        digits = f"{digits[:4]}9{digits[4:]}"
    return f"+{digits}"


def phone_hash(number: str, secret: bytes) -> str | None:
    """The hex HMAC-SHA256 of the canonical number, or None if `number` is not one."""
    canonical = canonical_phone(number)
    if canonical is None:
        return None
    return hmac.new(secret, canonical.encode("ascii"), hashlib.sha256).hexdigest()
