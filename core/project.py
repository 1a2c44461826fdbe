"""A project directory: its workflow files, and loading one of them into a compiled workflow."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from pathlib import Path
from typing import Any

from digpy.core.errors import ConfigError
from digpy.core.language import registry
from digpy.core.language.cache import cached
from digpy.core.spi import CalledWorkflow
from digpy.core.workflow.spec import OperatorSet, Workflow

IGNORE_FILES = (".digpyignore", ".digdagignore")


class Project:
    """The directory that holds a project's workflow files (top level only, as in Digdag): `.dig`
    files and those of the other front ends (digpy.core.language.registry).

    Loading and compiling are imported on first use: a run whose workflow comes from the
    compiled-workflow cache needs neither."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        if self.directory.is_file():
            raise ConfigError(f"{directory} is a file, not a project directory",
                              hint="--project takes a directory: the one that holds the .dig files")
        if not self.directory.is_dir():
            raise ConfigError(f"project directory {directory} does not exist")

    @property
    def name(self) -> str:
        return self.directory.name

    def ignore_patterns(self) -> list[str]:
        patterns: list[str] = []
        for name in IGNORE_FILES:
            path = self.directory / name
            if path.is_file():
                for line in path.read_text(encoding="utf-8").splitlines():
                    line = line.strip()
                    if line and not line.startswith("#"):
                        patterns.append(line)
        return patterns

    def workflow_files(self) -> list[Path]:
        """Every top-level workflow file (`*.dig`, a Dagu `*.yaml` with `steps:`, ...) that is not hidden
        or ignored, sorted by name."""
        patterns = self.ignore_patterns()
        files = sorted(
            path for path in self.directory.iterdir()
            if registry.is_workflow_file(path) and path.is_file() and not path.name.startswith(".")
            and not any(fnmatch.fnmatch(path.name, p) for p in patterns) and registry.holds_workflow(path)
        )
        seen: dict[str, Path] = {}
        for path in files:  # a workflow's name is its file's stem: `etl.dig` and `etl.yaml` can't both be
            if path.stem in seen:
                raise ConfigError(f"two workflow files are named '{path.stem}': {seen[path.stem].name} and {path.name}",
                                  hint="rename one, or list one in .digpyignore")
            seen[path.stem] = path
        return files

    def resolve(self, name: str) -> Path:
        """A workflow name (`wf`), file name (`wf.dig`) or path → the workflow file."""
        candidate = Path(name)
        if not candidate.name or candidate.name in (".", ".."):
            raise ConfigError(f"'{name}' is not a workflow", hint="name one: wf, wf.dig or dir/wf.dig")
        base = candidate if candidate.is_absolute() else self.directory / candidate
        tried = [base] if registry.is_workflow_file(base) else [
            base.with_name(base.name + suffix) for suffix in registry.suffixes()]
        for path in tried:
            if path.is_file():
                return path
        names = ", ".join(p.stem for p in self.workflow_files()) or "none"
        raise ConfigError(
            f"workflow '{name}' does not exist in {self.directory}",
            hint=f"workflows here: {names}; change directory or pass --project DIR",
        )

    def load(self, path: Path, *, operators: Collection[str] | None = None, cache: bool = True,
             lenient: bool = False) -> Workflow:
        """Load and compile one workflow file; its schedule is validated too, and the syntax of its
        `${...}` checked (`Workflow.expression_errors`: the caller decides). Unchanged files come
        from the compiled-workflow cache (digpy.core.language.cache), unless `cache` is false (a
        project unpacked once, such as a pushed archive, would only fill the cache). With
        `lenient`, unknown operators (here and in called files) are listed in
        `Workflow.unknown_operators` instead of refused (see compile_workflow)."""
        if not cache:
            return self._load(path, operators, lenient)
        names = "*" if operators is None else ",".join(sorted(operators))
        return cached(path, f"{self.directory}\0{names}\0{lenient}", lambda: self._load(path, operators, lenient))

    def _load(self, path: Path, operators: Collection[str] | None, lenient: bool) -> Workflow:
        from digpy.core.language.expression.syntax import check_expressions
        from digpy.core.workflow.schedule import parse_schedule
        from digpy.core.workflow.tree import compile_workflow

        config = load_file(path, display_root=self.directory)
        workflow = compile_workflow(path.stem, config, operators=operators, lenient=lenient)
        check_calls(self.directory, workflow, operators, (path.resolve(),), lenient=lenient)
        if workflow.schedule is not None:
            parse_schedule(workflow.schedule, workflow.timezone, workflow.schedule_location)
        errors, workflow.uses_javascript = check_expressions(config)
        workflow.expression_errors = [str(e) for e in errors]
        return workflow


