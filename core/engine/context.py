"""The OperatorContext a task's operator sees, with its secrets (masked in all output) and commands."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from digpy.core.engine.guard import ATTEMPT_ENV
from digpy.core.errors import ConfigError, TaskError
from digpy.core.project import load_called_workflow
from digpy.core.spi import CalledWorkflow, CommandExecutor, SecretProvider, Secrets, Sessions
from digpy.core.workflow.model import Task

if TYPE_CHECKING:
    from digpy.core.language.expression import TemplateEngine
    from digpy.core.plugin_manager import Registry

MASK = "***"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_REF = re.compile(r"\$\{secret:([A-Za-z0-9_.\-]+)\}")


class Masker:
    """Replaces every secret value a task has read with *** in output and log lines."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= 3:  # masking "a" or "1" everywhere would garble output and reveal little
            self.values.add(value)

    def __call__(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text


class ProviderSecrets:
    """Secrets from the registered providers, seen through a task's `_secrets` remapping."""

    def __init__(self, providers: Sequence[SecretProvider], project: str | None, masker: Masker,
                 remap: Mapping[str, Any] | None = None) -> None:
        self._providers = providers
        self._project = project
        self._masker = masker
        self._remap = remap or {}

    def get(self, key: str) -> str | None:
        target = self._remap.get(key, key)
        name = target if isinstance(target, str) else key
        for provider in self._providers:
            value = provider.get(name, project=self._project)
            if value is not None:
                self._masker.add(value)
                return value
        return None

    def require(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            target = self._remap.get(key, key)
            name = target if isinstance(target, str) else key
            shown = f"'{key}'" if name == key else f"'{key}' (_secrets: {name})"
            where = "--local" if self._project is None else f"--project {shlex.quote(self._project)}"
            raise ConfigError(f"secret {shown} is not set", hint=f"set it with `digpy secrets {where} --set {name}`")
        return value


class _Sink:
    """Where a command's output lines go (the task's output); `passthrough` is the pair of file
    descriptors a local command may write to directly, when the runner allows it."""

    __slots__ = ("capture", "context", "echo", "passthrough")

    def __init__(self, context: TaskContext, passthrough: tuple[int, int] | None,
                 capture: list[str] | None = None, echo: bool = True) -> None:
        self.context = context
        self.passthrough = passthrough
        self.capture = capture
        self.echo = echo

    def __call__(self, text: str, stream: str) -> None:
        if self.capture is not None and stream == "stdout":
            self.capture.append(text)
            if not self.echo:
                return
        self.context._sink(text, stream)


class TaskHost(Protocol):
    """What a task's context needs of the attempt it runs in (the runner is one)."""

    @property
    def project_dir(self) -> Path: ...
    @property
    def project_name(self) -> str | None: ...
    @property
    def attempt_tag(self) -> str:
        """The mark of the attempt's commands (digpy.core.engine.guard)."""
    @property
    def secret_providers(self) -> Sequence[SecretProvider]: ...
    @property
    def masker(self) -> Masker: ...
    @property
    def sessions(self) -> Sessions: ...
    @property
    def registry(self) -> Registry: ...
    @property
    def templates(self) -> TemplateEngine: ...
    @property
    def timezone(self) -> str: ...
    @property
    def output_error(self) -> str | None:
        """Set once output could not be written."""

    def emit(self, task: Task, text: str, stream: str) -> None:
        """Task output (masked), or remember in `output_error` that it could not be written."""

    def passthrough(self) -> tuple[int, int] | None:
        """File descriptors a command may write to directly, or None."""


class TaskContext:
    """The OperatorContext of one run of one task."""

    def __init__(self, runner: TaskHost, task: Task, params: dict[str, Any]) -> None:
        self._runner = runner
        self._task = task
        self.params = params
        self.command = main_argument(params.get("_command"))
        self.state = task.state_params
        self.retry_count = task.retry_count
        self.task_name = task.full_name
        self.project_dir = runner.project_dir
        self.workdir = _workdir(runner.project_dir, params.get("_workdir"))
        remap = params.get("_secrets")
        self.secrets: Secrets = ProviderSecrets(runner.secret_providers, runner.project_name, runner.masker,
                                                remap if isinstance(remap, dict) else None)
        env = params.get("_env")
        self.env = {str(k): self._env_value(str(k), v) for k, v in env.items()} if isinstance(env, dict) else {}
        self.sessions = runner.sessions
        self._lost = False  # some of a command's output could not be written
        # Every line the task's commands print, kept when `_continue_on: {output: ...}` reads it.
        self.recorded: list[str] | None = None

    @property
    def log(self) -> logging.Logger:
        """The task's logger, made on first use (a logger per task name lives as long as the process)."""
        return logging.getLogger(f"digpy.task.{self.task_name}")

    def _env_value(self, name: str, value: Any) -> str:
        """An `_env` value: a text (naming `${secret:KEY}`s), or a secret kept outside digpy's store,
        `{from_env: VAR}` (digpy's own environment) or `{from_file: PATH}` (relative to the task's
        working directory; without the file's last newline), read now and masked in output like any secret."""
        if not (isinstance(value, dict) and len(value) == 1 and ("from_env" in value or "from_file" in value)):
            return self.with_secrets(env_value(value))
        if "from_env" in value:
            found = os.environ.get(str(value["from_env"]))
            if found is None:
                raise ConfigError(f"secret {name}: the environment variable {value['from_env']} is not set",
                                  hint="set it in the environment digpy runs in (on a server: the server's)")
        else:
            path = self.workdir / str(value["from_file"])
            try:
                found = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")  # an editor's last newline
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"secret {name}: cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
        self._runner.masker.add(found)
        return found

    def with_secrets(self, text: str) -> str:
        """`_env` values and `sh>` scripts may name secrets: `PGPASSWORD: ${secret:pg.password}`."""
        if "${secret:" not in text:
            return text
        return _SECRET_REF.sub(lambda m: self.secrets.require(m.group(1)), text)

    def output(self, text: str) -> None:
        self._runner.emit(self._task, text, "stdout")
        if self._runner.output_error:
            raise TaskError(self._runner.output_error)

    def _executor(self) -> CommandExecutor:
        """Where the task's commands run: the first plugin that answers (the local machine last)."""
        hook = self._runner.registry.manager.hook
        executor: CommandExecutor = hook.digpy_command_executor(params=self.params, operator=str(self.params.get("_type")),
                                                                attempt=self._runner.attempt_tag)
        return executor

    async def run_command(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                          cwd: Path | None = None, capture: list[str] | None = None, echo: bool = True) -> int:
        """(`echo=False`, the engine's own use: captured stdout is not also task output.)"""
        task_env = dict(self.env)
        if env:
            task_env.update(env)
        task_env[ATTEMPT_ENV] = self._runner.attempt_tag  # what a resume stops first (guard.py)
        code = int(await self._executor().run(
            argv, env=task_env, cwd=cwd or self.workdir, project_dir=self.project_dir,
            sink=self._sink_of(capture, echo),
        ))
        return self._delivered(code)

    def _sink_of(self, capture: list[str] | None = None, echo: bool = True) -> _Sink:
        direct = capture is None and self.recorded is None  # output read back never bypasses the sink
        return _Sink(self, self._runner.passthrough() if direct else None, capture, echo)

    def _sink(self, text: str, stream: str) -> None:
        if self.recorded is not None:
            self.recorded.append(text)
        self._runner.emit(self._task, text, stream)
        if self._runner.output_error:
            self._lost = True

    def _delivered(self, code: int) -> int:
        """A command whose output could not be written fails, as it would writing to a closed pipe."""
        if self._lost and code == 0:
            raise TaskError(self._runner.output_error or "the task's output could not be written")
        return code

    async def run_python(self, script: Path, args: Sequence[str], *, python: Sequence[str] | None = None,
                         env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
        task_env = dict(self.env)
        if env:
            task_env.update(env)
        task_env[ATTEMPT_ENV] = self._runner.attempt_tag  # what a resume stops first (guard.py)
        executor = self._executor()
        local = getattr(executor, "local", False)
        if local and python is None and hasattr(executor, "run_python"):
            return self._delivered(await executor.run_python(
                script, args, env=task_env, cwd=cwd or self.workdir, sink=self._sink_of(),
            ))
        # Under another executor (a container) digpy's own interpreter path means nothing.
        interpreter = python or ([sys.executable] if local else ["python3"])
        return await self.run_command([*interpreter, str(script), *args], env=env, cwd=cwd)

    def render(self, text: str) -> str:
        return self._runner.templates.render(text, self.params, self._runner.timezone)

    def load_workflow(self, path: str) -> CalledWorkflow:
        return load_called_workflow(self.project_dir, self.workdir, path)

    def parse_workflow(self, text: str, source: str) -> dict[str, Any]:
        from digpy.core.language.dig.loader import load_text
        from digpy.core.workflow.located import to_plain

        plain: dict[str, Any] = to_plain(load_text(text, source))
        return plain

    def params_env(self) -> dict[str, str]:
        exported = _exported
        env = {}
        for k, v in self.params.items():
            ok = exported.get(k)
            if ok is None:
                ok = not k.startswith("_") and _ENV_NAME.match(k) is not None
                if len(exported) < 10_000:
                    exported[k] = ok
            if ok:
                env[k] = v if type(v) is str else env_value(v)
        return env


_exported: dict[str, bool] = {}  # param name -> whether it becomes an environment variable (names repeat)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _workdir(project_dir: Path, workdir: Any) -> Path:
    """The task's working directory: `_workdir` is a directory of the project, relative to it."""
    if workdir is None or workdir == "":
        return project_dir
    if not isinstance(workdir, str):
        raise ConfigError(f"_workdir must be a path relative to the project, got {env_value(workdir)}")
    path = project_dir / workdir
    try:
        inside = path.resolve().is_relative_to(project_dir.resolve())
    except OSError:
        inside = False
    if not inside:
        raise ConfigError(f"_workdir '{workdir}' points outside the project directory")
    if not path.is_dir():
        raise ConfigError(f"_workdir '{workdir}' is not a directory of the project",
                          hint="create it, or fix the path (it is relative to the project directory)")
    return path


def main_argument(value: Any) -> Any:
    """An operator's main argument as operators read it: a scalar (`sh>: true`, `echo>: 12`) as its
    text, as Digdag reads it (`true`, not Python's `True`); None, mappings and lists as they are."""
    if value is None or isinstance(value, str | dict | list):
        return value
    return env_value(value)


def env_value(value: Any) -> str:
    """A param as an environment variable: strings as they are, anything else (null too) as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"  # JSON, as Digdag's sh> gives it (its JsonNode's toString)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    return _encode(value)
