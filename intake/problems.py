"""What the edge says about a bad input: one line per problem, naming the field."""

from __future__ import annotations

from pydantic import ValidationError


class InvalidJourney(Exception):
    """The input cannot start a journey. `problems` has one line per invalid field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def short(part: object) -> str:
    """A piece of a field's path, cut short if someone sent a huge key."""
    text = str(part)
    return text if len(text) <= 60 else f"{text[:60]}..."


def field_problems(prefix: str, error: ValidationError) -> list[str]:
    """pydantic's errors as problem lines: `order.customer.phone: ...`."""
    lines = []
    for item in error.errors():
        where = ".".join([prefix, *(short(part) for part in item["loc"])])
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return lines