def load_file(path: Path, *, display_root: Path) -> Any:
    """A workflow file read by the front end of its suffix (digpy.core.language.registry)."""
    return registry.load_file(path, display_root=display_root)


def _called_file(project_dir: Path, workdir: Path, path: str) -> Path:
    target = workdir / path
    if not registry.is_workflow_file(target):  # `call>: name` means name.dig
        target = target.with_name(target.name + registry.suffixes()[0])
    target = target.resolve()
    if not target.is_relative_to(project_dir.resolve()):
        raise ConfigError(f"call> '{path}' points outside the project directory")
    if not target.is_file():
        raise ConfigError(f"call> '{path}': workflow file {target.relative_to(project_dir.resolve())} not found")
    return target


def load_called_workflow(project_dir: Path, workdir: Path, path: str) -> CalledWorkflow:
    """A workflow file of the project as a task config for `call>` (see CalledWorkflow). Operators
    are not looked up: a task whose operator is unknown fails when it is reached, as in Digdag."""
    from digpy.core.workflow.located import to_plain, without_keys
    from digpy.core.workflow.tree import WORKFLOW_SETTINGS, compile_workflow

    root = project_dir.resolve()
    target = _called_file(root, workdir, path)
    config = load_file(target, display_root=root)
    compile_workflow(target.stem, config)
    plain = to_plain(without_keys(config, WORKFLOW_SETTINGS))
    relative_dir = target.parent.relative_to(root)
    if str(relative_dir) != ".":
        plain["_export"] = {**(plain.get("_export") or {}), "_workdir": str(relative_dir)}
    return CalledWorkflow(target.stem, str(target.relative_to(root)), plain)


def check_calls(project_dir: Path, workflow: Workflow, operators: Collection[str] | None = None,
                chain: tuple[Path, ...] = (), workdir: Path | None = None, *, lenient: bool = False) -> None:
    """Every task of an operator that calls a workflow file (`call>`: its `calls_workflow` trait in
    `operators`) with a literal target names a file that exists, loads, and does not call back into
    a file of the chain that led to it. With `lenient`, the unknown operators of called files are
    added to the calling workflow's `unknown_operators`."""
    from digpy.core.workflow.tree import compile_workflow

    root = project_dir.resolve()
    calling = operators.calls_workflow if isinstance(operators, OperatorSet) else frozenset()
    for spec in workflow.tasks:
        target = spec.config.get("_command")
        if spec.config.get("_type") not in calling or not isinstance(target, str) or "${" in target:
            continue
        own_dir = spec.config.get("_workdir")
        base = root / own_dir if isinstance(own_dir, str) else (workdir or root)
        try:
            path = _called_file(root, base, target)
            if path in chain:
                names = " → ".join(str(p.relative_to(root)) for p in (*chain, path))
                raise ConfigError(f"call> makes a cycle: {names}")
            called = compile_workflow(path.stem, load_file(path, display_root=root), operators=operators,
                                      lenient=lenient)
        except ConfigError as e:
            if e.location is None:
                raise ConfigError(e.message, location=spec.location, hint=e.hint) from None
            raise
        check_calls(root, called, operators, (*chain, path), path.parent, lenient=lenient)
        seen = {str(u) for u in workflow.unknown_operators}
        workflow.unknown_operators.extend(u for u in called.unknown_operators if str(u) not in seen)
