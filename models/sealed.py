"""Customer data sealed at the edge, and the masks operators read instead of it.

A `Sealed` value is a customer's name, email, phone or comment encrypted under that
customer's own data key (`customer_data.vault`). Journeys carry it, never the text:
the workflow decides nothing from contact data, only from whether a field is there.
Deleting the customer's key erases the text from every history at once; the mask
stays, and is made to identify no one by itself.

Pure functions and models: workflows import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

SEALED_MARK: Literal["customer-data/v1"] = "customer-data/v1"
ERASED = "[erased]"


MaskKind = Literal["name", "email", "phone", "comment"]


class Sealed(BaseModel):
    """One piece of customer data, encrypted under its customer's data key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sealed: Literal["customer-data/v1"] = Field(
        default=SEALED_MARK, description="Marks a sealed value, wherever it sits in a payload."
    )
    subject: str = Field(description="Whose data key, e.g. 'customer:loja-exemplo:C-1001'.")
    key_id: str = Field(description="Which data key of that subject; a new key after erasure.")
    field: MaskKind = Field(description="What it is: name, email, phone or comment.")
    masked: str = Field(description="What operators see, e.g. 'm***@example.com'.")
    box: str = Field(description="base64 of nonce and AES-256-GCM ciphertext.")

    def __str__(self) -> str:
        # Anything that formats a sealed value shows the mask, never the box.
        return self.masked


@dataclass(frozen=True)
class TextOrSealed:
    """Marks a field that holds the customer's text, checked as `text`, or that text
    sealed: `name: Annotated[str | Sealed, TextOrSealed(PersonName)]`. Unlike a plain
    union, a bad text gets the text type's own error at the field's own path."""

    text: Any

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def text_or_sealed(value: Any, as_text: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if isinstance(value, Sealed):
                return value
            if isinstance(value, dict) and value.get("sealed") == SEALED_MARK:
                return Sealed.model_validate(value)
            return as_text(value)

        def dump(value: Any) -> Any:
            return value.model_dump() if isinstance(value, Sealed) else value

        return core_schema.no_info_wrap_validator_function(
            text_or_sealed,
            handler.generate_schema(self.text),
            serialization=core_schema.plain_serializer_function_ser_schema(dump),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Stores send text: the schema they read is the text's.
        return handler(schema)


def mask_email(email: str) -> str:
    """'maria.silva@example.com' -> 'm***@example.com'."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    """E.164: '+5511987654321' -> '+55 11 9****-4321'; elsewhere '+44 ******1234'."""
    digits = phone.removeprefix("+")
    if digits.startswith("55") and len(digits) in (12, 13):
        area, number = digits[2:4], digits[4:]
        return f"+55 {area} {number[0]}{'*' * (len(number) - 5)}-{number[-4:]}"
    return f"+{digits[:2]} {'*' * max(len(digits) - 6, 2)}{digits[-4:]}"


def mask_name(name: str) -> str:
    """'Maria da Silva' -> 'M*** d*** S***'."""
    return " ".join(f"{word[:1]}***" for word in name.split()) or "***"


def mask_comment(comment: str) -> str:
    return f"(a comment of {len(comment)} characters)"


def text_length(value: str | Sealed | None) -> int:
    """How long a free text is, sealed or not: its mask says."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    digits = "".join(c for c in value.masked if c.isdigit())
    return int(digits or 0)


MASKS = {"name": mask_name, "email": mask_email, "phone": mask_phone, "comment": mask_comment}


def masked(value: str | Sealed | None, kind: MaskKind) -> str | None:
    """What operators see of a field, sealed or not."""
    if value is None:
        return None
    if isinstance(value, Sealed):
        return value.masked
    return MASKS[kind](value)
