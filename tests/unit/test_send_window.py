"""When messages go out: waits moved into the customer's send window."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from journey.schedule import first_send_time, next_in_window
from models import SendWindow

SP = ZoneInfo("America/Sao_Paulo")
WINDOW = SendWindow(start=time(9), end=time(20))


def sp(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SP)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (sp(10, 8, 59), sp(10, 9)),  # before opening: same day's opening
        (sp(10, 9), sp(10, 9)),  # the opening itself is inside
        (sp(10, 19, 59), sp(10, 19, 59)),  # inside: unchanged
        (sp(10, 20), sp(11, 9)),  # the end is outside: next day's opening
        (sp(10, 23), sp(11, 9)),
    ],
)
def test_next_in_window(moment: datetime, expected: datetime) -> None:
    assert next_in_window(moment, WINDOW, "America/Sao_Paulo") == expected


def test_delivered_at_23h_with_one_day_wait_sends_at_the_window_opening_after_that() -> None:
    first = first_send_time(sp(10, 23), timedelta(days=1), WINDOW, "America/Sao_Paulo")
    assert first == sp(12, 9)
    assert timedelta(days=1) <= first - sp(10, 23) <= timedelta(days=2)


def test_delivered_in_the_afternoon_sends_a_day_later_at_the_same_hour() -> None:
    assert first_send_time(sp(10, 14, 30), timedelta(days=1), WINDOW, "America/Sao_Paulo") == sp(
        11, 14, 30
    )


def test_two_day_wait_that_would_overshoot_moves_back_inside_the_limit() -> None:
    # 2 days after 23:00 is 23:00, outside the window; the next opening is past the
    # 2-day limit, so the latest opening at least a day after delivery is used.
    first = first_send_time(sp(10, 23), timedelta(days=2), WINDOW, "America/Sao_Paulo")
    assert first == sp(12, 9)
    assert first - sp(10, 23) <= timedelta(days=2)


def test_window_is_read_in_the_customers_timezone() -> None:
    tokyo = "Asia/Tokyo"
    delivered = datetime(2026, 3, 10, 14, 0, tzinfo=ZoneInfo("UTC"))  # 23:00 in Tokyo
    first = first_send_time(delivered, timedelta(days=1), WINDOW, tokyo)
    assert first == datetime(2026, 3, 12, 9, 0, tzinfo=ZoneInfo(tokyo))
    assert first.astimezone(ZoneInfo(tokyo)).time() == time(9)


def test_every_result_lies_inside_the_window_for_every_hour_of_the_day() -> None:
    for hour in range(24):
        for wait in (timedelta(days=1), timedelta(hours=36), timedelta(days=2)):
            delivered = sp(10, hour, 17)
            first = first_send_time(delivered, wait, WINDOW, "America/Sao_Paulo")
            local = first.astimezone(SP).time()
            assert WINDOW.start <= local < WINDOW.end, (hour, wait, first)
            assert timedelta(days=1) <= first - delivered <= timedelta(days=2), (hour, wait)
