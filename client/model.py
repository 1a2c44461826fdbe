"""The REST API's resources, written once: the server sends them, the client reads them, and the
OpenAPI document (digpy.server.api.openapi) describes them from these classes.

A resource is a frozen dataclass deriving from `Resource`; each field names its key in Digdag's JSON
once, with `json_field("sessionTime")` (dotted for a key of a nested object: `"project.id"`), and
the fields stand in the order the keys are sent. `to_json()` is what digpy's server sends: every key,
always. `from_json()` reads any server's answer, digpy's or Digdag's: a field with a default may be
missing (or null) there. Digdag servers do not send digpy's additions, such as an attempt's
`status`: the model derives it from `done`, `success`, `cancelRequested` and digpy's `queued`, in
`attempt_status`, the one place that says what an attempt's status is.

Standard library only: the client library stands alone.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple, Self, TypeVar, dataclass_transform

from digpy.client.errors import ClientError

Status = Literal["queued", "running", "killing", "success", "error", "killed"]


def task_status(state: str, store_params: dict[str, Any], error: dict[str, Any]) -> str:
    """A task's state in Dagu's word where it differs (digpy's `status` of a task): "skipped" for a
    task that succeeded without running (an unmet `_precondition`), "failed" for one that failed
    under `_continue_on` (a success whose `error` says `continued: true`), else the state."""
    if state == "success" and store_params.get("_skipped") in (True, "passed"):
        return "skipped"
    return "failed" if state == "success" and error.get("continued") is True else state


def attempt_status(done: bool, success: bool, cancel_requested: bool, queued: bool = False) -> Status:
    """An attempt's one-word status (digpy's addition to Digdag's fields). A kill stays requested on
    an attempt that ended anyway, as in Digdag: `done` and `success` say how it ended. `queued`
    (digpy's): it waits in its queue, and no node runs it yet."""
    if done:
        if success:
            return "success"
        return "killed" if cancel_requested else "error"
    if cancel_requested:
        return "killing"
    return "queued" if queued else "running"


def json_field(key: str, *, default: Any = dataclasses.MISSING, default_factory: Callable[[], Any] | None = None,
               init: bool = True, digpy: bool = False) -> Any:
    """A field of a resource, sent as `key` (dotted: a key of a nested object). With a `default` (or
    a `default_factory`), a server may leave it out or send null. `init=False`: derived from the other
    fields (by the resource's __post_init__), sent but never read. `digpy`: Digdag does not send it."""
    metadata = {"json": key, "digpy": digpy}
    if not init:
        return dataclasses.field(init=False, metadata=metadata)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


T = TypeVar("T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(json_field,))
def resource(cls: type[T]) -> type[T]:
    """Make a Resource subclass a frozen dataclass (keyword arguments only)."""
    return dataclass(frozen=True, kw_only=True)(cls)


class JsonField(NamedTuple):
    """A resource's field as the JSON has it: `path` is the key (more than one for a nested key)."""

    name: str
    path: tuple[str, ...]
    hint: Any  # the field's type
    required: bool  # every server sends it (from_json has no default for it)
    derived: bool
    digpy: bool  # digpy's addition: Digdag does not send it


class Resource:
    """A resource of the REST API (subclasses are frozen dataclasses whose fields are json_field())."""

    collection: ClassVar[str] = ""  # the key of a list of these in an answer: {"projects": [...]}

    @classmethod
    def json_fields(cls) -> tuple[JsonField, ...]:
        found = _FIELDS.get(cls)
        if found is None:
            found = _FIELDS[cls] = _json_fields(cls)
        return found

    def to_json(self) -> dict[str, Any]:
        """The resource as digpy's server sends it."""
        out: dict[str, Any] = {}
        plan = _PLANS.get(type(self))
        if plan is None:
            plan = _PLANS[type(self)] = tuple((f.name, f.path, _resource_of(f.hint) is not None)
                                              for f in self.json_fields())
        for name, path, nested in plan:  # (a server sends thousands of tasks at once: kept lean)
            value = getattr(self, name)
            if nested:
                value = _to_json(value)
            if len(path) == 1:
                out[path[0]] = value
            else:
                target = out
                for part in path[:-1]:
                    target = target.setdefault(part, {})
                target[path[-1]] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The resource from a server's answer (digpy's or Digdag's)."""
        values: dict[str, Any] = {}
        for f in cls.json_fields():
            if f.derived:
                continue
            value: Any = data
            for part in f.path:
                value = value.get(part) if isinstance(value, Mapping) else None
            if value is None and not f.required:
                continue  # the default
            if value is None and not _nullable(f.hint):
                raise ClientError(0, f"the server's {cls.__name__} has no '{'.'.join(f.path)}'")
            item = _resource_of(f.hint)
            if item is not None and value is not None:
                value = [item.from_json(v) for v in value] if isinstance(value, list) else item.from_json(value)
            values[f.name] = value
        return cls(**values)

    @classmethod
    def listing(cls, items: list[dict[str, Any]]) -> dict[str, Any]:
        """A list answer: {"<collection>": items} (items already as JSON)."""
        return {cls.collection: items}

    @classmethod
    def list_from_json(cls, data: Mapping[str, Any]) -> list[Self]:
        return [cls.from_json(item) for item in data.get(cls.collection) or []]


class _Outcome:
    """An attempt's `status`, derived from its flags (for Attempt and SessionAttempt)."""

    done: bool
    success: bool
    cancel_requested: bool
    queued: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", attempt_status(self.done, self.success, self.cancel_requested,
                                                          self.queued))


_FIELDS: dict[type[Resource], tuple[JsonField, ...]] = {}
_PLANS: dict[type[Resource], tuple[tuple[str, tuple[str, ...], bool], ...]] = {}  # to_json's: name, path, nested


def _json_fields(cls: type[Resource]) -> tuple[JsonField, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        JsonField(f.name, tuple(f.metadata["json"].split(".")), hints[f.name],
                  f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
                  not f.init, f.metadata["digpy"])
        for f in dataclasses.fields(cls))  # type: ignore[arg-type]


def _to_json(value: Any) -> Any:
    if isinstance(value, Resource):
        return value.to_json()
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _nullable(hint: Any) -> bool:
    return hint is Any or (isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint))


