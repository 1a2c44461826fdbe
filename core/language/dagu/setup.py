"""What a DAG's shell steps set before their command: params, env, dotenv and special variables.

Dagu 1.30's order, checked against its binary: the DAG's `env` is worked out first (it does not
see the params' defaults), dotenv entries after it (they win), then the params (a value given to
the run wins over a default), then the step's own `env` and working directory.
"""

from __future__ import annotations

import shlex
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.common import as_text, is_name
from digpy.core.language.dagu.steps import Step
from digpy.core.language.dagu.variables import (
    CACHE_ROOT,
    Scope,
    for_shell,
    literal,
    shell_double,
    shell_quote,
)
from digpy.core.workflow.located import ConfigMap, value_location


def read_params(dag: ConfigMap) -> dict[str, str | None]:
    """Named params with their defaults (positional ones are `$1`... in the shell, see Prelude)."""
    value = dag.get("params")
    loc = value_location(dag, "params")
    named: dict[str, str | None] = {}
    for key, default in param_items(value, loc):
        if key is not None:
            named[key] = default
    return named


def param_items(value: Any, loc: Location | None) -> list[tuple[str | None, str]]:
    """`params:` as (name or None for a positional value, default), in order."""
    if value is None:
        return []
    items: list[tuple[str | None, str]] = []
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as e:
            raise ConfigError(f"params: {e}", location=loc) from None
        for word in words:
            key, eq, default = word.partition("=")
            items.append((key, default) if eq and is_name(key) else (None, word))
        return items
    entries: list[Any] | None = list(value.items()) if isinstance(value, dict) else \
        value if isinstance(value, list) else None
    if entries is None:
        raise ConfigError("params must be a text, a list or a mapping", location=loc)
    for entry in entries:
        if isinstance(entry, tuple):
            key, default = entry
        elif isinstance(entry, dict) and len(entry) == 1:
            key, default = next(iter(entry.items()))
        elif isinstance(entry, str):
            key, eq, default = entry.partition("=")
            if not eq:
                items.append((None, entry))
                continue
        elif isinstance(entry, dict):
            raise ConfigError("typed params ({name, type, default}) are not supported yet by digpy", location=loc,
                              hint="write - NAME: default")
        else:
            items.append((None, as_text(entry)))
            continue
        if not is_name(str(key)):
            raise ConfigError(f"param name {key!r} is not a valid variable name", location=loc)
        items.append((str(key), as_text(default)))
    return items


def read_env(value: Any, loc: Location | None) -> dict[str, str]:
    """`env:` as an ordered mapping (a list of one-key mappings, `KEY=VALUE` texts, or a mapping)."""
    if value is None:
        return {}
    entries = list(value.items()) if isinstance(value, dict) else None
    if entries is None and isinstance(value, list):
        entries = []
        for item in value:
            if isinstance(item, dict):
                entries.extend(item.items())
            elif isinstance(item, str) and "=" in item:
                key, _, text = item.partition("=")
                entries.append((key, text))
            else:
                raise ConfigError("env entries are KEY: VALUE mappings or KEY=VALUE texts", location=loc)
    if entries is None:
        raise ConfigError("env must be a list of KEY: VALUE entries or a mapping", location=loc)
    out: dict[str, str] = {}
    for key, item in entries:
        if not is_name(str(key)):
            raise ConfigError(f"env name {key!r} is not a valid variable name", location=loc)
        if isinstance(item, dict | list):
            raise ConfigError(f"env {key} must be a text", location=loc)
        out[str(key)] = as_text(item)
    return out


# Reads a dotenv file without running it: KEY=VALUE lines, `#` comments, an optional `export `, and
# one pair of quotes around a value are taken off; no line is executed.
_DOTENV_READER = (
    "if [ -f FILE ]; then while IFS= read -r _l || [ -n \"$_l\" ]; do case \"$_l\" in ''|'#'*) continue;; esac; "
    "_l=${_l#export }; _k=${_l%%=*}; _v=${_l#*=}; case \"$_v\" in \\\"*\\\") _v=${_v#?}; _v=${_v%?};; "
    "\\'*\\') _v=${_v#?}; _v=${_v%?};; esac; export \"$_k=$_v\"; done < FILE; fi"
)


def dotenv_files(dag: ConfigMap) -> list[str]:
    """The dotenv files of a DAG, read in order: `.env` first, then those listed (`dotenv: []`: none)."""
    value = dag.get("dotenv")
    loc = value_location(dag, "dotenv")
    if value is None:
        return [".env"]
    files = value if isinstance(value, list) else [value]
    if not all(isinstance(f, str) and f for f in files):
        raise ConfigError("dotenv must be a file name or a list of them", location=loc)
    if not files:
        return []
    return list(dict.fromkeys([".env", *files]))


