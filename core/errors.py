"""The error types of digpy: one base with a one-line message and an optional hint.

Anything that is not a DigpyError is a bug and is logged with its traceback.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Location(NamedTuple):
    """Where a value came from: a file and a 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class DigpyError(Exception):
    """Base of every error meant for a user: a one-line message and an optional hint."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class ConfigError(DigpyError):
    """Bad input (a workflow file, an option, a parameter); rendered `file:LINE:COL: message`."""

    exit_code = 2

    def __init__(self, message: str, *, location: Location | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.location = location

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.location}: {text}" if self.location else text


class UnknownOperator(ConfigError):
    """A task names an operator that no installed plugin provides; `suggestion` is a known
    operator with a close name, if any (the caller words the hint for where it runs); `task` is
    the full name of the task (what names it where there is no location)."""

    def __init__(self, operator: str, *, location: Location | None = None, suggestion: str | None = None,
                 hint: str | None = None, task: str | None = None) -> None:
        super().__init__(f"unknown operator '{operator}>'", location=location, hint=hint)
        self.operator = operator
        self.suggestion = suggestion
        self.task = task


class TaskError(DigpyError):
    """An expected failure of a task (a command exited non-zero, fail>): stored, shown without a traceback."""

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None,
                 command_code: int | None = None, stores: dict[str, Any] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.details = details
        self.command_code = command_code  # a command's exit code, when that is what failed (`_retry`/`_continue_on`)
        self.stores = stores  # what the task stores although it failed (sh>'s `output:`, as Dagu keeps it)


class PluginError(DigpyError):
    """A plugin could not be loaded or registered."""

    exit_code = 2


class NotFound(DigpyError):
    """A resource does not exist (HTTP 404)."""

    status = 404


class Conflict(DigpyError):
    """A resource is in a state that forbids the request (HTTP 409)."""

    status = 409
