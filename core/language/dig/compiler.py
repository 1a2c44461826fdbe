"""The `.dig` front end's compiler: a workflow file's top level (name, time zone, schedule), its
body compiled by the engine's task tree compiler (digpy.core.workflow.tree).

Every check Digdag makes when it loads a workflow is made here or in the tree compiler, with
the location.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.schedule import check_timezone
from digpy.core.workflow.located import key_location, location_of, to_plain, value_location, without_keys
from digpy.core.workflow.spec import Workflow
from digpy.core.workflow.tree import MAX_NAME_LENGTH, compile_tree, did_you_mean

TOP_LEVEL_KEYS = ("timezone", "schedule", "sla", "_export", "_error", "_check", "_retry", "_parallel")
_WORKFLOW_NAME_BAD = re.compile(r'[+^@/\\:*?"<>|]')


def check_workflow_name(name: str, location: Location | None = None) -> None:
    """Workflow names come from file names: no leading digit, none of `+ ^ @ / \\ : * ? " < > |`."""
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"workflow name '{name[:40]}...' is longer than {MAX_NAME_LENGTH} characters",
                          location=location)
    if not name or name[0].isdigit() or _WORKFLOW_NAME_BAD.search(name) or name.strip() != name:
        raise ConfigError(
            f"invalid workflow name '{name}'",
            location=location,
            hint='a workflow name must not start with a digit or contain + ^ @ / \\ : * ? " < > |',
        )


def compile_workflow(
    name: str, config: Mapping[str, Any], *, operators: Collection[str] | None = None
) -> Workflow:
    """Compile a whole workflow file; `operators` (if given) are the known operator names."""
    root_loc = location_of(config)
    check_workflow_name(name, root_loc)
    for key in config:
        if not key.startswith("+") and key not in TOP_LEVEL_KEYS and not key.startswith("!"):
            raise ConfigError(
                f"unknown top-level key '{key}' in workflow '{name}'",
                location=key_location(config, key),
                hint=did_you_mean(key, TOP_LEVEL_KEYS) or "top-level keys are tasks (+name) and "
                + ", ".join(TOP_LEVEL_KEYS),
            )
    timezone = config.get("timezone", "UTC")
    if not isinstance(timezone, str) or not timezone:
        raise ConfigError("timezone must be a time zone name such as UTC or Asia/Tokyo",
                          location=value_location(config, "timezone"))
    check_timezone(timezone, value_location(config, "timezone"))
    schedule = config.get("schedule")
    if schedule is not None and not isinstance(schedule, dict):
        raise ConfigError("schedule must be a mapping such as {daily>: 07:00:00}",
                          location=value_location(config, "schedule"))
    body = without_keys(dict(config) if not isinstance(config, dict) else config, ("timezone", "schedule", "sla"))
    return Workflow(
        name=name,
        timezone=timezone,
        tasks=compile_tree(f"+{name}", f"+{name}", body, operators=operators, group=True),
        config=to_plain(config),
        schedule=to_plain(schedule) if schedule is not None else None,
        schedule_location=value_location(config, "schedule") if schedule is not None else None,
        location=root_loc,
    )


__all__ = ["TOP_LEVEL_KEYS", "check_workflow_name", "compile_workflow"]
