"""`${...}` evaluated in child processes that are killed at the time limit.

QuickJS stops an ordinary loop at the time limit, but not everything: a regular expression that
backtracks, promise jobs and computed time-zone names ran for minutes. So JavaScript runs in a
child process (`python -m digpy.core.engine.expressions`) that tells its parent the text of each
expression before evaluating it; the parent allows each expression the time limit plus a grace,
then kills the child and reports the expression as stopped. Plain references (`${a.b}`, most
templates) never leave the process; a task whose values need JavaScript costs one round trip.

Protocol: one JSON object per line. Parent to child: `{"params": {...}, "data": [KEY...], "zone": Z,
"now": T}` or
`{"template": S, "scope": {...}, "zone": Z, "now": T}`. Child to parent: `{"expr": TEXT}` before
each expression it evaluates, then `{"result": VALUE}` (for params, the keys whose value changed)
or `{"error": MESSAGE}`. JSON both ways: the parent never unpickles what a child sends.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any

from digpy.core.language.expression.template import TemplateEngine, TemplateError

log = logging.getLogger("digpy.core.engine.expressions")
GRACE_SECONDS = 0.5  # beyond the time limit: QuickJS's own stop comes first where it can
START_SECONDS = 30.0  # a child's start (imports, moment.js) on a loaded machine
IDLE_KEPT = 4  # children kept for the next evaluation
MEMORY_CEILING = 1024 * 1024 * 1024  # address space of a child: the backstop behind QuickJS's limit
_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str)


class IsolatedTemplateEngine(TemplateEngine):
    """A TemplateEngine whose JavaScript runs in child processes; thread-safe, blocking (call it
    off the event loop: the runner does)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()

    def render_params(self, params: dict[str, Any], timezone: str, data: Collection[str] = ()) -> dict[str, Any]:
        out = self.try_render_params(params, timezone, data)
        if out is not None:
            return out
        out = {k: v for k, v in params.items() if k not in ("_check", "_error")}
        changed = self._ask({"params": out, "data": sorted(data), "zone": timezone, "now": self._clock()})
        out.update(changed)
        return out

    def render(self, template: str, scope: Mapping[str, Any], timezone: str) -> str:
        text = self.try_render(template, scope, timezone)
        if text is not None:
            return text
        result = self._ask({"template": template, "scope": dict(scope), "zone": timezone,
                            "now": self._clock()})
        return str(result)

    def close(self) -> None:
        """Stop the idle children (a child in use stops when its evaluation ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()

    def _ask(self, request: dict[str, Any]) -> Any:
        try:
            line = _JSON.encode(request)
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"Parameters cannot be passed to ${{...}} expressions: {exc}") from None
        for attempt in range(2):
            child = self._checkout()
            try:
                result = child.ask(line, self.time_limit)
            except TemplateError:
                if child.alive():  # an ordinary JavaScript error: the child goes on
                    self._checkin(child)
                raise
            except _Gone:  # died before it was asked (e.g. the thread that started it ended): once more
                child.kill()
                if attempt == 0:
                    continue
                raise TemplateError("the ${...} evaluator stopped before it was asked") from None
            except BaseException:
                child.kill()
                raise
            self._checkin(child)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _checkout(self) -> _Child:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child
                child.kill()
        return _Child(self.memory_limit, self.time_limit)

    def _checkin(self, child: _Child) -> None:
        with self._lock:
            if len(self._idle) < IDLE_KEPT:
                self._idle.append(child)
                return
        child.kill()


class _Gone(Exception):
    """The child was dead before it took the request."""


class _Child:
    """One evaluator process, used by one thread at a time."""

    def __init__(self, memory_limit: int, time_limit: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digpy.core.engine.expressions", str(memory_limit), repr(time_limit)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, start_new_session=True,
        )
        self.buffer = b""
        ready = self._read(time.monotonic() + START_SECONDS)
        if ready != {"ready": True}:
            self.kill()
            raise TemplateError(f"the ${{...}} evaluator could not start ({self._exit()})")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def ask(self, line: str, time_limit: float) -> Any:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line.encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Gone from None
        expr: str | None = None
        while True:
            message = self._read(time.monotonic() + time_limit + GRACE_SECONDS)
            if message is None:  # no word within the limit: the expression is stuck in C code
                self.kill()
                what = f"a variable {expr}" if expr else "a variable"
                raise TemplateError(
                    f"Failed to evaluate {what} (the expression took longer than {time_limit:g} s and was stopped)")
            if message is _EOF:
                if expr is None and not self.buffer:
                    raise _Gone
                self.kill()
                what = f"a variable {expr}" if expr else "a variable"
                raise TemplateError(f"Failed to evaluate {what} (the evaluator stopped: {self._exit()})")
            if "expr" in message:
                expr = message["expr"]
                continue
            if "error" in message:
                raise TemplateError(str(message["error"]))
            return message.get("result")

    def _read(self, deadline: float) -> Any:
        """The next message; None at the deadline; _EOF when the child is gone."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return _EOF
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def _exit(self) -> str:
        code = self.process.poll()
        if code is None:
            return "no answer"
        if code < 0:
            return f"killed by signal {-code}"
        return f"exit code {code}"


_EOF: Any = object()


# ----------------------------------------------------------------------------- the child


def die_with_parent() -> None:
    """Linux: the kernel kills this process when its parent dies (a stuck regex would otherwise
    outlive a server killed with SIGKILL)."""
    if sys.platform != "linux":  # pragma: no cover
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover
        return
    if os.getppid() == 1:  # the parent died before prctl
        os._exit(1)


def limit_memory(ceiling: int) -> None:
    """Cap this process's address space (a child's backstop behind finer limits)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    except (ImportError, ValueError, OSError):  # pragma: no cover
        pass


def main(argv: list[str]) -> None:
    die_with_parent()
    limit_memory(MEMORY_CEILING)
    memory_limit, time_limit = int(argv[0]), float(argv[1])
    now = [0.0]
    engine = TemplateEngine(memory_limit=memory_limit, time_limit=time_limit, clock=lambda: now[0])
    out = sys.stdout.buffer
    send = _sender(out)
    engine.on_expression = lambda text: send({"expr": text})
    engine.syntax_errors("${1+1}")  # the sandbox starts now, not under the first expression's limit
    send({"ready": True})
    for raw in sys.stdin.buffer:
        request = json.loads(raw)
        now[0] = float(request["now"])
        try:
            if "params" in request:
                params = request["params"]
                rendered = engine.render_params(params, request["zone"], frozenset(request.get("data", ())))
                result: Any = {k: v for k, v in rendered.items() if v is not params.get(k)}
            else:
                result = engine.render(request["template"], request["scope"], request["zone"])
            reply: dict[str, Any] = {"result": result}
        except TemplateError as exc:
            reply = {"error": str(exc)}
        except Exception as exc:  # a bug: the parent reports it as the expression's failure
            reply = {"error": f"the ${{...}} evaluator failed ({type(exc).__name__}: {exc})"}
        try:
            send(reply)
        except (TypeError, ValueError) as exc:
            send({"error": f"the result cannot be passed back ({exc})"})


def _sender(out: Any) -> Any:
    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=True, default=str)

    def send(message: dict[str, Any]) -> None:
        out.write(encoder.encode(message).encode("utf-8", "surrogatepass") + b"\n")
        out.flush()

    return send


if __name__ == "__main__":
    main(sys.argv[1:])