# A template expression: `set -- ...` with the values of the params "1", "2"... given to the run, each
# as one quoted word, and "$N" for a position that keeps its default; nothing when none is given.
_POSITIONAL = (
    "(function(t){var n=DEFAULTS,m=0,a=[],i;while(t[String(m+1)]!==undefined)m++;if(!m)return \"\";"
    "for(i=1;i<=Math.max(n,m);i++){var v=t[String(i)];if(v===undefined){a.push('\"$'+'{'+i+'}\"');continue;}"
    "v=typeof v===\"string\"?v:JSON.stringify(v);a.push(\"'\"+v.split(\"'\").join(\"'\\\\''\")+\"'\");}"
    "return \"set -- \"+a.join(\" \");})(this)"
)


class Prelude:
    """What every shell step sets before its command: the DAG's params, env and special variables."""

    def __init__(self, dag: ConfigMap, scope: Scope) -> None:
        self.scope = scope
        self.lines: list[str] = []
        loc = value_location(dag, "params")
        positional = [default for key, default in param_items(dag.get("params"), loc) if key is None]
        self.lines.append(literal(f"export DAG_NAME={shell_quote(scope.dag_name)} DAG_RUN_ID=") + '"${session_uuid}"')
        # Dagu 1.30: env is worked out before the params (it does not see their defaults), and a
        # param wins over an env entry of its name; a param given to the run wins over its default.
        for key, value in scope.env.items():
            if key not in scope.params:
                self.lines.append(f"export {key}={for_shell(shell_double(value), scope, loc)}")
        for path in dotenv_files(dag):  # after env: its entries win (Dagu appends them)
            self.lines.append(literal(_DOTENV_READER.replace("FILE", shell_quote(path))))
        for key, default in scope.params.items():
            word = shell_double(f"${{{key}={default or ''}}}")
            self.lines.append(f": {for_shell(word, scope, loc)}; export {key}")
        if positional:
            words = " ".join(for_shell(shell_double(p), scope, loc) for p in positional)
            self.lines.append(f"set -- {words}")
        # positional values given to the run (`digpy run dag -- a b`, or a parent's params: the params
        # "1", "2"...) replace the defaults of their positions
        self.lines.append("${" + _POSITIONAL.replace("DEFAULTS", str(len(positional))) + "}")
        self.workdir = dag.get("workingDir")
        self.workdir_location = value_location(dag, "workingDir")

    def text(self, step: Step | None, env: dict[str, str] | None = None, workdir: Any = None,
             status: str | None = None, workdir_location: Location | None = None) -> str:
        lines = list(self.lines)
        if step is not None:
            lines.append(f"export DAG_RUN_STEP_NAME={literal_word(step.name)}")
        if status is not None:
            lines.append(f"export DAG_RUN_STATUS={status}")
        for key, value in (env or {}).items():
            lines.append(f"export {key}={for_shell(shell_double(value), self.scope, None)}")
        directory = workdir if workdir is not None else self.workdir
        if directory is not None:
            if not isinstance(directory, str) or not directory:
                raise ConfigError("workingDir must be a directory",
                                  location=workdir_location if workdir is not None else self.workdir_location)
            where = for_shell(shell_double(directory), self.scope, None)
            if "~" in directory or "$" in directory:  # Dagu expands a leading ~ (from a variable too)
                lines.append(f"_digpy_dir={where}; " + literal('case $_digpy_dir in "~"*) '
                                                              '_digpy_dir=$HOME/${_digpy_dir#"~"};; esac'))
                where = literal('"$_digpy_dir"')
            lines.append(f"cd {where} || exit 1")
        return "\n".join(lines) + "\n"


def literal_word(text: str) -> str:
    return literal(shell_quote(text))



def copy_output(stream: str, path: Any, scope: Scope, location: Location | None, append: bool = True) -> str:
    """Shell lines that copy the rest of the script's stdout (`stream` "stdout") or stderr into a
    file as well (Dagu's `stdout:` / `stderr:`): a FIFO read by `tee`, so the output still reaches
    the task's log and `output:`, and the script's exit code is its own. Dagu appends to the file."""
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"{stream} must be a file path", location=location)
    return _tee(stream, for_shell(shell_double(path), scope, location), append)


