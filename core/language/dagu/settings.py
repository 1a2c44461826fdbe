"""DAG settings that become settings of the engine: `histRetentionDays` / `histRetentionRuns` →
`retention: {age, sessions}`, `skipIfSuccessful` → the schedule's `skip_if_successful`, and
`maxCleanUpTimeSec` → `_stop_grace` on the tasks that run the DAG's commands."""

from __future__ import annotations

from digpy.core.errors import ConfigError
from digpy.core.language.dagu.common import located_map, set_located, whole_number
from digpy.core.workflow.located import ConfigMap, value_location

DAGU_DEFAULT_DAYS = 30  # Dagu 1.30: histRetentionDays 0 (or none) is its default, 30 days


def map_history(dag: ConfigMap, out: ConfigMap) -> None:
    """`histRetentionDays: N` → `retention: {age: Nd}`, `histRetentionRuns: N` → `retention: {sessions: N}`."""
    days, runs = dag.get("histRetentionDays"), dag.get("histRetentionRuns")
    if days is None and runs is None:
        return
    values: dict[str, object] = {}
    key = "histRetentionDays" if days is not None else "histRetentionRuns"
    if days is not None:
        days = whole_number(days, "histRetentionDays", value_location(dag, "histRetentionDays"), minimum=0)
        values["age"] = f"{days or DAGU_DEFAULT_DAYS}d"
    if runs is not None:
        values["sessions"] = whole_number(runs, "histRetentionRuns", value_location(dag, "histRetentionRuns"), minimum=1)
    set_located(out, "retention", located_map(values, value_location(dag, key)), dag, key)


def map_skip_if_successful(dag: ConfigMap, out: ConfigMap) -> None:
    """`skipIfSuccessful: true` → the schedule's `skip_if_successful: true` (no schedule: nothing to skip)."""
    skip = dag.get("skipIfSuccessful")
    if skip is None:
        return
    where = value_location(dag, "skipIfSuccessful")
    if not isinstance(skip, bool):
        raise ConfigError("skipIfSuccessful must be true or false", location=where)
    schedule = out.get("schedule")
    if skip and isinstance(schedule, ConfigMap):
        schedule["skip_if_successful"] = True
        if where is not None:
            schedule.key_locs["skip_if_successful"] = schedule.value_locs["skip_if_successful"] = where


def map_cleanup_time(dag: ConfigMap, out: ConfigMap) -> None:
    """`maxCleanUpTimeSec: N` → `_stop_grace: N` on each command task of this DAG: its steps and
    handlers (a child DAG has its own)."""
    seconds = dag.get("maxCleanUpTimeSec")
    if seconds is None:
        return
    seconds = whole_number(seconds, "maxCleanUpTimeSec", value_location(dag, "maxCleanUpTimeSec"), minimum=1)
    groups = [out, *(out[k] for k in ("_error", "_cancel") if isinstance(out.get(k), dict))]
    for group in groups:
        for key, task in group.items():
            if key.startswith("+") and isinstance(task, dict) and "sh>" in task and "_stop_grace" not in task:
                task["_stop_grace"] = seconds
