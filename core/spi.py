"""The service provider interface: everything an operator plugin may import from digpy.

An operator is a small class with a ``name`` and an ``async def run(self, ctx) -> TaskResult``.
A plugin registers its operators from one hook::

    from digpy.core.spi import Operator, OperatorContext, TaskResult, hookimpl

    class HelloOperator:
        name = "hello"

        async def run(self, ctx: OperatorContext) -> TaskResult:
            ctx.output(f"hello {ctx.command}")
            return TaskResult()

    @hookimpl
    def digpy_register_operators():
        return [HelloOperator]

and declares the module under the entry-point group ``digpy`` in its pyproject.toml.

Option values are read with the readers exported here (``boolean``, ``byte_size``, ``number``, ``whole_number``,
``duration``, ``seconds``, ``parallel``, ``mapping``, ``json_or_value``, ``namespaced``): they take
a value as YAML or ``${...}`` gives it and raise ConfigError naming the option.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import pluggy

from digpy.core.errors import ConfigError, DigpyError, Location, PluginError, TaskError
from digpy.core.options import (
    boolean,
    byte_size,
    duration,
    json_or_value,
    mapping,
    namespaced,
    number,
    parallel,
    seconds,
    whole_number,
)

__all__ = [
    "AttemptStatus",
    "CalledWorkflow",
    "CommandExecutor",
    "ConfigError",
    "DigpyError",
    "FailedAttempt",
    "Location",
    "Operator",
    "OperatorContext",
    "OperatorRef",
    "PluginError",
    "SecretProvider",
    "Secrets",
    "Sessions",
    "SlaMiss",
    "TaskError",
    "TaskResult",
    "boolean",
    "byte_size",
    "duration",
    "hookimpl",
    "hookspec",
    "json_or_value",
    "mapping",
    "namespaced",
    "number",
    "parallel",
    "seconds",
    "whole_number",
]

PROJECT_NAME = "digpy"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What an operator returns when its run ends without an error.

    exports: params given to the task's generated children (``^sub``), like ``_export``.
    stores: params given to every task that runs after this one (Digdag's store params).
    reset_stores: keys removed from the stored params before ``stores`` is merged.
    subtasks: a workflow config (the mapping a ``.dig`` group holds, e.g. ``{"+a": {"echo>": "x"}}``)
        run as the generated child ``^sub`` before the task is done.
    poll_after: "call me again in this many seconds": the task is parked without holding a worker
        and ``run`` is called again later with ``ctx.state`` set to ``state``.
    state: state kept between the polls of one task (JSON-serialisable).
    """

    exports: Mapping[str, Any] = field(default_factory=dict)
    stores: Mapping[str, Any] = field(default_factory=dict)
    reset_stores: Sequence[str] = ()
    subtasks: Mapping[str, Any] | None = None
    poll_after: float | None = None
    state: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def poll(cls, seconds: float, state: Mapping[str, Any] | None = None) -> TaskResult:
        """Ask to be run again in ``seconds`` with ``state`` in ``ctx.state``."""
        return cls(poll_after=seconds, state=dict(state or {}))


class OperatorRef(NamedTuple):
    """An operator registered without importing its module (``digpy_register_operators`` may return
    these besides classes): the module is imported, and its ``digpy_register_operators`` asked for
    the class named ``name``, the first time a task uses the operator. ``adds_tasks`` and
    ``calls_workflow`` repeat the class's attributes (see Operator), so that loading a workflow
    needs no import."""

    name: str
    module: str
    adds_tasks: bool = False
    calls_workflow: bool = False


@dataclass(frozen=True, slots=True)
class CalledWorkflow:
    """A workflow file of the project loaded as a task config (what `call>` runs as `^sub`).

    name: the workflow name; path: the file relative to the project directory; config: the
    workflow's tasks and directives (time zone and schedule removed), with `_workdir` exported
    when the file lives in a subdirectory.
    """

    name: str
    path: str
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AttemptStatus:
    """Where an attempt of another workflow's session stands (for `require>`)."""

    attempt_id: int
    session_id: int
    done: bool
    success: bool
    poll_seconds: float = 1.0  # how soon asking again is worthwhile


class Sessions(Protocol):
    """Starting and watching sessions of other workflows of the project (local run or server)."""

    def require(
        self, workflow: str, *, session_time: str, params: Mapping[str, Any], rerun_on: str = "none",
        project_name: str | None = None, retry_attempt_name: str | None = None,
    ) -> AttemptStatus:
        """Start the session of `workflow` at `session_time` (an ISO-8601 time) unless one exists.

        rerun_on: "none" keeps an existing session's attempt, "failed" starts a new attempt if it
        failed, "all" always starts one. Raises ConfigError for an unknown workflow or project.
        """
        ...

    def status(self, attempt_id: int) -> AttemptStatus:
        """The current status of an attempt returned by `require`."""
        ...


