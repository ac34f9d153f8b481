"""`biz_opaque_callback_data`: what each WhatsApp send carries so its statuses find the
way back to their journey without a lookup table. Meta does not read it; it echoes it
in every status of the message (`sent`, `delivered`, `read`, `failed`).

    pj1|post-purchase:loja-exemplo:PED-1001|thanks|thanks

The version, the journey (its workflow id), the step and the step's template (the
label status metrics are counted by). Names only ids, never contact data. A status
without it, or with data that is not ours, belongs to a message this product did not
send, and is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = "pj1"
MAX_LENGTH = 512  # Meta's limit on the field
_JOURNEY = re.compile(
    r"post-purchase:[A-Za-z0-9][A-Za-z0-9._-]{0,63}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
)
_NAME = re.compile(r"[a-z0-9_]{1,60}")


@dataclass(frozen=True)
class Correlation:
    """The journey and step a message was sent by."""

    journey_id: str
    step_id: str
    template: str


def encode(journey_id: str, step_id: str, template: str) -> str:
    data = f"{VERSION}|{journey_id}|{step_id}|{template}"
    if decode(data) is None:
        raise ValueError(f"cannot carry {data!r} as callback data")
    return data


def decode(data: str | None) -> Correlation | None:
    """The journey and step `data` names, or None when it is not callback data of ours."""
    if not data or len(data) > MAX_LENGTH:
        return None
    parts = data.split("|")
    if len(parts) != 4 or parts[0] != VERSION:
        return None
    _, journey_id, step_id, template = parts
    if not (
        _JOURNEY.fullmatch(journey_id) and _NAME.fullmatch(step_id) and _NAME.fullmatch(template)
    ):
        return None
    return Correlation(journey_id, step_id, template)
