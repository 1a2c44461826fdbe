"""Session built-in variables and the --session option."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.builtins import (
    format_session_time,
    parse_session_option,
    session_variables,
)
from digpy.core.workflow.schedule import parse_schedule

LA = "America/Los_Angeles"


def test_the_spec_example():
    session = datetime(2016, 1, 30, tzinfo=ZoneInfo(LA))
    v = session_variables(session, LA, schedule=parse_schedule({"daily>": "07:00:00"}, LA))
    assert v["timezone"] == LA
    assert v["session_time"] == "2016-01-30T00:00:00-08:00"
    assert v["session_date"] == "2016-01-30"
    assert v["session_date_compact"] == "20160130"
    assert v["session_local_time"] == "2016-01-30 00:00:00"
    assert v["session_tz_offset"] == "-0800"
    assert v["session_unixtime"] == 1454140800
    assert v["last_session_time"] == "2016-01-29T00:00:00-08:00"
    assert v["next_session_date"] == "2016-01-31"
    assert v["last_executed_session_time"] == ""
    # No earlier session: every last_executed_session_* is empty but the offset, the zone's at the epoch.
    assert v["last_executed_session_tz_offset"] == "-0800"
    assert [k for k, x in v.items() if k.startswith("last_executed_session_") and x != ""] == [
        "last_executed_session_tz_offset"]
    tokyo = session_variables(datetime(2016, 7, 1, tzinfo=ZoneInfo("Asia/Tokyo")), "Asia/Tokyo", schedule=None)
    assert tokyo["last_executed_session_tz_offset"] == "+0900"


def test_hourly_schedule_gives_neighbouring_hours_and_utc_is_plus_zero():
    session = datetime(2016, 1, 30, 5, tzinfo=ZoneInfo("UTC"))
    v = session_variables(session, "UTC", schedule=parse_schedule({"hourly>": "00:00"}, "UTC"))
    assert v["session_time"] == "2016-01-30T05:00:00+00:00"
    assert v["last_session_time"] == "2016-01-30T04:00:00+00:00"
    assert v["next_session_time"] == "2016-01-30T06:00:00+00:00"


def test_without_a_schedule_last_and_next_are_absent():
    v = session_variables(datetime(2016, 1, 30, tzinfo=ZoneInfo("UTC")), "UTC")
    assert "last_session_time" not in v and "next_session_time" not in v


def test_last_executed_session():
    tz = ZoneInfo("Asia/Tokyo")
    v = session_variables(datetime(2016, 1, 30, tzinfo=tz), "Asia/Tokyo",
                          last_executed_session_time=datetime(2016, 1, 29, tzinfo=tz))
    assert v["last_executed_session_date"] == "2016-01-29"
    assert v["last_executed_session_tz_offset"] == "+0900"


NOW = datetime(2026, 3, 10, 15, 45, 12, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(("value", "expected"), [
    ("daily", "2026-03-10T00:00:00+00:00"),
    ("hourly", "2026-03-10T15:00:00+00:00"),
    ("2026-01-31", "2026-01-31T00:00:00+00:00"),
    ("2026-01-31 12:30:00", "2026-01-31T12:30:00+00:00"),
    ("2026-01-31T12:30:00+09:00", "2026-01-31T03:30:00+00:00"),
    ("last", "2026-03-10T00:00:00+00:00"),
])
def test_session_option(value, expected):
    t, _note = parse_session_option(value, "UTC", now=NOW, schedule=None, last_session_time=None)
    assert format_session_time(t) == expected


def test_session_option_reuses_the_last_session_and_follows_a_schedule():
    last = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
    t, note = parse_session_option("last", "UTC", now=NOW, schedule=None, last_session_time=last)
    assert t == last and note.startswith("Reusing the last session time")
    schedule = parse_schedule({"daily>": "16:00:00"}, "UTC")
    t, _ = parse_session_option("schedule", "UTC", now=NOW, schedule=schedule, last_session_time=None)
    assert format_session_time(t) == "2026-03-09T00:00:00+00:00", "today's 16:00 run has not come yet"


def test_bad_session_options():
    with pytest.raises(ConfigError, match="invalid --session value 'yesterday'"):
        parse_session_option("yesterday", "UTC", now=NOW, schedule=None, last_session_time=None)
    with pytest.raises(ConfigError, match="needs a workflow with a schedule"):
        parse_session_option("schedule", "UTC", now=NOW, schedule=None, last_session_time=None)
