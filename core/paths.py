"""Where digpy keeps its per-user files, and how it writes them."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/digpy` (default `~/.cache/digpy`): things digpy can always make again."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "digpy"


def replace_private(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (a temporary file renamed over it), readable by the user
    alone, in a directory only the user may enter when digpy creates it. Raises OSError."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(partial, path)

