"""Bytes become JSON within the documented limits (models/limits.py): size, UTF-8,
nesting depth, number length. Whatever arrives, the answer is a value or one problem
line naming the document."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from intake.problems import InvalidJourney
from models.limits import MAX_DOCUMENT_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_CHARS


class _TooLarge(ValueError):
    """A JSON number or constant outside the documented limits."""


def _number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _TooLarge(f"a number longer than {MAX_NUMBER_CHARS} characters ({text[:12]}...)")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if value in (math.inf, -math.inf):
        raise _TooLarge(f"a number too large to use ({text})")
    return value


def _constant(text: str) -> Any:
    raise _TooLarge(f"{text} is not a number JSON allows")


def parse_json(data: bytes | str, what: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """A JSON document within the documented limits (size, nesting depth, number
    length), or `InvalidJourney` with one line saying what is wrong with it."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise InvalidJourney([f"{what}: larger than {max_bytes // 1024} KiB ({len(raw)} bytes)"])
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark from a Windows editor is fine
    except UnicodeDecodeError as err:
        raise InvalidJourney([f"{what}: not UTF-8 text (byte {err.start + 1})"]) from None
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except json.JSONDecodeError as err:
        one_line = "\n" not in text.strip()
        where = f"column {err.colno}" if one_line else f"line {err.lineno}, column {err.colno}"
        raise InvalidJourney([f"{what}: not valid JSON ({where}: {err.msg})"]) from None
    except _TooLarge as err:
        raise InvalidJourney([f"{what}: {err}"]) from None
    except RecursionError:
        raise InvalidJourney([f"{what}: nested deeper than {MAX_JSON_DEPTH} levels"]) from None
    check_document(value, what)
    return value


def check_document(value: Any, what: str) -> None:
    """The nesting depth and the numbers of a document, however it arrived: parsed from
    JSON, or built by a Python caller."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise InvalidJourney([f"{what}: nested deeper than {MAX_JSON_DEPTH} levels"])
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and item.bit_length() > 100:
            raise InvalidJourney([f"{what}: a number too large to use"])
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidJourney([f"{what}: {item} is not a number JSON allows"])


def load_json(path: Path, what: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """A JSON file's content, or `InvalidJourney` saying why it cannot be used."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise InvalidJourney([f"{what}: cannot read {path}: {reason}"]) from None
    return parse_json(data, f"{what}: {path}", max_bytes=max_bytes)
