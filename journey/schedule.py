"""When a journey's messages go out: waits moved into the customer's send window.

Pure functions of their arguments, so the workflow can call them deterministically.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from models.durations import describe_duration
from models.plan import Step, StepKind
from models.settings import (
    MAX_WAIT_AFTER_DELIVERY,
    MIN_WAIT_AFTER_DELIVERY,
    JourneySettings,
    SendWindow,
)


def _opening(day: date, window: SendWindow, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, window.start, tzinfo=tz)


def _closing(day: date, window: SendWindow, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, window.end, tzinfo=tz)


def next_in_window(moment: datetime, window: SendWindow, timezone: str) -> datetime:
    """The earliest instant at or after `moment` that lies inside the send window."""
    tz = zoneinfo.ZoneInfo(timezone)
    local = moment.astimezone(tz)
    if local.time() < window.start:
        return _opening(local.date(), window, tz)
    if local.time() >= window.end:
        return _opening(local.date() + timedelta(days=1), window, tz)
    return local


def first_send_time(
    delivered_at: datetime, wait: timedelta, window: SendWindow, timezone: str
) -> datetime:
    """The first message: at least `wait` after delivery, inside the window, ≤ 2 days.

    When the next window opening after the wait lies past the 2-day limit (a 2-day
    wait after a late-evening delivery), the message moves back to the latest window
    opening that is still at least 1 day after delivery.
    """
    candidate = next_in_window(delivered_at + wait, window, timezone)
    latest = delivered_at + MAX_WAIT_AFTER_DELIVERY
    if candidate <= latest:
        return candidate
    earliest = delivered_at + MIN_WAIT_AFTER_DELIVERY
    tz = zoneinfo.ZoneInfo(timezone)
    day = latest.astimezone(tz).date()
    # A window of at least a minute falls inside any 24-hour span, so two days suffice.
    for offset in (0, 1, 2):
        opening = max(_opening(day - timedelta(days=offset), window, tz), earliest)
        if opening <= latest and opening < _closing(day - timedelta(days=offset), window, tz):
            return opening
    return candidate  # unreachable for valid settings; keeps the function total


def plan_times(
    steps: Sequence[Step],
    delivered_at: datetime,
    settings: JourneySettings,
    timezone: str,
    *,
    not_before: datetime | None = None,
    first_send_delay: timedelta = timedelta(0),
) -> list[tuple[Step, datetime, str]]:
    """When each step of a plan is due after a delivery, and why, as the journey and
    the `preview` command see it. `not_before`: a delivery reported late never gets a
    message in the past."""
    due = first_send_time(
        delivered_at, settings.wait_after_delivery, settings.send_window, timezone
    )
    if not_before is not None:
        due = max(due, not_before)
    due += first_send_delay
    why = f"{describe_duration(settings.wait_after_delivery)} after delivery"
    times: list[tuple[Step, datetime, str]] = []
    for step in steps:
        if times:
            due += step.wait
            why = f"{describe_duration(step.wait)} after '{times[-1][0].id}'"
        due = next_in_window(due, settings.send_window, timezone)
        times.append((step, due, why))
    return times


@functools.lru_cache(maxsize=1024)
def describe_local(moment: datetime, timezone: str) -> str:
    """e.g. 'Tue 12 Mar 09:00 America/Sao_Paulo', for summaries operators read.
    Remembered: a journey describes each of its sends again whenever its details change."""
    return f"{moment.astimezone(zoneinfo.ZoneInfo(timezone)):%a %d %b %H:%M} {timezone}"


def journey_timeline(
    steps: Sequence[Step],
    delivered_at: datetime,
    settings: JourneySettings,
    timezone: str,
    *,
    now: datetime,
    first_send_delay: timedelta = timedelta(0),
    promised_by: datetime | None = None,
) -> list[tuple[str, datetime]]:
    """Every moment a journey delivered at `delivered_at` may act on, computed ahead
    with the functions the journey itself uses: each step, the feedback reminder, when
    each feedback link expires, the delivery watch and the wait for a delivery. Each
    moment is also described as operators see it. The edge computes this for every
    journey it accepts, so none can fail on a date days later."""
    moments: list[tuple[str, datetime]] = []
    timed = plan_times(
        steps, delivered_at, settings, timezone, not_before=now, first_send_delay=first_send_delay
    )
    for step, due, _ in timed:
        moments.append((f"step {step.id}", due))
        if step.kind is not StepKind.FEEDBACK_REQUEST:
            continue
        moments.append((f"feedback link of {step.id} expires", due + settings.feedback_link_ttl))
        if settings.feedback_reminder_after is not None:
            reminder = next_in_window(
                due + settings.feedback_reminder_after, settings.send_window, timezone
            )
            moments.append(("feedback reminder", reminder))
            moments.append(
                ("feedback link of the reminder expires", reminder + settings.feedback_link_ttl)
            )
    if promised_by is not None:
        moments.append(("delivery watch", promised_by + settings.delivery_grace))
    moments.append(("end without delivery", now + settings.delivery_wait_limit))
    for _, moment in moments:
        describe_local(moment, timezone)
    return moments