def _tee(stream: str, files: str, append: bool = False) -> str:
    """`copy_output` into `files` (the words that follow `tee`, as template text; `append`: tee -a)."""
    fd, back = ("1", "") if stream == "stdout" else ("2", " >&2")
    return literal(f"_digpy_{stream}=$(mktemp -u) && mkfifo \"$_digpy_{stream}\" && ") + \
        f"{{ tee{' -a' if append else ''} {files} < " + literal(f"\"$_digpy_{stream}\"{back} & }} && exec {fd}> \"$_digpy_{stream}\" && "
                                                              f"rm -f \"$_digpy_{stream}\"") + "\n"


STEP_FILES = {"stdout": "stdout.log", "stderr": "stderr.log", "exitCode": "exit_code"}


def files_root(log_dir: Any, dag_name: str, location: Location | None) -> str:
    """The shell text of the directory under which a DAG's runs keep their step files and log:
    `logDir/DAG_NAME` (a relative logDir is relative to the project), or digpy's cache directory."""
    if log_dir is None:
        return CACHE_ROOT
    if not isinstance(log_dir, str) or not log_dir.strip() or any(c in log_dir for c in '"`$\\\n'):
        raise ConfigError("logDir must be a directory path (without quotes, $ or backticks)", location=location)
    path = log_dir.rstrip("/") + "/" + dag_name
    if path.startswith("~/"):
        return "$HOME/" + path[2:]
    return path if path.startswith("/") else "$PWD/" + path


def run_files_dir(root: str = CACHE_ROOT) -> str:
    """The directory (a shell word) of a run's step files (see step_files_dir) and log."""
    return literal('"' + root + "/") + "${session_uuid}" + literal('"')


def step_files_dir(task_name: str, base: str | None = None, root: str = CACHE_ROOT) -> str:
    """The directory (a shell word) where a step read by `${ID.stdout}`... keeps its output: one per
    run and task, under `root` (or `base`, the shell text of the run's directory); `task_name` is an
    expression that gives the step's task name when the text is evaluated."""
    run = literal('"' + base + "/") if base else literal('"' + root + "/") + "${session_uuid}/"
    return run + "${(" + task_name + ').replace(/[^A-Za-z0-9_.=-]+/g, "_")}' + literal('"')


def keep_step_files(directory: str, step: str | None = None, base: str | None = None, root: str = CACHE_ROOT) -> str:
    """Shell lines run first by a step read by `${ID.stdout}`...: copies of its stdout and stderr
    in `directory`, and its exit code written there when it exits (after the copies are complete).
    With `step` (its name), in a DAG that names Dagu's DAG_RUN_LOG_FILE, DAG_RUN_STEP_STDOUT_FILE
    or DAG_RUN_STEP_STDERR_FILE: the three variables name these files and the run's log, to which
    the step appends a line `--- STEP` and its copies when it ends (a step that reads the log does
    not read itself). `base`: as for step_files_dir."""
    lines = f"_digpy_refs={directory} && mkdir -p \"$_digpy_refs\" || exit 1\n".replace("$_", "$$_") + \
        copy_output("stdout", "$_digpy_refs/stdout.log", Scope(""), None, append=False) + \
        copy_output("stderr", "$_digpy_refs/stderr.log", Scope(""), None, append=False)
    append = ""
    if step is not None:
        run = literal('"' + base + '"') if base else run_files_dir(root)
        lines += "_digpy_log=" + run + literal("/dag.log _digpy_head=" + shell_quote("--- " + step)) + "\n" + \
            literal('export DAG_RUN_LOG_FILE="$_digpy_log" DAG_RUN_STEP_STDOUT_FILE="$_digpy_refs/stdout.log" '
                    'DAG_RUN_STEP_STDERR_FILE="$_digpy_refs/stderr.log"') + "\n"
        append = ' { printf "%s\\n" "$_digpy_head"; cat "$_digpy_refs/stdout.log" "$_digpy_refs/stderr.log"; } ' \
            '>> "$_digpy_log";'
    return lines + literal("trap '_digpy_code=$?; echo $_digpy_code > \"$_digpy_refs/exit_code\"; exec >&- 2>&-; "
                           f"wait;{append} exit $_digpy_code' EXIT") + "\n"


def write_step_files(directory: str, code: str) -> str:
    """A script that writes the files of a step read by `${ID.stdout}`... that is no shell step (a
    child DAG's): `$DIGPY_VALUE` as its stdout, an empty stderr, and `code` (a template) as its
    exit code."""
    return f"_digpy_refs={directory} && mkdir -p \"$_digpy_refs\" && ".replace("$_", "$$_") + \
        literal('printf "%s\\n" "$DIGPY_VALUE" > "$_digpy_refs/stdout.log" && : > "$_digpy_refs/stderr.log" && ') + \
        f"echo {code} > " + literal('"$_digpy_refs/exit_code"')