def _resource_of(hint: Any) -> type[Resource] | None:
    """The resource class in a field's type (X, X | None, list[X]), if any."""
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, Resource):
            return candidate
    return None


# ----------------------------------------------------------------------------- the resources

@resource
class Version(Resource):
    version: str = json_field("version")


@resource
class VersionCheck(Resource):
    server_version: str = json_field("serverVersion")
    upgrade_recommended: bool = json_field("upgradeRecommended", default=False)
    api_compatible: bool = json_field("apiCompatible", default=True)


@resource
class SessionInfo(Resource):
    """Who the caller is (digpy's): whether the server asks for a token, and the token's name and roles."""

    auth_required: bool = json_field("authRequired", digpy=True)
    name: str | None = json_field("name", default=None, digpy=True)  # the token's name; null: not logged in
    server_admin: bool = json_field("serverAdmin", default=False, digpy=True)
    grants: dict[str, str] = json_field("grants", default_factory=dict, digpy=True)  # project or * -> role


@resource
class Error(Resource):
    """Every error answer (4xx, 5xx)."""

    message: str = json_field("message")
    status: int = json_field("status")


@resource
class Project(Resource):
    collection = "projects"
    id: str = json_field("id")
    name: str = json_field("name")  # a deleted project keeps its name, as in Digdag
    revision: str | None = json_field("revision", default=None)  # the latest
    created_at: str | None = json_field("createdAt", default=None)
    updated_at: str | None = json_field("updatedAt", default=None)
    deleted_at: str | None = json_field("deletedAt", default=None)
    archive_type: str = json_field("archiveType", default="db")
    archive_md5: str | None = json_field("archiveMd5", default=None)  # the MD5's bytes in base64, as Digdag


@resource
class Revision(Resource):
    collection = "revisions"
    revision: str = json_field("revision")
    created_at: str | None = json_field("createdAt", default=None)
    archive_type: str = json_field("archiveType", default="db")
    archive_md5: str | None = json_field("archiveMd5", default=None)
    user_info: dict[str, Any] = json_field("userInfo", default_factory=dict)


@resource
class Workflow(Resource):
    collection = "workflows"
    id: str = json_field("id")
    name: str = json_field("name")
    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name")
    revision: str = json_field("revision")
    timezone: str = json_field("timezone")
    config: dict[str, Any] = json_field("config", default_factory=dict)


