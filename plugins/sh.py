"""`sh>: SCRIPT` runs a shell script in the task's working directory.

The script goes through `/bin/sh` (or the `shell` option, e.g. `shell: [bash, -e]`, also given as
`_export: {sh: {shell: [...]}}`). A POSIX shell gets the script as `-c SCRIPT` (no file to write and
remove: measured in docs/performance.md); any other shell, a script too long for one argument, or
one that names a `${secret:KEY}` (arguments show in the process list) gets the path of a private
temporary script file, as in Digdag. Every param whose name is a valid environment variable name
is in the script's environment (strings as they are, anything else as JSON). `output: NAME` stores
the script's stdout, trimmed, as the param NAME for the tasks after it (Dagu's `output`; at most
`max_output_size` bytes, 1 MiB by default: more fails the task, as in Dagu; `print_output: false`:
not also printed; a failing script stores it too, for the tasks after it under `_continue_on` and
for `_error` tasks, as Dagu does); `setup:`
holds shell lines run first in the same shell (what the Dagu front end sets up: its variables).
`shell_from_env: [VAR, ...]`: the first of these variables of digpy's own environment that is set
(and not empty) names the shell, else `shell` or /bin/sh is used (Dagu's `$DAGU_DEFAULT_SHELL`, then
`$SHELL`). A shell whose words end in `-c` gets the script after it (the `-c` is sh>'s own).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
from typing import Any

from digpy.core.spi import ConfigError, OperatorContext, TaskError, TaskResult, hookimpl

DEFAULT_SHELL = ["/bin/sh"]
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_OUTPUT_SIZE = 1024 * 1024  # bytes of `output:` (Dagu's default maxOutputSize); more fails the task


class ShOperator:
    name = "sh"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        script = ctx.command
        if not isinstance(script, str) or not script.strip():
            raise ConfigError(f"sh> needs a command, got {script!r}")
        shell = _shell(ctx.params)
        output, limit = output_option(ctx, "sh")
        captured: list[str] | None = [] if output is not None else None
        echo = ctx.params.get("print_output", True)
        if not isinstance(echo, bool) or (not echo and output is None):
            raise ConfigError(f"sh> print_output is true, or false with output:, got {echo!r}")
        setup = ctx.params.get("setup")
        if setup is not None and not isinstance(setup, str):
            raise ConfigError(f"sh> setup must be shell lines, got {setup!r}")
        if setup:
            script = setup.rstrip("\n") + "\n" + script
        filled = ctx.with_secrets(script)  # Digdag's sh> fills in ${secret:KEY} (masked in the output)
        if not filled.endswith("\n"):
            filled += "\n"
        # A script holding a secret goes through a private file: an argument is visible to every
        # user in the process list.
        if _takes_c(shell) and len(filled) < _MAX_ARGUMENT and "${secret:" not in script:
            dashes = ["--"] if filled[:1] in ("-", "+") else []  # or the shell takes the script for options
            code = await ctx.run_command([*shell, "-c", *dashes, filled], env=ctx.params_env(), capture=captured,
                                         echo=echo)
        else:
            code = await _run_file(ctx, shell, filled, captured, echo)
        text = "".join(captured).strip() if captured is not None else ""
        if code != 0:  # what it printed is kept all the same (Dagu): for `_continue_on` and `_error` tasks
            raise TaskError(f"Command failed with code {code}", command_code=code,
                            stores={output: text} if output is not None else None)
        return TaskResult(stores=kept_output(output, text, limit))


def output_option(ctx: OperatorContext, operator: str) -> tuple[str | None, int]:
    """An operator's `output:` (the param its printed text is stored under, or None) and its
    `max_output_size` (sh> and jq>)."""
    output = ctx.params.get("output")
    if output is None:
        return None, MAX_OUTPUT_SIZE
    if not (isinstance(output, str) and _PARAM_NAME.match(output)):
        raise ConfigError(f"{operator}> output must be a param name such as RESULT, got {output!r}")
    limit = ctx.params.get("max_output_size", MAX_OUTPUT_SIZE)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigError(f"{operator}> max_output_size must be a number of bytes, got {limit!r}")
    return output, limit


def kept_output(output: str | None, text: str, limit: int) -> dict[str, Any]:
    """The stores of `output:` (`text` trimmed), or a task error when it is over `limit` bytes."""
    if output is None:
        return {}
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise TaskError(f"the output kept as {output} is over {limit} bytes (max_output_size)")
    return {output: text}


_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})
_MAX_ARGUMENT = 32_000  # characters: Linux refuses one argument over 128 KiB (UTF-8: up to 4 bytes each)


def _takes_c(shell: list[str]) -> bool:
    """A POSIX shell given options only (`-e`, `-o pipefail`, `+o nounset`)."""
    if os.path.basename(shell[0]) not in _POSIX_SHELLS:
        return False
    words = iter(shell[1:])
    for word in words:
        if word in ("-o", "+o"):
            if next(words, "-").startswith(("-", "+")):
                return False
        elif not word.startswith(("-", "+")) or word in ("-", "--", "+"):
            return False
    return True


async def _run_file(ctx: OperatorContext, shell: list[str], script: str, captured: list[str] | None,
                    echo: bool) -> int:
    import tempfile  # only for scripts that cannot go as -c

    fd, path = tempfile.mkstemp(prefix="script-", suffix=".sh", dir=_script_dir())
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(script)
        return await ctx.run_command([*shell, path], env=ctx.params_env(), capture=captured, echo=echo)
    finally:
        os.unlink(path)


_dirs: dict[int, str] = {}


def _script_dir() -> str:
    """A private directory for this process's scripts (a container executor mounts only it)."""
    pid = os.getpid()
    if pid not in _dirs:
        import tempfile

        _dirs[pid] = tempfile.mkdtemp(prefix="digpy-sh-")
        atexit.register(shutil.rmtree, _dirs[pid], True)
    return _dirs[pid]


def _shell(params: Any) -> list[str]:
    shell = _configured_shell(params)
    if len(shell) > 1 and shell[-1] == "-c":  # `bash -o errexit -c`: sh> gives -c itself
        shell = shell[:-1]
    return shell


def _configured_shell(params: Any) -> list[str]:
    names = params.get("shell_from_env")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"sh> shell_from_env must be a list of variable names, got {names!r}")
        for name in names:
            if os.environ.get(name):  # digpy's own environment, as Dagu reads $SHELL
                return [os.environ[name]]
    value = params.get("shell")
    if value is None and isinstance(params.get("sh"), dict):
        value = params["sh"].get("shell")
    if value is None:
        return list(DEFAULT_SHELL)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"sh> shell must be a command or a list of words, got {value!r}")


@hookimpl
def digpy_register_operators() -> list[type]:
    return [ShOperator]
