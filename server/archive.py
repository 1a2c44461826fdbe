"""Project archives (tar.gz): read them safely, and unpack them for the executor.

Refused, with nothing written: paths that are absolute or climb out with `..`, links (hard or
symbolic) that point outside the archive, device files, FIFOs, names too long for a file system,
damaged archives, and archives whose compressed or unpacked size is over the limit. Members are
read into memory first and checked as a whole.

A push unpacks into a temporary directory named after the server's process id
(`digpy-push-PID-...`); a server that starts removes those of processes that are gone.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from digpy.core.errors import DigpyError

DEFAULT_MAX_ARCHIVE_BYTES = 32 * 1024 * 1024
MAX_FILES = 20_000
MAX_NAME_BYTES = 255  # one path component (NAME_MAX of Linux, macOS and Windows file systems)
MAX_PATH_BYTES = 1024  # a whole path in the archive, well under PATH_MAX below the data directory
_TEMPORARY = re.compile(r"digpy-(?:push|workflow)-(\d+)-")


class ArchiveError(DigpyError):
    """A pushed archive that can't be accepted (HTTP 400)."""

    status = 400


@dataclass(frozen=True)
class ArchiveFile:
    path: str  # relative, normalized, "/"-separated
    data: bytes | None  # None for a directory
    mode: int
    link: str | None = None  # target of a symbolic link, relative to the archive root


def read_archive(blob: bytes, *, max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES) -> list[ArchiveFile]:
    """Every member of a tar.gz, checked; raises ArchiveError on anything unsafe or too big."""
    if len(blob) > max_bytes:
        raise ArchiveError(f"archive is {len(blob)} bytes; the limit is {max_bytes}")
    try:
        raw = _gunzip(blob, max_bytes)
        tar = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
    except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
        raise ArchiveError(f"the body is not a tar.gz archive ({e})") from None
    try:
        with tar:
            return _members(tar, max_bytes)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as e:  # a damaged member (a truncated header)
        raise ArchiveError(f"the archive is damaged ({e})") from None


def _members(tar: tarfile.TarFile, max_bytes: int) -> list[ArchiveFile]:
    files: list[ArchiveFile] = []
    total = 0
    for member in tar:
        if len(files) >= MAX_FILES:
            raise ArchiveError(f"archive has more than {MAX_FILES} files")
        path = _safe_path(member.name)
        if path is None:
            continue  # "." itself
        if member.isdir():
            files.append(ArchiveFile(path, None, member.mode & 0o777))
        elif member.isfile():
            total += member.size
            if total > max_bytes:
                raise ArchiveError(f"archive unpacks to more than {max_bytes} bytes")
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
            files.append(ArchiveFile(path, data, member.mode & 0o777))
        elif member.issym() or member.islnk():
            files.append(ArchiveFile(path, None, 0o644, link=_link_target(member, path)))
        else:
            raise ArchiveError(f"{member.name} is a device file or a FIFO; only files and directories are allowed")
    _check_kinds(files)
    return files


def _check_kinds(files: list[ArchiveFile]) -> None:
    """No path may be both a file (or link) and a directory, which could not be unpacked."""
    is_dir: dict[str, bool] = {}
    for f in files:
        parts = f.path.split("/")
        for path, directory in [*(("/".join(parts[:i]), True) for i in range(1, len(parts))),
                                (f.path, f.data is None and f.link is None)]:
            if is_dir.setdefault(path, directory) != directory:
                raise ArchiveError(f"{path} is both a file and a directory in the archive")


def _link_target(member: tarfile.TarInfo, path: str) -> str:
    """Where a link points, relative to the archive root; links may not leave the archive."""
    name = member.linkname
    if name.startswith("/"):
        raise ArchiveError(f"link {member.name} -> {name} points outside the archive")
    joined = posixpath.join(posixpath.dirname(path), name) if member.issym() else name
    try:
        target = _safe_path(joined)
    except ArchiveError:
        target = None
    if target is None:
        raise ArchiveError(f"link {member.name} -> {name} points outside the archive")
    return target


def _gunzip(blob: bytes, max_bytes: int) -> bytes:
    out = bytearray()
    with gzip.GzipFile(fileobj=io.BytesIO(blob)) as f:
        while chunk := f.read(1024 * 1024):
            out += chunk
            if len(out) > max_bytes + 1024 * 1024:  # tar headers add a little
                raise ArchiveError(f"archive unpacks to more than {max_bytes} bytes")
    return bytes(out)


def _safe_path(name: str) -> str | None:
    """The normalized relative path, None for the root; raises for absolute or escaping paths."""
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise ArchiveError(f"path {name!r} in the archive is absolute or not portable")
    normalized = posixpath.normpath(name)
    if normalized == ".":
        return None
    if normalized.startswith("../") or normalized == "..":
        raise ArchiveError(f"path {name!r} in the archive points outside it")
    encoded = normalized.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        shown = normalized if len(normalized) <= 60 else normalized[:57] + "..."
        raise ArchiveError(f"path {shown!r} in the archive is too long (at most {MAX_NAME_BYTES} bytes a name, "
                           f"{MAX_PATH_BYTES} a path)")
    return normalized


def unpack(files: list[ArchiveFile], target: Path) -> bool:
    """Write checked members to the new directory `target`, all or nothing: they go to a temporary
    directory beside it, renamed to `target` once complete, so a crash never leaves a partial
    `target`. False (and nothing written) if `target` exists: another process made it first."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.unpacking")
    temporary.mkdir(parents=True)
    try:
        for f in sorted(files, key=lambda f: f.link is not None):  # links after what they point to
            destination = temporary / f.path
            if f.data is None and f.link is None:
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if f.link is not None:
                source = temporary / f.link
                if source.is_file() and not destination.is_dir():
                    shutil.copyfile(source, destination)
                continue
            destination.write_bytes(f.data or b"")
            destination.chmod(0o755 if f.mode & 0o111 else 0o644)
        if target.exists():
            shutil.rmtree(temporary)
            return False
        try:
            temporary.rename(target)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            shutil.rmtree(temporary)
            return False
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return True


@contextlib.contextmanager
def push_directory(kind: str = "push") -> Iterator[Path]:
    """A temporary directory for unpacking an archive, removed after; its name holds this
    process's id, so that a server that starts after a crash can tell it is left over."""
    with tempfile.TemporaryDirectory(prefix=f"digpy-{kind}-{os.getpid()}-") as tmp:
        yield Path(tmp)


def remove_left_over_directories(parent: Path | None = None) -> list[Path]:
    """Remove the temporary directories of pushes whose process is gone (a server killed
    mid-push); returns what was removed."""
    removed = []
    for path in Path(parent or tempfile.gettempdir()).glob("digpy-*-*-*"):
        match = _TEMPORARY.match(path.name)
        if match is None or not path.is_dir() or _alive(int(match[1])):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