@resource
class TruncatedSessionTime(Resource):
    """A session time truncated in a workflow's zone (GET /api/workflows/{id}/truncated_session_time)."""

    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name")
    revision: str = json_field("revision")
    session_time: str = json_field("sessionTime")
    timezone: str = json_field("timezone")


@resource
class Attempt(_Outcome, Resource):
    collection = "attempts"
    id: str = json_field("id")
    index: int = json_field("index")
    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name", default="")
    workflow_name: str = json_field("workflow.name")
    workflow_id: str | None = json_field("workflow.id", default=None)
    session_id: str = json_field("sessionId")
    session_uuid: str = json_field("sessionUuid")
    session_time: str = json_field("sessionTime")  # in the workflow's zone: 2026-01-31T00:00:00+09:00
    retry_attempt_name: str | None = json_field("retryAttemptName", default=None)
    done: bool = json_field("done", default=False)
    success: bool = json_field("success", default=False)
    cancel_requested: bool = json_field("cancelRequested", default=False)
    params: dict[str, Any] = json_field("params", default_factory=dict)
    created_at: str | None = json_field("createdAt", default=None)
    finished_at: str | None = json_field("finishedAt", default=None)
    queued: bool = json_field("queued", default=False, digpy=True)  # waits in its queue: no node runs it yet
    queue: str | None = json_field("queue", default=None, digpy=True)  # the workflow's queue, if any
    # succeeded although a task failed under _continue_on (Dagu's "partially succeeded")
    partially_succeeded: bool = json_field("partiallySucceeded", default=False, digpy=True)
    status: Status = json_field("status", init=False, digpy=True)

    def summary(self) -> SessionAttempt:
        """The attempt as its session shows it (`lastAttempt`)."""
        return SessionAttempt(**{f.name: getattr(self, f.name) for f in SessionAttempt.json_fields() if not f.derived})


@resource
class SessionAttempt(_Outcome, Resource):
    """A session's last attempt, as the session carries it."""

    id: str = json_field("id")
    retry_attempt_name: str | None = json_field("retryAttemptName", default=None)
    done: bool = json_field("done", default=False)
    success: bool = json_field("success", default=False)
    cancel_requested: bool = json_field("cancelRequested", default=False)
    params: dict[str, Any] = json_field("params", default_factory=dict)
    created_at: str | None = json_field("createdAt", default=None)
    finished_at: str | None = json_field("finishedAt", default=None)
    queued: bool = json_field("queued", default=False, digpy=True)
    partially_succeeded: bool = json_field("partiallySucceeded", default=False, digpy=True)
    status: Status = json_field("status", init=False, digpy=True)


@resource
class Session(Resource):
    collection = "sessions"
    id: str = json_field("id")
    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name", default="")  # a deleted project's too
    workflow_name: str = json_field("workflow.name")
    workflow_id: str | None = json_field("workflow.id", default=None)
    session_uuid: str = json_field("sessionUuid")
    session_time: str = json_field("sessionTime")
    last_attempt: SessionAttempt | None = json_field("lastAttempt", default=None)


