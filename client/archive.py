"""Packing a project directory as the tar.gz that `digpy push` uploads (stdlib only)."""

from __future__ import annotations

import fnmatch
import io
import tarfile
from pathlib import Path

IGNORE_FILES = (".digpyignore", ".digdagignore")


def ignore_patterns(directory: Path) -> list[str]:
    patterns: list[str] = []
    for name in IGNORE_FILES:
        path = directory / name
        if path.is_file():
            patterns += [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                         if line.strip() and not line.strip().startswith("#")]
    return patterns


def pack(directory: Path) -> tuple[bytes, list[str]]:
    """The project as tar.gz bytes, and the files it holds. Hidden files and directories, and
    what the ignore files name, stay out; symbolic links are stored as the files they point to."""
    patterns = ignore_patterns(directory)
    buffer = io.BytesIO()
    names: list[str] = []
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if any(part.startswith(".") for part in relative.parts) or "__pycache__" in relative.parts:
                continue
            if any(fnmatch.fnmatch(str(relative), p) or fnmatch.fnmatch(path.name, p) for p in patterns):
                continue
            if path.is_file():
                info = tar.gettarinfo(str(path), arcname=str(relative))
                if info.issym() or info.islnk():
                    info = tar.gettarinfo(fileobj=open(path, "rb"), arcname=str(relative))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as f:
                    tar.addfile(info, f)
                names.append(str(relative))
    return buffer.getvalue(), names
