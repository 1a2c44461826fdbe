"""The compiled-workflow cache: loading a workflow file whose text, and the text of every file it
includes or calls, is unchanged since the last load skips parsing and compiling it.

A 1,000-task file takes ~35 ms to parse and compile plus ~15 ms to import the YAML parser, and
~4 ms to read back from the cache (docs/performance.md). Entries live in
`$XDG_CACHE_HOME/digpy/compiled/` (default `~/.cache/digpy/compiled/`), one per workflow file,
project and operator set. An entry holds the SHA-256 of every file the load read and is used only
if each of them still hashes the same and it was written by the same digpy code (the size and
time of the modules that load and compile). Entries are pickles, so only files owned by the user
and writable by nobody else are read. A missing, unreadable or foreign entry is ignored; errors
are never cached. `DIGPY_NO_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from digpy.core.language.registry import recording_reads
from digpy.core.paths import cache_dir, replace_private

T = TypeVar("T")
_MAX_ENTRY_BYTES = 64 << 20


def cached(path: Path, context: str, load: Callable[[], T]) -> T:
    """`load()`, or what it returned the last time for the same file texts and `context`."""
    if os.environ.get("DIGPY_NO_CACHE"):
        return load()
    key = hashlib.sha256(f"{_code_stamp()}\0{path.resolve()}\0{context}".encode("utf-8", "surrogateescape"))
    entry = cache_dir() / "compiled" / f"{key.hexdigest()}.pickle"
    found = _read(entry)
    if found is not None:
        return found  # type: ignore[return-value]  # what load() returned for this file and context
    with recording_reads() as reads:
        value = load()
    _write(entry, [(str(p), _digest(text)) for p, text in reads], value)
    return value


def _read(entry: Path) -> object | None:
    try:
        with open(entry, "rb") as f:
            # Unpickling runs code: only a file of our own that nobody else may write.
            info = os.fstat(f.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                return None
            files, value = pickle.load(f)
        for name, digest in files:
            if _digest(Path(name).read_text(encoding="utf-8")) != digest:
                return None
        found: object = value
        return found
    except Exception:  # missing, changed, truncated or written by other code: load again
        return None


def _write(entry: Path, files: list[tuple[str, str]], value: object) -> None:
    try:
        data = pickle.dumps((files, value), protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > _MAX_ENTRY_BYTES:
            return
        replace_private(entry, data)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):  # a read-only home: no cache
        pass


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@functools.cache
def _code_stamp() -> str:
    """Changes whenever the code that loads and compiles workflows changes (also in a checkout):
    the size and time of every module of digpy.core.language and digpy.core.workflow, and of
    digpy.core.project (os.scandir: Path objects for ~25 files cost ~1 % of a local run's start-up)."""
    from digpy import __version__

    core = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [__version__, sys.version]
    pending = [os.path.join(core, "language"), os.path.join(core, "workflow")]
    found: list[str] = []
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and entry.name != "__pycache__":
                pending.append(entry.path)
            elif entry.name.endswith(".py"):
                found.append(entry.path)
    found.append(os.path.join(core, "project.py"))
    for module in sorted(found):
        try:
            stat = os.stat(module)
            parts.append(f"{module[len(core):]}:{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append(f"{module[len(core):]}:-")
    return "|".join(parts)
