"""What the server benchmarks (and docs/screenshots/take.py) share: a JSON call to a real server's
REST API and a project archive to push. Standard library only."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import time
import urllib.request


def call(endpoint: str, method: str, path: str, body: bytes | None = None,
         content_type: str = "application/json", timeout: float = 600) -> object:
    """`method path` on the server at `endpoint`; the answer's JSON."""
    request = urllib.request.Request(endpoint + path, data=body, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def archive(files: dict[str, str]) -> bytes:
    """A project archive (tar.gz) of {path: text}, as `digpy push` sends it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_answering(endpoint: str, timeout: float = 30) -> None:
    """Wait until the server at `endpoint` answers GET /api/version; SystemExit after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call(endpoint, "GET", "/api/version", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the server at {endpoint} did not answer within {timeout:g} s") from None
            time.sleep(0.05)
