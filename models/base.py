"""What every model module shares: the strict base and the channels."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for input models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Channel(StrEnum):
    """How the customer is reached. Which provider carries it is the worker's choice."""

    WHATSAPP = "whatsapp"
    EMAIL = "email"
