"""The keys of a Dagu DAG file: which ones digpy reads, and which it knows but does not support yet.

Dagu v1 writes keys in camelCase (`handlerOn`), v2 in snake_case (`handler_on`); both are read and
turned into the v1 name here. A key that is neither known nor "not yet" is a located error with a
"did you mean"; a "not yet" key is a located error saying so (never silently ignored).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.workflow.located import ConfigMap, key_location
from digpy.core.workflow.tree import did_you_mean

DAG_KEYS = (
    "name", "description", "group", "tags", "type", "schedule", "params", "env", "steps", "handlerOn",
    "preconditions", "maxActiveSteps", "maxActiveRuns", "queue", "timeoutSec", "workingDir", "dotenv",
    "mailOn", "errorMail", "infoMail", "smtp", "maxOutputSize", "shell", "secrets", "delaySec",
    "histRetentionDays", "histRetentionRuns", "skipIfSuccessful", "maxCleanUpTimeSec", "container",
    "logDir",
)
DAG_NOT_YET = (
    "logOutput", "restartWaitSec",
    "ssh", "registryAuths", "workerSelector", "otel", "runConfig", "defaults",
    "stepTypes", "artifacts", "webhook", "catchupWindow", "overlapPolicy", "k8s", "s3", "redis",
    "llm", "harness", "retryPolicy",
)
STEP_KEYS = (
    "name", "description", "command", "script", "shell", "workingDir", "env", "output", "depends",
    "preconditions", "continueOn", "retryPolicy", "run", "params", "parallel", "timeoutSec", "id",
    "executor", "type", "config", "with", "stdout", "stderr", "repeatPolicy", "mailOnError",
    "signalOnStop", "container",
)
STEP_NOT_YET = (
    "workerSelector", "approval", "router", "exec", "llm", "messages", "logOutput", "shellPackages",
)
# Other spellings of the same key (v1.17's `call:` for `run:`, a step's `dir` for `workingDir`, v2's
# `labels` for `tags`).
ALIASES = {"precondition": "preconditions", "dir": "workingDir", "call": "run", "labels": "tags"}


def camel(key: str) -> str:
    """`handler_on` → `handlerOn` (a camelCase key stays as it is)."""
    if "_" not in key:
        return key
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def normalized(value: Any, what: str, known: tuple[str, ...], not_yet: tuple[str, ...],
               location: Location | None = None) -> ConfigMap:
    """`value` (a mapping from the file, written at `location`) with v1 key names, checked against
    `known` and `not_yet`."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a mapping of keys to values",
                          location=getattr(value, "loc", None) or location)
    out = ConfigMap(getattr(value, "loc", None))
    for key, item in value.items():
        name = ALIASES.get(camel(key), camel(key)) if isinstance(key, str) else str(key)
        loc = key_location(value, key)
        if name in not_yet:
            raise ConfigError(f"{what}: '{key}' is not supported yet by digpy",
                              location=loc, hint="remove it, or see docs/dagu.md for what is supported")
        if name not in known:
            hint = did_you_mean(key, sorted({*known, *(_snake(k) for k in known)}))
            raise ConfigError(f"{what}: unknown key '{key}'", location=loc,
                              hint=hint or "the keys are " + ", ".join(known))
        if name in out:
            raise ConfigError(f"{what}: '{key}' is given twice (as {name} and its other spelling)", location=loc)
        out[name] = item
        if isinstance(value, ConfigMap):
            out.key_locs[name] = value.key_locs[key]
            out.value_locs[name] = value.value_locs[key]
    return out


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