@resource
class Task(Resource):
    """A task of an attempt, as Digdag's RestTask: `config` is the task's own keys with its `_export`,
    `exportParams` that `_export` with what the task exported at run time merged onto it."""

    collection = "tasks"
    id: str = json_field("id")
    full_name: str = json_field("fullName")
    parent_id: str | None = json_field("parentId", default=None)
    config: dict[str, Any] = json_field("config", default_factory=dict)
    upstreams: list[str] = json_field("upstreams", default_factory=list)
    is_group: bool = json_field("isGroup", default=False)
    state: str = json_field("state")  # Digdag's task state names: planned, running, success, error, ...
    cancel_requested: bool = json_field("cancelRequested", default=False)
    export_params: dict[str, Any] = json_field("exportParams", default_factory=dict)
    store_params: dict[str, Any] = json_field("storeParams", default_factory=dict)
    state_params: dict[str, Any] = json_field("stateParams", default_factory=dict)
    updated_at: str | None = json_field("updatedAt", default=None)
    retry_at: str | None = json_field("retryAt", default=None)
    started_at: str | None = json_field("startedAt", default=None)
    error: dict[str, Any] = json_field("error", default_factory=dict)
    retry_count: int = json_field("retryCount", default=0, digpy=True)  # the task's retries so far
    # digpy's: the state in the word Dagu uses where it differs: "skipped" for a task that succeeded
    # without running (an unmet precondition, `_precondition`), "failed" for one that failed under
    # `_continue_on`; otherwise the state itself
    status: str = json_field("status", init=False, digpy=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", task_status(self.state, self.store_params, self.error or {}))


@resource
class WorkflowTask(Resource):
    """A task of a workflow definition, as compiled (digpy's addition: what the web UI draws before
    anything runs). Tasks come root first, each group before its children; an `_error` or `_check`
    subtree is a child of its task named `^error` or `^check`. `line`: where the task is written in
    `file`, when the revision's files say so."""

    collection = "tasks"
    id: str = json_field("id")
    full_name: str = json_field("fullName")
    parent_id: str | None = json_field("parentId", default=None)
    upstreams: list[str] = json_field("upstreams", default_factory=list)
    is_group: bool = json_field("isGroup", default=False)
    config: dict[str, Any] = json_field("config", default_factory=dict)
    file: str | None = json_field("file", default=None)
    line: int | None = json_field("line", default=None)


@resource
class LogFile(Resource):
    """A task's log file of an attempt."""

    collection = "files"
    file_name: str = json_field("fileName")
    file_size: int = json_field("fileSize", default=0)
    task_name: str = json_field("taskName", default="")
    file_time: str | None = json_field("fileTime", default=None)
    agent_id: str | None = json_field("agentId", default=None)
    direct: str | None = json_field("direct", default=None)  # Digdag's direct download URL; digpy: none


@resource
class SecretKey(Resource):
    """A project secret as the API lists it: its key, never its value."""

    collection = "secrets"
    key: str = json_field("key")


@resource
class ProjectSecret(Resource):
    """The answer to setting or deleting a project secret."""

    key: str = json_field("key")
    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name")


@resource
class Schedule(Resource):
    """A workflow's schedule: when its next slot runs (`nextRunTime`, an instant) and that slot's
    session time (`nextScheduleTime`, in the workflow's zone); what it follows (`schedule`, the
    workflow's `schedule:`) and the session it started last. A summary (the answer to skip,
    enable and disable) adds when it was created and updated."""

    collection = "schedules"
    id: str = json_field("id")
    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name")
    workflow_id: str = json_field("workflow.id")
    workflow_name: str = json_field("workflow.name")
    next_run_time: str = json_field("nextRunTime")
    next_schedule_time: str = json_field("nextScheduleTime")
    disabled_at: str | None = json_field("disabledAt", default=None)
    last_session_time: str | None = json_field("lastSessionTime", default=None, digpy=True)
    # digpy's additions for the web UI: the `schedule:` it follows, in which zone, and the session it
    # started last (a link) with that session's last attempt (its status)
    timezone: str = json_field("timezone", default="UTC", digpy=True)
    schedule: dict[str, Any] = json_field("schedule", default_factory=dict, digpy=True)
    last_session_id: str | None = json_field("lastSessionId", default=None, digpy=True)
    last_attempt: SessionAttempt | None = json_field("lastAttempt", default=None, digpy=True)


@resource
class ScheduleSummary(Resource):
    """A schedule as skip, enable and disable answer it (Digdag's summary form)."""

    id: str = json_field("id")
    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name")
    workflow_id: str = json_field("workflow.id")
    workflow_name: str = json_field("workflow.name")
    next_run_time: str = json_field("nextRunTime")
    next_schedule_time: str = json_field("nextScheduleTime")
    created_at: str | None = json_field("createdAt", default=None)
    updated_at: str | None = json_field("updatedAt", default=None)
    disabled_at: str | None = json_field("disabledAt", default=None)


@resource
class Backfill(Resource):
    """The attempts a backfill started, in session order (none in a dry run), and the session times of
    its slots (digpy's addition: what a dry run would start)."""

    id: str = json_field("id")
    project_id: str = json_field("project.id")
    project_name: str = json_field("project.name")
    workflow_id: str = json_field("workflow.id")
    workflow_name: str = json_field("workflow.name")
    attempts: list[Attempt] = json_field("attempts", default_factory=list)
    session_times: list[str] = json_field("sessionTimes", default_factory=list, digpy=True)
