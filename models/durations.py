"""Durations as people read them, and the bounds every configured duration keeps."""

from __future__ import annotations

import functools
from datetime import timedelta

from pydantic import AfterValidator


def describe_duration(duration: timedelta) -> str:
    """e.g. '3 days', '1 day 12 hours', '45 minutes': for people, not for parsing."""
    if duration < timedelta(0):
        return f"minus {describe_duration(-duration)}"
    parts = []
    days, rest = duration.days, duration.seconds
    hours, minutes, seconds = rest // 3600, rest % 3600 // 60, rest % 60
    units = ((days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second"))
    for amount, unit in units:
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount > 1 else ''}")
    if not parts and duration:
        return "less than a second"
    return " ".join(parts) or "no time"


def describe_bounds(bounds: tuple[timedelta, timedelta]) -> str:
    """e.g. 'between 1 hour and 30 days', or 'between 0 and 90 days', for problem lines."""
    low, high = bounds
    shown_low = describe_duration(low) if low else "0"
    return f"between {shown_low} and {describe_duration(high)}"


def check_duration(value: timedelta, bounds: tuple[timedelta, timedelta]) -> timedelta:
    """`value`, or ValueError saying which bounds it is outside of."""
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"must be {describe_bounds(bounds)}, got {describe_duration(value)}")
    return value


def within(bounds: tuple[timedelta, timedelta]) -> AfterValidator:
    """A model field's check that its duration keeps `bounds`:
    `Annotated[timedelta, within(STEP_WAIT)]`."""
    return AfterValidator(functools.partial(check_duration, bounds=bounds))
