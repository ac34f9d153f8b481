"""Stated moments for time-skipping tests.

The time-skipping server starts at the wall clock, so a test that delivers an order
"now" tests whatever hour the suite happens to run at: 14:00 one run, 00:30 the next,
outside the send window. Tests name the local moment they need instead, and move the
server's clock forward to it before anything starts:

    delivered = await advance_to(env, "23:00")                 # the next 23:00 in São Paulo
    delivered = await advance_to(env, "09:00", weekday=SUNDAY)
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

SAO_PAULO = "America/Sao_Paulo"
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
# Room for the calls that follow the jump, so the stated moment is never in the past.
_MARGIN = timedelta(seconds=5)


def next_local(
    after: datetime,
    at: time | str,
    *,
    weekday: int | None = None,
    timezone: str = SAO_PAULO,
) -> datetime:
    """The first moment later than `after` (by a few seconds at least) whose local time
    in `timezone` is `at` ("HH:MM"), on `weekday` (Monday is 0) when one is given."""
    wanted = time.fromisoformat(at) if isinstance(at, str) else at
    tz = ZoneInfo(timezone)
    local = after.astimezone(tz)
    day = local.date()
    while True:
        candidate = datetime.combine(day, wanted, tzinfo=tz)
        if candidate > local + _MARGIN and (weekday is None or candidate.weekday() == weekday):
            return candidate
        day += timedelta(days=1)


async def advance_to(
    env: WorkflowEnvironment,
    at: time | str,
    *,
    weekday: int | None = None,
    timezone: str = SAO_PAULO,
) -> datetime:
    """Skip the server's clock forward to the next local `at` and return that moment.

    Call it before the journey starts: it skips time for everything on the server."""
    now = await env.get_current_time()
    moment = next_local(now, at, weekday=weekday, timezone=timezone)
    await env.sleep(moment - now)
    return moment
