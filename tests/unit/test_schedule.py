"""Schedules: slots, delays, DST, start/end, and the located errors."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from digpy.core.errors import ConfigError, Location
from digpy.core.workflow.schedule import parse_duration, parse_schedule

LA = ZoneInfo("America/Los_Angeles")
UTC = ZoneInfo("UTC")


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


def test_daily_session_is_midnight_and_run_time_is_the_given_time():
    s = parse_schedule({"daily>": "10:32:32"}, "UTC")
    slot = s.first(at(2026, 1, 5, 14, 20))
    assert slot.session_time == at(2026, 1, 6) and slot.run_time == at(2026, 1, 6, 10, 32, 32)
    assert s.first(at(2026, 1, 5, 9, 0)).session_time == at(2026, 1, 5)


def test_hourly_weekly_monthly():
    assert parse_schedule({"hourly>": "05:00"}, "UTC").first(at(2026, 1, 1, 0, 30)).run_time == at(2026, 1, 1, 1, 5)
    weekly = parse_schedule({"weekly>": "Mon,09:00:00"}, "UTC").first(at(2026, 1, 1))  # a Thursday
    assert weekly.session_time == at(2026, 1, 5) and weekly.run_time == at(2026, 1, 5, 9)
    monthly = parse_schedule({"monthly>": "15,01:00:00"}, "UTC").first(at(2026, 1, 20))
    assert monthly.session_time == at(2026, 2, 15)


def test_a_cron_list_has_a_session_at_each_match_of_any_of_its_expressions():
    both = parse_schedule({"cron>": ["30 2 * * *", "15 14 * * 1"]}, "UTC")  # 2026-01-05 is a Monday
    assert both.spec == "30 2 * * * | 15 14 * * 1"
    assert both.first(at(2026, 1, 5, 3)).session_time == at(2026, 1, 5, 14, 15)
    assert both.first(at(2026, 1, 5, 15)).session_time == at(2026, 1, 6, 2, 30)
    assert both.next_slot(at(2026, 1, 5, 2, 30)).session_time == at(2026, 1, 5, 14, 15)
    assert both.last_before(at(2026, 1, 6, 1)).session_time == at(2026, 1, 5, 14, 15)
    assert both.prev_slot(at(2026, 1, 5, 14, 15)).session_time == at(2026, 1, 5, 2, 30)
    with pytest.raises(ConfigError, match="invalid cron expression 'nope'"):
        parse_schedule({"cron>": ["30 2 * * *", "nope"]}, "UTC")


def test_cron_and_minutes_interval_sessions_are_the_run_time_plus_delay():
    cron = parse_schedule({"cron>": "*/15 * * * *", "delay": "5m"}, "UTC")
    slot = cron.first(at(2026, 1, 1, 0, 7))
    assert slot.session_time == at(2026, 1, 1, 0, 15) and slot.run_time == at(2026, 1, 1, 0, 20)
    assert cron.last_before(at(2026, 1, 1, 0, 7)).session_time == at(2026, 1, 1, 0, 0)
    minutes = parse_schedule({"minutes_interval>": 30}, "UTC")
    assert minutes.next_slot(at(2026, 1, 1, 0, 30)).session_time == at(2026, 1, 1, 1, 0)


def test_next_and_previous_slots_give_last_and_next_session_times():
    s = parse_schedule({"daily>": "07:00:00"}, "America/Los_Angeles")
    session = at(2016, 1, 30, tz=LA)
    assert s.prev_slot(session).session_time == at(2016, 1, 29, tz=LA)
    assert s.next_slot(session).session_time == at(2016, 1, 31, tz=LA)


def test_hourly_over_spring_forward_skips_the_missing_hour_once():
    s = parse_schedule({"hourly>": "00:00"}, "America/Los_Angeles")
    slot = s.first(at(2016, 3, 13, 0, 30, tz=LA))
    times = []
    for _ in range(4):
        times.append(slot.session_time.strftime("%H:%M%z"))
        slot = s.next_slot(slot.session_time)
    assert times == ["01:00-0800", "03:00-0700", "04:00-0700", "05:00-0700"]


def test_daily_sessions_across_fall_back_are_one_per_day():
    s = parse_schedule({"daily>": "02:30:00"}, "America/Los_Angeles")
    slot = s.first(at(2016, 11, 5, 12, tz=LA))
    days = []
    for _ in range(3):
        days.append(slot.session_time.date())
        slot = s.next_slot(slot.session_time)
    assert days == [date(2016, 11, 6), date(2016, 11, 7), date(2016, 11, 8)]


def test_start_and_end_clamp_slots():
    s = parse_schedule({"daily>": "01:00:00", "start": "2026-02-01", "end": "2026-02-03"}, "UTC")
    assert s.first(at(2026, 1, 1)).session_time == at(2026, 2, 1)
    assert s.next_slot(at(2026, 2, 3)) is None
    assert s.first(at(2026, 3, 1)) is None


def test_options_are_read():
    s = parse_schedule({"daily>": "07:00:00", "skip_on_overtime": True, "skip_delayed_by": "1h30m"}, "UTC")
    assert s.skip_on_overtime is True and s.skip_delayed_by == 5400


@pytest.mark.parametrize(("config", "message"), [
    ({"daily>": "25:00:00"}, "daily>: expected HH:MM:SS, got '25:00:00'"),
    ({"hourly>": "5"}, "hourly>: expected MM:SS"),
    ({"weekly>": "Funday,01:00:00"}, "weekly>: unknown day 'Funday'"),
    ({"monthly>": "32,01:00:00"}, "monthly>: day of month must be 1..31"),
    ({"cron>": "* * *"}, "cron>: invalid cron expression"),
    ({"daily>": "01:00:00", "hourly>": "00:00"}, "schedule needs exactly one of"),
    ({"yearly>": "x"}, "unknown schedule type 'yearly>'"),
    ({"daily>": "01:00:00", "when": 1}, "schedule has an unknown key 'when'"),
    ({"daily>": "01:00:00", "start": "2026-02-10", "end": "2026-02-01"}, "is after its end"),
    ({"daily>": "01:00:00", "start": "tomorrow"}, "schedule start must be a date"),
])
def test_bad_schedules_are_located_errors(config, message):
    loc = Location("wf.dig", 3, 3)
    with pytest.raises(ConfigError) as e:
        parse_schedule(config, "UTC", loc)
    assert str(e.value).startswith("wf.dig:3:3: ") and message in str(e.value)


def test_unknown_timezone():
    with pytest.raises(ConfigError, match="unknown timezone 'Mars/Base'"):
        parse_schedule({"daily>": "01:00:00"}, "Mars/Base")


def test_durations():
    assert [parse_duration(x) for x in ("10s", "1m", "1h30m", "1d", "90", 5)] == [10, 60, 5400, 86400, 90, 5]
    assert [parse_duration(x) for x in ("10S", "1H30M", "2D")] == [10, 5400, 172800]  # as Digdag: any case
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration("soon")


def test_sessions_at_or_before_and_after_a_time():
    """What truncated_session_time's schedule / next_schedule modes answer."""
    tokyo = ZoneInfo("Asia/Tokyo")
    daily = parse_schedule({"daily>": "07:00:00"}, "Asia/Tokyo")
    at = datetime(2026, 2, 1, 10, 0, tzinfo=tokyo)
    assert daily.slot_at_or_before(at).session_time == datetime(2026, 2, 1, tzinfo=tokyo)
    assert daily.next_slot(at).session_time == datetime(2026, 2, 2, tzinfo=tokyo)
    midnight = datetime(2026, 2, 1, tzinfo=tokyo)
    assert daily.slot_at_or_before(midnight).session_time == midnight
    assert daily.next_slot(midnight).session_time == datetime(2026, 2, 2, tzinfo=tokyo)
    hourly = parse_schedule({"hourly>": "30:00"}, "Asia/Tokyo")
    assert hourly.slot_at_or_before(datetime(2026, 2, 1, 10, 59, tzinfo=tokyo)).session_time == \
        datetime(2026, 2, 1, 10, tzinfo=tokyo)
