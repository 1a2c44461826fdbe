"""The front ends: which file suffixes hold workflows, and the module that reads each.

A front end reads a workflow file into the engine's workflow config (digpy.core.workflow.tree
compiles it): a mapping of `+task` keys, operators and directives that remembers where each key
was written (digpy.core.workflow.located). Its module is imported the first time a file of its
suffix is read. A new workflow language is one entry here and one module with
`load_file(path, *, display_root) -> mapping` that reports each file it reads (`record_read`, for
the compiled-workflow cache); nothing else in the engine changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from digpy.core.errors import ConfigError

# suffix -> the module that reads it (the first suffix is what a workflow name without one means)
FRONT_ENDS: dict[str, str] = {
    ".dig": "digpy.core.language.dig.loader",
    ".yaml": "digpy.core.language.dagu.loader",
    ".yml": "digpy.core.language.dagu.loader",
}


_reads: list[list[tuple[Path, str]]] = []


@contextmanager
def recording_reads() -> Iterator[list[tuple[Path, str]]]:
    """Collect (path, text) of every file read inside the block (what a cached result depends on)."""
    files: list[tuple[Path, str]] = []
    _reads.append(files)
    try:
        yield files
    finally:
        _reads.remove(files)


def record_read(path: Path, text: str) -> None:
    """A front end read `text` from `path` (its own file or one it includes)."""
    for files in _reads:
        files.append((path, text))


def suffixes() -> tuple[str, ...]:
    return tuple(FRONT_ENDS)


def is_workflow_file(path: Path) -> bool:
    return path.suffix in FRONT_ENDS


def holds_workflow(path: Path) -> bool:
    """Whether a project's file is one of its workflows: its suffix is a front end's, and that front
    end, if it can tell (`looks_like_workflow(path)`: a `.yaml` file may be any YAML), says so."""
    module = FRONT_ENDS.get(path.suffix)
    if module is None:
        return False
    looks = getattr(importlib.import_module(module), "looks_like_workflow", None)
    return looks is None or bool(looks(path))


def load_file(path: Path, *, display_root: Path) -> Mapping[str, Any]:
    """The workflow config of a file, read by the front end of its suffix."""
    module = FRONT_ENDS.get(path.suffix)
    if module is None:
        raise ConfigError(f"{path.name} is not a workflow file",
                          hint="workflow files end in " + ", ".join(FRONT_ENDS))
    loaded: Mapping[str, Any] = importlib.import_module(module).load_file(path, display_root=display_root)
    return loaded
