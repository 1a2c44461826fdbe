"""`${...}` templates evaluated as JavaScript, the way Digdag evaluates them, in a QuickJS sandbox.

A string holding a template is cut into literal text and `${...}` expressions exactly as Digdag's
template function does (see docs/expressions.md): `$$` in literal text becomes `$`, `${word:...}`
is left for operators, and an unclosed `${` leaves the rest of the string as it is. Each
expression runs as `with (params) { return (EXPR); }` in a QuickJS context that gets data only:
the parameters, the current time, and UTC-offset tables of the time zones it uses. No host
function is callable from JavaScript (the binding also refuses callbacks under a time limit).
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from digpy.core.errors import ConfigError

__all__ = ["NeedsSandbox", "TemplateEngine", "TemplateError", "has_template"]

_NOT_EVALUATED = frozenset({"_do", "_else_do"})
_SCALARS = frozenset({int, float, bool, type(None)})
# ASCII-only JSON: the binding hands strings to QuickJS through UTF-8 without checking the
# conversion, so a lone surrogate in a Python string would crash the process.
_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str)
_STRIPPED = frozenset({"_check", "_error"})

# Where an expression may start: "${" not followed by "word:" (such as ${secret:...}) and with
# at least one character after it. The same rule as Digdag's template function.
_OPEN = re.compile(r"\$\{(?![a-z]+:)(?=[\s\S])")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
_FIXED_ZONE = re.compile(r"(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d\d))?")
_QUICKJS_REFERENCE_ERROR = re.compile(r"ReferenceError: '(.*)' is not defined")
_MAX_PENDING_JOBS = 1000
_MAX_ZONE_LOADS = 64

# Zone names written as string literals in an expression are loaded before it runs.
_ZONE_LITERAL = re.compile(r"""["']((?:[A-Za-z][A-Za-z0-9_+\-]*/[A-Za-z0-9_+\-/]+)|[+-]\d\d:?\d\d)["']""")
# Zone tables cover 1800-2200 (the offset of 1800 holds before): offsets are sampled weekly and
# each change is bisected to the second (checked against daily sampling for every zone of the tz
# database: identical). Offsets are whole minutes, cut toward zero, as moment shows them.
_TABLE_START = -5_364_662_400  # 1800-01-01T00:00:00Z
_TABLE_END = 7_258_118_400  # 2200-01-01T00:00:00Z
_TABLE_STEP = 7 * 86_400


class TemplateError(ConfigError):
    """A `${...}` expression could not be evaluated; the message names the expression."""


class NeedsSandbox(Exception):
    """Raised by an inline-only evaluation (`try_render_params`) when an expression needs JavaScript."""


class _Expr(NamedTuple):
    code: str
    text: str  # the `${...}` as written, for error messages


_Segment = str | _Expr


def has_template(value: Any) -> bool:
    """Whether any string in `value` (walking dicts and lists) contains `$`."""
    kind = type(value)
    if kind is str:
        return "$" in value
    if kind in _SCALARS:
        return False
    if isinstance(value, str):
        return "$" in value
    if isinstance(value, dict):
        return any(has_template(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_template(v) for v in value)
    return False


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[_Segment, ...]:
    """Cut a string into literal text and expressions with Digdag's rules."""
    segments: list[_Segment] = []
    literal: list[str] = []
    pos = 0
    while pos < len(text):
        match = _OPEN.search(text, pos)
        if match is None:
            break
        literal.append(text[pos : match.start()].replace("$$", "$"))
        start = match.end()
        depth = 0
        end = -1
        for i in range(start, len(text)):
            char = text[i]
            if char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    end = i
                    break
                depth -= 1
        if end < 0:  # never closed: the rest is text
            pos = match.start()
            break
        if end > start:
            if literal:
                segments.append("".join(literal))
                literal = []
            segments.append(_Expr(text[start:end], text[match.start() : end + 1]))
        pos = end + 1
    literal.append(text[pos:].replace("$$", "$"))
    tail = "".join(literal)
    if tail or not segments:
        segments.append(tail)
    return tuple(segments)


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo | None:
    """The tzinfo for a zone name (IANA name, UTC, or a fixed offset such as +09:00), or None."""
    if name in ("UTC", "Z", "GMT", "UT"):
        return UTC
    fixed = _FIXED_ZONE.fullmatch(name)
    if fixed:
        hours, minutes = int(fixed[2]), int(fixed[3] or 0)
        if hours > 18 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        return timezone(-offset if fixed[1] == "-" else offset)
    if len(name) > 64 or not _ZONE_NAME.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, OSError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return None


@functools.lru_cache(maxsize=128)
def _zone_table(name: str) -> str:
    """A zone's UTC offsets as JSON `[[start_ms, ...], [minutes, ...]]` for moment; "null" if unknown.

    `minutes[0]` holds before `start_ms[0]`, `minutes[i + 1]` from `start_ms[i]` on. This data is
    all the sandbox gets from the host about time zones.
    """
    tz = _zone(name)
    if tz is None:
        return "null"

    def offset(ts: int) -> int:
        delta = datetime.fromtimestamp(ts, tz).utcoffset()
        return math.trunc(delta.total_seconds() / 60.0) if delta is not None else 0

    starts: list[int] = []
    offsets: list[int] = [offset(_TABLE_START)]
    if not isinstance(tz, timezone):
        prev_t, prev_o = _TABLE_START, offsets[0]
        t = _TABLE_START + _TABLE_STEP
        while True:
            t = min(t, _TABLE_END)
            o = offset(t)
            if o != prev_o:  # a change in (prev_t, t]: find its second, then look again from there
                lo, hi = prev_t, t
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    lo, hi = (mid, hi) if offset(mid) == prev_o else (lo, mid)
                prev_t, prev_o = hi, offset(hi)
                starts.append(hi * 1000)
                offsets.append(prev_o)
                continue
            if t == _TABLE_END:
                break
            prev_t, prev_o = t, o
            t += _TABLE_STEP
    return json.dumps([starts, offsets], separators=(",", ":"))


@functools.cache
def _source(name: str) -> str:
    """A JavaScript file shipped beside this module: moment.js, or sandbox.js (the glue that
    freezes the globals, holds the scope and evaluates expressions)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


quickjs: Any = None  # the QuickJS binding, imported with the first sandbox (17 ms of start-up otherwise)


def _load_quickjs() -> None:
    global quickjs
    if quickjs is None:
        import quickjs as binding

        quickjs = binding


class _Sandbox:
    """One QuickJS context with moment loaded; used only by the thread that created it."""

    def __init__(self, memory_limit: int, time_limit: float) -> None:
        _load_quickjs()
        context = quickjs.Context()
        context.set_memory_limit(memory_limit)
        context.set_time_limit(time_limit)
        factory = context.eval(_source("moment.js"))
        self.api = context.eval(_source("sandbox.js"))(factory)
        self.context = context
        self.zones: set[str] = {"UTC"}

    def load_zone(self, name: str) -> None:
        """Give the sandbox the offset table of a zone (or mark it unknown)."""
        if name not in self.zones:
            self.api(4, name, _zone_table(name))
            self.zones.add(name)

    def drain_jobs(self) -> bool:
        """Run queued promise jobs (their results are unused); False if the sandbox should go."""
        for _ in range(_MAX_PENDING_JOBS):
            try:
                if not self.context.execute_pending_job():
                    return True
            except quickjs.JSException as exc:
                if isinstance(exc, quickjs.StackOverflow) or _first_line(exc).startswith("InternalError:"):
                    return False
        return False


_REFERENCE = re.compile(r"\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*")
_SAFE_INTEGER = 2**53
# Words that cannot start an expression in sloppy-mode JavaScript (`this`, `null`, `true` and
# `false` can: they are values).
_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else enum export extends finally for "
    "function if import in instanceof new return super switch throw try typeof var void while with".split())


def _plain_reference(code: str) -> bool:
    """`name` or `a.b.c`: an expression that always compiles (no need to ask JavaScript)."""
    match = _REFERENCE.fullmatch(code)
    return match is not None and match.group(1).split(".", 1)[0] not in _RESERVED


def _simple_reference(code: str, scope: Mapping[str, Any]) -> str | None:
    """`${name}` or `${a.b.c}` whose value JavaScript would print exactly like this: the result
    without starting the sandbox (most templates are such references). None: ask JavaScript."""
    match = _REFERENCE.fullmatch(code)
    if match is None:
        return None
    value: Any = scope
    for part in match.group(1).split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and -_SAFE_INTEGER < value < _SAFE_INTEGER:
        return str(value)
    return None


class _Run:
    """One evaluation: a scope passed into JS at most once, then updated key by key."""

    def __init__(self, engine: TemplateEngine, scope: Mapping[str, Any], zone: str, *, inline: bool = False) -> None:
        self.engine = engine
        self.scope = scope
        self.zone = zone
        self.inline = inline  # NeedsSandbox instead of starting JavaScript
        self.sandbox: _Sandbox | None = None

    def start(self) -> _Sandbox:
        if self.sandbox is not None:
            return self.sandbox
        if self.inline:
            raise NeedsSandbox
        if _zone(self.zone) is None:
            raise TemplateError(f"Unknown timezone '{self.zone}'")
        try:
            scope_json = _JSON.encode(self.scope if isinstance(self.scope, dict) else dict(self.scope))
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"Parameters cannot be passed to ${{...}} expressions: {exc}") from exc
        sandbox = self.engine._sandbox()
        try:
            sandbox.load_zone(self.zone)
            # Numbers go in as floats: the binding cuts Python ints to 32 bits.
            now_ms = float(math.floor(self.engine._clock() * 1000.0))
            sandbox.api(0, scope_json, self.zone, now_ms)
        except quickjs.JSException as exc:
            self.engine._discard()
            raise TemplateError(
                f"Parameters cannot be passed to ${{...}} expressions ({_first_line(exc)})"
            ) from None
        self.sandbox = sandbox
        return sandbox

    def update(self, key: str, value: Any) -> None:
        if self.sandbox is None:
            return
        try:
            if not _passable(key):
                raise TemplateError(f"Parameter name {key!r} is not valid Unicode")
            if isinstance(value, str) and value.isascii() and "\x00" not in value:
                self.sandbox.api(2, key, value)  # the common case, without JSON
            else:
                self.sandbox.api(3, key, _JSON.encode(value))
        except (quickjs.JSException, TypeError, ValueError) as exc:
            self.engine._discard()
            raise TemplateError(
                f"Parameter '{key}' cannot be passed to ${{...}} expressions ({exc})"
            ) from None

    def render(self, text: str) -> str:
        segments = _parse(text)
        if len(segments) == 1 and isinstance(segments[0], str):
            return segments[0]
        out: list[str] = []
        for segment in segments:
            out.append(segment if isinstance(segment, str) else self.evaluate(segment))
        return "".join(out)

    def evaluate(self, expr: _Expr) -> str:
        simple = _simple_reference(expr.code, self.scope)
        if simple is not None:
            return simple
        if not _passable(expr.code):
            raise TemplateError(
                f"Failed to evaluate a variable {expr.text} (it contains a NUL character or a lone surrogate)"
            )
        sandbox = self.start()
        if self.engine.on_expression is not None:
            self.engine.on_expression(expr.text)
        zones = _ZONE_LITERAL.findall(expr.code)
        for _ in range(_MAX_ZONE_LOADS):
            try:
                for name in zones:
                    sandbox.load_zone(name)
                result = sandbox.api(1, expr.code)
                missing = None if result is not None else str(sandbox.api(5))
            except UnicodeDecodeError:  # a lone surrogate in the value
                raise TemplateError(
                    f"Failed to evaluate a variable {expr.text} (the value is not valid Unicode)"
                ) from None
            except quickjs.JSException as exc:
                failure, broken = self.engine._failure(expr, exc)
                if broken or not sandbox.drain_jobs():
                    self.engine._discard()
                raise failure from None
            if not sandbox.drain_jobs():
                self.engine._discard()
            if missing is None:
                return result if isinstance(result, str) else str(result)
            # The zone name was computed: load its table and evaluate the expression again.
            if missing in sandbox.zones:
                raise TemplateError(
                    f"Failed to evaluate a variable {expr.text} (time zone '{missing}' cannot be loaded)"
                )
            zones = [missing]
        raise TemplateError(f"Failed to evaluate a variable {expr.text} (it asks for too many time zones)")

    def walk(self, value: Any) -> Any:
        """`value` with every template evaluated; the same object where nothing changed."""
        if isinstance(value, str):
            if "$" not in value:
                return value
            rendered = self.render(value)
            return value if rendered == value else rendered
        if isinstance(value, dict):
            items = {k: v if k in _NOT_EVALUATED else self.walk(v) for k, v in value.items()}
            return value if all(items[k] is v for k, v in value.items()) else items
        if isinstance(value, list):
            elements = [self.walk(v) for v in value]
            return value if all(a is b for a, b in zip(elements, value, strict=True)) else elements
        return value


def _passable(text: str) -> bool:
    """Whether a string can be handed to the binding directly (it must encode to UTF-8)."""
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _first_line(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0].strip()


class TemplateEngine:
    """Evaluates `${...}` templates in task parameters; reuses one sandbox per thread."""

    def __init__(
        self,
        *,
        memory_limit: int = 64 * 1024 * 1024,
        time_limit: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.memory_limit = memory_limit
        self.time_limit = time_limit
        self._clock = clock
        self._local = threading.local()
        # Told the text of each expression just before JavaScript evaluates it (the isolated
        # evaluator's child process reports it, so that its parent can time each expression).
        self.on_expression: Callable[[str], None] | None = None

    def try_render_params(self, params: dict[str, Any], timezone: str,
                          data: Collection[str] = ()) -> dict[str, Any] | None:
        """`render_params` if no expression needs JavaScript (plain references such as `${a.b}`
        only), else None: then `render_params` is the call, and it may take up to the time limit."""
        try:
            return self._render_params(params, timezone, data, inline=True)
        except NeedsSandbox:
            return None

    def render_params(self, params: dict[str, Any], timezone: str, data: Collection[str] = ()) -> dict[str, Any]:
        """Evaluate every ${...} in the task's merged params (Digdag's order), return a new dict.

        Keys in `data` hold values that came from outside the workflow (stores, runtime exports,
        an error): they are seen by expressions but never evaluated themselves.

        Keys are evaluated in order and each sees the evaluated values of the keys before it;
        `_do`/`_else_do` are left as they are, `_check`/`_error` are dropped. Values without a
        template are returned as they are (the same objects), templated strings become strings.
        """
        return self._render_params(params, timezone, data)

    def _render_params(self, params: dict[str, Any], timezone: str, data: Collection[str], *,
                       inline: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in params.items() if k not in _STRIPPED}
        todo = [k for k, v in out.items() if k not in _NOT_EVALUATED and k not in data and has_template(v)]
        if not todo:
            return out
        run = _Run(self, out, timezone, inline=inline)
        last = todo[-1]
        for key in todo:
            old = out[key]
            new = run.walk(old)
            out[key] = new
            if new is not old and key != last:
                run.update(key, new)
        return out

    def render(self, template: str, scope: Mapping[str, Any], timezone: str) -> str:
        """Evaluate one template string against scope."""
        if "$" not in template:
            return template
        return _Run(self, scope, timezone).render(template)

    def try_render(self, template: str, scope: Mapping[str, Any], timezone: str) -> str | None:
        """`render` if no expression of `template` needs JavaScript, else None."""
        if "$" not in template:
            return template
        try:
            return _Run(self, scope, timezone, inline=True).render(template)
        except NeedsSandbox:
            return None

    def _sandbox(self) -> _Sandbox:
        sandbox: _Sandbox | None = getattr(self._local, "sandbox", None)
        if sandbox is None:
            _load_quickjs()
            try:
                sandbox = _Sandbox(self.memory_limit, self.time_limit)
            except quickjs.JSException as exc:
                raise TemplateError(f"The ${{...}} sandbox could not start ({_first_line(exc)})") from None
            self._local.sandbox = sandbox
        return sandbox

    def _discard(self) -> None:
        """Drop this thread's sandbox; the next evaluation starts a fresh one."""
        self._local.sandbox = None

    def syntax_errors(self, text: str) -> list[tuple[str, str]]:
        """(the `${...}` as written, why) for each expression of `text` that does not compile.

        Nothing of an expression runs: it is only parsed, which takes time in proportion to its
        length (no loop of the expression can hang it), under the sandbox's memory limit.
        """
        found: list[tuple[str, str]] = []
        for segment in _parse(text) if "$" in text else ():
            if isinstance(segment, str) or _plain_reference(segment.code):
                continue
            if not _passable(segment.code):
                found.append((segment.text, "it contains a NUL character or a lone surrogate"))
                continue
            sandbox = self._sandbox()
            try:
                sandbox.api(6, segment.code)
            except quickjs.JSException as exc:
                reason, broken = self._reason(exc)
                if broken:
                    self._discard()
                found.append((segment.text, reason))
        return found

    def _failure(self, expr: _Expr, exc: quickjs.JSException) -> tuple[TemplateError, bool]:
        """The error for a failed expression, and whether the sandbox hit a limit (then it goes)."""
        reason, broken = self._reason(exc)
        return TemplateError(f"Failed to evaluate a variable {expr.text} ({reason})"), broken

    def _reason(self, exc: quickjs.JSException) -> tuple[str, bool]:
        """Why JavaScript failed, for a user, and whether the sandbox hit a limit."""
        reason = _first_line(exc)
        broken = True
        if isinstance(exc, quickjs.StackOverflow) or reason == "InternalError: stack overflow":
            reason = "InternalError: stack overflow; the expression recurses too deeply"
        elif reason == "InternalError: interrupted":
            reason = f"the expression took longer than {self.time_limit:g} s and was stopped"
        elif reason == "InternalError: out of memory":
            reason = f"the expression needed more than {self.memory_limit / 1048576:g} MiB of memory and was stopped"
        else:
            broken = False
            match = _QUICKJS_REFERENCE_ERROR.fullmatch(reason)
            if match:  # QuickJS quotes the name; Digdag's engines do not
                reason = f"ReferenceError: {match[1]} is not defined"
        return reason, broken
