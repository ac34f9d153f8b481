"""What every model module shares: the strict base, the text checks and the channels."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationInfo,
    field_validator,
)

from models.limits import EARLIEST_DATE, LATEST_DATE

# C0 and C1 controls, DEL, lone surrogates (which no encoder can write) and the
# bidirectional overrides that make text read differently from what it says.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# The same, but line breaks and tabs are text in a comment.
_CONTROL_IN_PROSE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
)


def control_character(text: str, *, prose: bool = False) -> str | None:
    """The first control character in `text`, or None."""
    found = (_CONTROL_IN_PROSE if prose else _CONTROL).search(text)
    return found.group() if found else None


def check_text(text: str, *, prose: bool = False) -> str:
    """`text`, or ValueError naming the control character it holds."""
    found = control_character(text, prose=prose)
    if found is not None:
        allowed = " (line breaks and tabs are fine)" if prose else ""
        raise ValueError(f"contains the control character U+{ord(found):04X}{allowed}")
    return text


def not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


# A name people read: not blank. (Control characters are refused for every field.)
Name = Annotated[str, AfterValidator(not_blank)]


def _in_calendar(moment: datetime) -> datetime:
    if not EARLIEST_DATE <= moment < LATEST_DATE:
        raise ValueError(
            f"must be between {EARLIEST_DATE:%Y} and {LATEST_DATE.year - 1}, got {moment:%Y-%m-%d}"
        )
    return moment


# Every date a journey holds: with an offset, and far from the ends of the calendar,
# so that adding any accepted wait to it stays a date.
Moment = Annotated[AwareDatetime, AfterValidator(_in_calendar)]


def _texts(value: Any) -> list[str]:
    """The strings directly in a field's value: itself, list items, mapping keys and
    values. Nested models check their own fields."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    if isinstance(value, Mapping):
        return [t for pair in value.items() for t in pair if isinstance(t, str)]
    return []


class Strict(BaseModel):
    """Base for input models: unknown fields are an error, not silently dropped, and no
    text field holds a control character. `PROSE` names the fields where line breaks
    and tabs are part of the text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    PROSE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        prose = info.field_name in cls.PROSE
        for text in _texts(value):
            check_text(text, prose=prose)
        return value


class Channel(StrEnum):
    """How the customer is reached. Which provider carries it is the worker's choice."""

    WHATSAPP = "whatsapp"
    EMAIL = "email"
