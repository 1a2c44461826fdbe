"""Read a Dagu DAG file (`*.yaml`, `*.yml`) into the engine's workflow config.

The file's first DAG is the workflow (named after the file, unless it says `name:` — the name is
informational, the file stem stays the workflow's name, as for `.dig`); further DAGs after `---`
are local DAGs that its steps run by name (`run: NAME`), compiled inline. A `run:` naming another
DAG file of the project becomes `call>` of that file. A `.yaml` file without a top-level `steps:`
is not listed as a workflow of its project (`looks_like_workflow`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.child_output import workflow_outputs
from digpy.core.language.dagu.compiler import compile_dag
from digpy.core.language.dig.loader import load_documents
from digpy.core.workflow.located import ConfigMap, to_plain, value_location
from digpy.core.workflow.tree import WORKFLOW_SETTINGS

SUFFIXES = (".yaml", ".yml")


_STEPS_KEY = re.compile(r"^steps[ \t]*:", re.M)


def looks_like_workflow(path: Path) -> bool:
    """A `.yaml` file of a project is a DAG when it has a top-level `steps:` key (other YAML files, a
    `-P params.yml` or a compose file, are not workflows)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            head = f.read(1_000_000)
    except OSError:
        return False
    return _STEPS_KEY.search(head) is not None


def load_file(path: Path, *, display_root: Path | None = None, _loading: tuple[Path, ...] = ()) -> ConfigMap:
    root = display_root or path.parent
    documents = load_documents(path, display_root=root)
    display = _display(path, root)
    dags = [d for d in documents if d is not None]
    if not dags:
        return ConfigMap(Location(display, 1, 1))
    for dag in dags:
        if not isinstance(dag, dict):
            raise ConfigError("a DAG must be a mapping of keys to values",
                              location=getattr(dag, "loc", None) or Location(display, 1, 1))
    local: dict[str, ConfigMap] = {}
    for dag in dags[1:]:
        name = dag.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError("a DAG after --- needs a name (the steps of the file run it by name)",
                              location=getattr(dag, "loc", None))
        if name in local:
            raise ConfigError(f"two DAGs of this file are named '{name}'", location=value_location(dag, "name"))
        local[name] = dag
    compiled: dict[str, dict[str, Any]] = {}
    stack: list[str] = []

    def resolve(target: str, loc: Location | None) -> str | dict[str, Any]:
        if target in local:
            if target in stack:
                raise ConfigError("the DAGs of this file run each other in a cycle: "
                                  + " → ".join([*stack, target]), location=loc)
            if target not in compiled:
                stack.append(target)
                child = compile_dag(local[target], target, resolve)
                stack.pop()
                compiled[target] = {k: v for k, v in to_plain(child).items()
                                    if k not in WORKFLOW_SETTINGS}
            return compiled[target]
        return _child_file(path.parent, target, loc)

    def outputs_of(child: str | dict[str, Any]) -> list[str]:
        """The outputs a child DAG keeps (`output:` on a step that runs it)."""
        if isinstance(child, dict):
            return workflow_outputs(child)
        file = path.parent / child
        if file.resolve() in _loading:  # the DAG files run each other: the outputs of those before it
            return []
        if file.suffix in SUFFIXES:
            return workflow_outputs(load_file(file, display_root=root, _loading=(*_loading, path.resolve())))
        from digpy.core.language.dig.loader import load_file as load_dig

        return workflow_outputs(load_dig(file, display_root=root))

    return compile_dag(dags[0], path.stem, resolve, outputs_of)


def _child_file(directory: Path, target: str, loc: Location | None) -> str:
    """`run: name` → the DAG file of the project it names (name, name.yaml, name.yml or name.dig)."""
    candidates = [target] if Path(target).suffix in (*SUFFIXES, ".dig") else \
        [target + suffix for suffix in (*SUFFIXES, ".dig")]
    for candidate in candidates:
        if (directory / candidate).is_file():
            return candidate
    raise ConfigError(f"run: '{target}' is neither a DAG of this file nor a DAG file of the project", location=loc,
                      hint="name a DAG after --- in this file, or a file such as " + candidates[0])


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