@runtime_checkable
class Secrets(Protocol):
    """Read access to the secrets a task may see (after its ``_secrets`` remapping)."""

    def get(self, key: str) -> str | None:
        """Return the secret stored under ``key``, or None if there is none."""
        ...

    def require(self, key: str) -> str:
        """Return the secret stored under ``key``; raise ConfigError naming the key if there is none."""
        ...


class OperatorContext(Protocol):
    """Everything an operator sees of the task it runs. Built by the runner for each run of a task.

    params: the task's parameters after merging and ``${...}`` evaluation: session params,
        exports, stores, built-ins (``session_time``, ``task_name``, ...) and the task's own keys.
    command: the operator's main argument (the value of ``op>:``): a string (a YAML scalar such as
        ``true`` or ``12`` as its text, ``"true"``, ``"12"``, as in Digdag), a mapping, a list, or None.
    state: what the previous poll of this task returned in ``TaskResult.state`` (empty at first).
    retry_count: how many times this task has been retried after an error.
    task_name: the full task name, e.g. ``+wf+step``.
    project_dir / workdir: the project directory, and the task's working directory in it.
    env: extra environment variables for commands (the task's ``_env``).
    secrets: the secrets the task may read.
    sessions: starts and watches sessions of other workflows (`require>`).
    log: a logger whose records go to the task's log (not to the task's output).
    """

    params: Mapping[str, Any]
    command: Any
    state: Mapping[str, Any]
    retry_count: int
    task_name: str
    project_dir: Path
    workdir: Path
    env: Mapping[str, str]
    secrets: Secrets
    sessions: Sessions
    log: logging.Logger

    def params_env(self) -> dict[str, str]:
        """The params whose names are valid environment variable names (and do not start with `_`),
        as strings (anything but a string as JSON): the environment `sh>` gives its script."""
        ...

    def parse_workflow(self, text: str, source: str) -> dict[str, Any]:
        """Workflow text that did not come from a project file (e.g. fetched by `http_call>`) read
        by the rules of `.dig` files: YAML 1.2 with dates kept as strings, duplicate keys refused;
        errors are ConfigError located as `source:LINE:COL`. Returns plain data."""
        ...

    def with_secrets(self, text: str) -> str:
        """`text` with every `${secret:KEY}` replaced by that secret (after `_secrets` remapping;
        the value is masked in all output). A secret that is not set raises ConfigError."""
        ...

    async def run_python(
        self,
        script: Path,
        args: Sequence[str],
        *,
        python: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Run a Python script (`python script args`) like `run_command` and return its exit code.

        With the default interpreter on the local machine, the script runs in a child forked from
        a warm, pre-started interpreter (a few milliseconds instead of an interpreter start). With
        `python` (an argv such as `["python3.12"]`), or under another command executor, it runs
        as a new process."""
        ...

    def render(self, text: str) -> str:
        """Evaluate `${...}` in `text` with the task's params, by the same rules as workflow values
        (for templates an operator reads itself: a mail body, an SQL file). Raises ConfigError.
        It blocks for as long as JavaScript runs (up to the time limit): an operator calls it off
        the event loop, e.g. ``await asyncio.to_thread(ctx.render, text)``."""
        ...

    def load_workflow(self, path: str) -> CalledWorkflow:
        """Load and check a `.dig` file of the project; `path` is relative to the task's working
        directory (`.dig` may be left out). A missing or invalid file raises ConfigError."""
        ...

    def output(self, text: str) -> None:
        """Write task output (what ``echo>`` prints, a command's stdout). ``text`` ends with a newline."""
        ...

    async def run_command(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        capture: list[str] | None = None,
        echo: bool = True,
    ) -> int:
        """Run a command, stream its stdout and stderr into the task output, and return its exit code.

        ``env`` is added to the engine's environment and ``ctx.env``. ``capture``, if given, also
        receives the command's stdout, piece by piece (``sh>``'s ``output:``); with ``echo=False``
        that stdout goes to ``capture`` only. If the task is
        canceled while the command runs, the command is stopped before this raises ``CancelledError``.
        """
        ...


class Operator(Protocol):
    """An operator: ``name`` is what a workflow writes before ``>`` (``sh`` for ``sh>:``).

    One instance serves every task that uses the operator, so ``run`` must keep its state in
    the context and the result, not on ``self``. Raise ``TaskError`` for an expected failure
    (shown without a traceback) and ``ConfigError`` for a bad parameter.

    Optional class attributes the engine reads (both default to False):
    ``adds_tasks``: the operator adds tasks, or starts attempts, that are not in the compiled
    workflow (``py>``, ``call>``, ``require>``): their commands may run at the same time as others.
    ``calls_workflow``: the main argument names a workflow file of the project (``call>``), checked
    when the workflow is loaded.
    """

    name: ClassVar[str]

    async def run(self, ctx: OperatorContext) -> TaskResult:
        """Run the task once and return its result (or ``TaskResult.poll(...)`` to be called again)."""
        ...


Sink = Callable[[str, str], None]


class CommandExecutor(Protocol):
    """Runs the commands of `sh>`, `py>` and other command operators somewhere (a local process,
    a Docker container, ...). Returned by the `digpy_command_executor` hook."""

    async def run(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, project_dir: Path, sink: Sink,
    ) -> int:
        """Run `argv` with environment `env` in `cwd`, send its output lines to `sink(text, stream)`
        ("stdout"/"stderr"), and return its exit code. If the task is canceled, stop the command
        before CancelledError propagates. (`sink.passthrough`, when not None, is a pair of file
        descriptors a command on this machine may write to directly.)"""
        ...


class SecretProvider(Protocol):
    """A source of secret values (an encrypted file, a vault, the server's database).

    A provider may set the class attribute ``local_only = True``: it holds a user's own secrets and
    is asked by local runs (`digpy run`) only, never by a server's attempts.
    """

    name: ClassVar[str]

    def get(self, key: str, *, project: str | None) -> str | None:
        """The value of secret `key` for `project` (None for local runs), or None if unknown."""
        ...


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """What the `digpy_notify_failure` hook is told about an attempt that did not succeed."""

    project: str
    workflow: str
    session_time: str
    attempt_id: int
    state: str  # "group_error", "error" or "canceled"
    failures: tuple[tuple[str, str], ...]  # (task name, message) of each task that ended in error


@dataclass(frozen=True, slots=True)
class SlaMiss:
    """What the `digpy_notify_sla` hook is told when an attempt or a task misses its SLA.

    task: the full name of what missed it: the workflow's root task (`+wf`) for the workflow's
    `sla:`, the task for a task's `_sla`. deadline: when it was due (ISO 8601, in the workflow's
    time zone). message: e.g. `+wf did not finish within 01:00:00`. fail: whether the SLA makes
    the attempt fail (`fail: true`).
    """

    project: str
    workflow: str
    session_time: str
    attempt_id: int
    task: str
    deadline: str
    message: str
    fail: bool


class Hookspecs:
    """The hooks a digpy plugin may implement (each takes only the arguments it names)."""

    @hookspec
    def digpy_register_operators(self) -> list[type[Operator] | OperatorRef]:  # type: ignore[empty-body]
        """Called once when the plugin manager starts.

        Return a list of operator classes (each is instantiated once with no arguments), or
        OperatorRef for operators whose module is imported on first use. The built-in operators are
        registered the same way, by digpy's default plugin, asked last: a plugin's operator of the
        same name replaces the built-in one. Two plugins registering one name is an error that
        names both.
        """

    @hookspec
    def digpy_register_secret_providers(self) -> list[SecretProvider]:  # type: ignore[empty-body]
        """Called once when the plugin manager starts.

        Return a list of secret providers. A task's secret is looked up in each provider in
        turn (the built-in local store first) and the first value found is used.
        """

    @hookspec(firstresult=True)
    def digpy_command_executor(
        self, params: Mapping[str, Any], operator: str, attempt: str
    ) -> CommandExecutor | None:
        """Called each time a command operator is about to run a command.

        params: the task's evaluated params (e.g. `docker: {image: ...}` exported by the workflow).
        operator: the operator's name (`sh`, `py`, ...).
        attempt: the mark of the attempt the command belongs to (`SESSION_UUID/ATTEMPT_ID`), for an
        executor that keeps something for the whole attempt (a container its tasks share); see
        `digpy_attempt_ended`.
        Return an executor to run the command, or None to let the next plugin decide. The first
        non-None answer wins; digpy's default plugin, asked last, runs the command on this machine.
        """

    @hookspec
    def digpy_attempt_ended(self, attempt: str) -> Awaitable[None] | None:
        """Called on the runner's event loop when an attempt stops running in this process: it
        ended (succeeded, failed or canceled; after its last task, before its end is stored), or it
        is handed back (the server stops) or was taken over by another node.

        attempt: the attempt's mark, as `digpy_command_executor` was given it.
        Release what the plugin keeps for the attempt (a shared container). Return None at once when
        there is nothing (this is called for every attempt), or an awaitable that does the slow work
        off the loop; it is awaited. Exceptions are logged and change nothing.
        """

    @hookspec
    def digpy_attempt_stale(self, attempts: Sequence[str]) -> None:
        """Called before attempts that never ended are run again (a `digpy run` resuming a session,
        a server node taking an attempt over), when the runner that had them may have died; in a
        thread that may block. The engine has killed their processes on this machine by then.

        attempts: their marks. Remove what a dead runner may have left for them (a container); a
        plugin that keeps nothing does nothing. Exceptions are logged and change nothing.
        """

    @hookspec
    def digpy_notify_failure(self, attempt: FailedAttempt) -> None:
        """Called once when an attempt ends without success (failed or canceled), after its
        state is stored. Exceptions are logged and do not change the attempt's result."""

    @hookspec
    def digpy_notify_sla(self, miss: SlaMiss) -> None:
        """Called once when a running attempt misses its workflow's `sla:`, or a task its `_sla`,
        whose `alert` is true (the default), after the miss is stored (the `^sla` tasks are added
        then). Called on the runner's event loop: send slowly elsewhere (a thread, a queue).
        Exceptions are logged and change nothing."""
