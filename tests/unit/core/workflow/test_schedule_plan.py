"""What a scheduler does with a due slot (plan_tick): catch-up after downtime, skip_delayed_by, and
slots around real daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digpy.core.errors import ConfigError
from digpy.core.workflow.schedule import parse_schedule, plan_tick

UTC = ZoneInfo("UTC")


def at(text: str, zone: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_after_three_days_down_latest_starts_only_the_newest_slot_and_says_which_it_passed_over():
    daily = parse_schedule({"daily>": "07:00:00"}, "UTC")
    due = daily.first(at("2026-03-01T00:00:00"))  # session 03-01, runs 03-01 07:00
    plan = plan_tick(daily, due, at("2026-03-04T09:00:00"))
    assert plan.start.session_time == at("2026-03-04T00:00:00")
    assert [s.session_time for s in plan.skipped] == [at("2026-03-01T00:00:00"), at("2026-03-03T00:00:00")]
    assert plan.next.session_time == at("2026-03-05T00:00:00")


def test_catch_up_all_starts_the_oldest_and_stays_due_for_the_rest():
    daily = parse_schedule({"daily>": "07:00:00", "catch_up": "all"}, "UTC")
    due = daily.first(at("2026-03-01T00:00:00"))
    plan = plan_tick(daily, due, at("2026-03-04T09:00:00"))
    assert plan.start == due and plan.skipped is None
    assert plan.next.session_time == at("2026-03-02T00:00:00") and plan.next.run_time < at("2026-03-04T09:00:00")


def test_catch_up_none_starts_nothing_missed_but_still_a_slot_reached_a_little_late():
    daily = parse_schedule({"daily>": "07:00:00", "catch_up": "none"}, "UTC")
    due = daily.first(at("2026-03-01T00:00:00"))
    late = plan_tick(daily, due, at("2026-03-04T09:00:00"))
    assert late.start is None and late.skipped[1].session_time == at("2026-03-04T00:00:00")
    assert late.next.session_time == at("2026-03-05T00:00:00")
    on_time = plan_tick(daily, due, due.run_time + timedelta(seconds=20))
    assert on_time.start == due


def test_skip_delayed_by_bounds_every_policy():
    hourly = parse_schedule({"hourly>": "00:00", "skip_delayed_by": "90m", "catch_up": "all"}, "UTC")
    due = hourly.first(at("2026-03-01T00:00:00"))
    plan = plan_tick(hourly, due, at("2026-03-01T05:30:00"))
    assert plan.start.session_time == at("2026-03-01T04:00:00"), "the first slot still within 90 minutes"
    assert [s.session_time for s in plan.skipped] == [at("2026-03-01T00:00:00"), at("2026-03-01T03:00:00")]
    latest = parse_schedule({"hourly>": "00:00", "skip_delayed_by": "10m"}, "UTC")
    assert plan_tick(latest, due, at("2026-03-01T05:30:00")).start is None, "the newest is 30 minutes late"


def test_a_spring_forward_slot_runs_at_its_elapsed_time_and_no_slot_is_doubled():
    """America/New_York skips 02:00-03:00 on 2026-03-08: daily>: 02:30:00 of that day runs 2.5 hours
    after midnight (03:30 EDT); the next day's runs at 02:30 EDT."""
    daily = parse_schedule({"daily>": "02:30:00"}, "America/New_York")
    slot = daily.first(at("2026-03-08T00:00:00", "America/New_York"))
    assert slot.session_time == at("2026-03-08T00:00:00", "America/New_York")
    assert slot.run_time.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    following = daily.next_slot(slot.session_time)
    assert following.run_time.astimezone(UTC) == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)


def test_minutes_interval_across_a_fall_back_starts_each_wall_clock_slot_once():
    """2026-11-01 in New York: 01:00-02:00 happens twice; every 30 minutes gives one session per wall
    clock time (its first occurrence), and the hour after goes on at 02:00 EST."""
    schedule = parse_schedule({"minutes_interval>": 30}, "America/New_York")
    slot = schedule.first(at("2026-11-01T00:30:00", "America/New_York"))
    seen = []
    for _ in range(5):
        seen.append(slot.session_time.astimezone(UTC))
        slot = schedule.next_slot(slot.session_time)
    assert seen == sorted(set(seen)), "strictly increasing instants"
    assert [t.strftime("%H:%M") for t in seen] == ["04:30", "05:00", "05:30", "07:00", "07:30"]


def test_a_scheduler_reaching_slots_across_a_dst_change_catches_up_by_its_policy():
    schedule = parse_schedule({"hourly>": "10:00"}, "Europe/Berlin")  # 2026-03-29 02:00 CET -> 03:00 CEST
    due = schedule.first(at("2026-03-29T00:00:00", "Europe/Berlin"))
    plan = plan_tick(schedule, due, datetime(2026, 3, 29, 4, 0, tzinfo=UTC))  # 06:00 CEST
    assert plan.start.session_time.astimezone(UTC) == datetime(2026, 3, 29, 3, 0, tzinfo=UTC)  # 05:00 CEST
    assert plan.next.session_time.astimezone(UTC) == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(("config", "message"), [
    ({"daily>": "07:00:00", "catch_up": "some"}, "catch_up must be one of latest, all, none"),
    ({"daily>": "07:00:00", "overlap": "queue"}, "overlap must be one of run, skip, wait"),
    ({"daily>": "07:00:00", "skip_on_overtime": True, "overlap": "wait"}, "skip_on_overtime: true is overlap: skip"),
])
def test_bad_policies_are_config_errors(config, message):
    with pytest.raises(ConfigError, match=message):
        parse_schedule(config, "UTC")
