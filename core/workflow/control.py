"""`_precondition` and `_continue_on`: when an operator task is skipped, and which failures let the
workflow go on (Dagu's `preconditions` and `continueOn`, available to `.dig` files too).

    _precondition:                     # every item must hold, or the task is skipped
      - {condition: "${day}", expected: "re:0[1-5]"}   # a value (after ${...}) against a text or re:regex
      - {command: "date +%d", expected: "re:0[1-5]"}   # a command's trimmed stdout against a text or re:regex
      - test -f ready.flag                             # a command: met when it exits with 0
      - {command: "test -f stop.flag", negate: true}   # negate: met when it does not hold
    _continue_on:
      failure: true        # any failure counts as success for the tasks after it
      skipped: true        # run although an upstream task was skipped
      if_skipped: true     # when this task is skipped, the tasks after it still run (Dagu's continueOn.skipped)
      exit_code: [3, 4]    # these exit codes count as success
      output: ["re:WARN", "partial"]   # so does a failure whose output has a line containing one
      mark_success: true   # a failure let pass is a plain success (not kept as the task's error)

    _outcome: {of: [+a, +b], as: STATUS}   # how those sibling tasks ended, as the param STATUS (below)
    _stop_signal: SIGINT   # what stops the task's command (kill, _timeout) before SIGKILL (Dagu's signalOnStop)
    _stop_grace: 30        # seconds from that signal to SIGKILL (default 5; Dagu's maxCleanUpTimeSec)
    _repeat:               # run the operator again after it ends (Dagu's repeatPolicy)
      mode: until          # always | while | until: again while / until the conditions hold
      condition: [...]     # as _precondition; or exit_code: [N, ...] (the run's exit code)
      interval: 10         # seconds between runs (times backoff each time, up to max_interval)
      limit: 5             # at most this many runs in all

`_outcome` gives the operator (in its params, so in a command's environment) how the sibling tasks
`of` ended, in Dagu's words: `failed` when some failed under `_continue_on` and none succeeded (a
skipped task does not count), `partially_succeeded` when some failed under `_continue_on` and some
succeeded, `succeeded` otherwise. `mark_success: true` makes a failure it lets pass a plain success.

A skipped task succeeds without running its operator and stores `_skipped: true`: the tasks after it
are skipped too, unless they have `_continue_on: {skipped: true}`; a task with `if_skipped: true`
stores `_skipped: "passed"` instead, which shows it skipped but lets the tasks after it run. Reading is pure; the runner
(digpy.core.engine.runner) evaluates.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from digpy.core.errors import ConfigError, Location

SKIPPED = "_skipped"  # the store param a skipped task leaves for the tasks after it
SKIP_PASSED = "passed"  # its value from a task skipped with `if_skipped`: the tasks after it run


def parse_stop_signal(value: Any, location: Location | None = None) -> int:
    """`_stop_signal`: a signal's name (`SIGINT`, `INT`) or number → its number."""
    import signal

    name = value.strip().upper() if isinstance(value, str) else None
    if name is not None and not name.startswith("SIG"):
        name = "SIG" + name
    number = getattr(signal, name, None) if name and name.isidentifier() and "_" not in name else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < signal.NSIG:
        number = value
    if not isinstance(number, int) or number == signal.SIGKILL:
        raise ConfigError(f"_stop_signal must be a signal such as SIGINT or SIGTERM, not {value!r}", location=location,
                          hint="SIGKILL comes anyway when the command is still running after 5 seconds (_stop_grace)")
    return int(number)


def parse_stop_grace(value: Any, location: Location | None = None) -> float:
    """`_stop_grace`: the seconds (> 0, at most a day) between the stop signal and SIGKILL."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
        raise ConfigError(f"_stop_grace must be a number of seconds (> 0, at most 86400), not {value!r}",
                          location=location, hint="the seconds a stopped command has before SIGKILL (default 5)")
    return float(value)


# NamedTuples, not dataclasses: they are defined at every start-up (see docs/performance.md).
class Condition(NamedTuple):
    """One precondition: `command` run by the shell, or `value` compared; `expected` a text or `re:`;
    `negate`: met when it does not hold."""

    value: str | None = None
    command: str | None = None
    expected: str | None = None
    negate: bool = False

    def matches(self, text: str) -> bool:
        """Whether `text` (a value, or a command's trimmed stdout) is what is expected."""
        return self.expected is None or text_matches(text, self.expected)


class ContinueOn(NamedTuple):
    failure: bool = False
    skipped: bool = False
    if_skipped: bool = False
    exit_codes: tuple[int, ...] = ()
    output: tuple[str, ...] = ()
    mark_success: bool = False

    def accepts(self, exit_code: int | None, output: str) -> bool:
        """Whether a failure with `exit_code` (None: not a command's) and `output` lets the workflow go on."""
        if self.failure:
            return True
        if exit_code is not None and exit_code in self.exit_codes:
            return True
        return any(text_matches(output, pattern, contains=True) for pattern in self.output)


NO_CONTINUE = ContinueOn()


class RepeatPolicy(NamedTuple):
    mode: str  # "always", "while" or "until"
    conditions: tuple[Condition, ...] = ()
    exit_codes: tuple[int, ...] = ()
    interval: float = 0.0
    backoff: float = 1.0
    max_interval: float | None = None
    limit: int | None = None

    def delay(self, done: int) -> float:
        """Seconds before run number `done + 1` (`done` runs so far)."""
        wait = self.interval * self.backoff ** max(0, done - 1)
        return wait if self.max_interval is None else min(wait, self.max_interval)


def text_matches(text: str, expected: str, *, contains: bool = False) -> bool:
    """Whether a line of `text` matches `expected` (Dagu's MatchPattern): `re:PATTERN` is found
    somewhere in the line (write `re:^...$` for the whole line); a plain text equals the line, or
    with `contains` is part of it. Lines end at `\n` (a `\r` before it is dropped); an empty text
    is one empty line."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    if expected.startswith("re:"):
        pattern = re.compile(expected[3:])
        return any(pattern.search(line.removesuffix("\r")) is not None for line in lines)
    if contains:
        return any(expected in line.removesuffix("\r") for line in lines)
    return any(line.removesuffix("\r") == expected for line in lines)


def parse_preconditions(value: Any, location: Location | None = None) -> list[Condition]:
    items = value if isinstance(value, list) else [value]
    out: list[Condition] = []
    for item in items:
        if isinstance(item, str) and item.strip():
            out.append(Condition(command=item))
            continue
        if isinstance(item, dict):
            unknown = [k for k in item if k not in ("condition", "command", "expected", "negate")]
            if unknown:
                raise ConfigError(f"_precondition has an unknown key '{unknown[0]}'", location=location,
                                  hint="write {condition: VALUE, expected: TEXT} or {command: CMD, expected: TEXT}")
            condition, command, expected = item.get("condition"), item.get("command"), item.get("expected")
            negate = item.get("negate", False)
            if not isinstance(negate, bool):
                raise ConfigError("_precondition negate must be true or false", location=location)
            if (condition is None) == (command is None):
                raise ConfigError("a _precondition item needs either condition or command", location=location)
            if expected is not None and not isinstance(expected, str | int | float):
                raise ConfigError("_precondition expected must be a text or re:PATTERN", location=location)
            if expected is not None and str(expected).startswith("re:"):
                _check_pattern(str(expected), location)
            if command is not None:
                if not isinstance(command, str) or not command.strip():
                    raise ConfigError("_precondition command must be a shell command", location=location)
                out.append(Condition(command=command, expected=None if expected is None else str(expected),
                                     negate=negate))
            else:
                if isinstance(condition, dict | list):
                    raise ConfigError("_precondition condition must be a value", location=location)
                out.append(Condition(value=_text(condition), expected=None if expected is None else str(expected),
                                     negate=negate))
            continue
        raise ConfigError("_precondition must be a command, a {condition, expected} mapping or a list of them",
                          location=location)
    return out


def parse_continue_on(value: Any, location: Location | None = None) -> ContinueOn:
    if value is None:
        return NO_CONTINUE
    if not isinstance(value, dict):
        raise ConfigError("_continue_on must be a mapping such as {failure: true}", location=location)
    keys = ("failure", "skipped", "if_skipped", "exit_code", "output", "mark_success")
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise ConfigError(f"_continue_on has an unknown key '{unknown[0]}'", location=location,
                          hint="allowed: " + ", ".join(keys))
    for key in ("failure", "skipped", "if_skipped", "mark_success"):
        if key in value and not isinstance(value[key], bool):
            raise ConfigError(f"_continue_on {key} must be true or false", location=location)
    codes = value.get("exit_code", [])
    codes = codes if isinstance(codes, list) else [codes]
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
        raise ConfigError("_continue_on exit_code must be an exit code or a list of them", location=location)
    output = value.get("output", [])
    output = output if isinstance(output, list) else [output]
    if not all(isinstance(o, str) for o in output):
        raise ConfigError("_continue_on output must be a text, re:PATTERN, or a list of them", location=location)
    for pattern in output:
        if pattern.startswith("re:"):
            _check_pattern(pattern, location)
    return ContinueOn(failure=value.get("failure", False), skipped=value.get("skipped", False),
                      if_skipped=value.get("if_skipped", False),
                      exit_codes=tuple(codes), output=tuple(output), mark_success=value.get("mark_success", False))


def parse_repeat(value: Any, location: Location | None = None) -> RepeatPolicy:
    if not isinstance(value, dict):
        raise ConfigError("_repeat must be a mapping such as {mode: until, condition: ..., interval: 10}",
                          location=location)
    keys = ("mode", "condition", "exit_code", "interval", "backoff", "max_interval", "limit")
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise ConfigError(f"_repeat has an unknown key '{unknown[0]}'", location=location, hint="allowed: " + ", ".join(keys))
    mode = value.get("mode", "always")
    if mode not in ("always", "while", "until"):
        raise ConfigError(f"_repeat mode must be always, while or until, not {mode!r}", location=location)
    conditions = tuple(parse_preconditions(value["condition"], location)) if value.get("condition") is not None else ()
    codes = value.get("exit_code", [])
    codes = codes if isinstance(codes, list) else [codes]
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
        raise ConfigError("_repeat exit_code must be an exit code or a list of them", location=location)
    if mode != "always" and not conditions and not codes:
        raise ConfigError(f"_repeat mode {mode} needs a condition or exit_code", location=location)
    numbers = {}
    for key, minimum in (("interval", 0), ("backoff", 1), ("max_interval", 0), ("limit", 1)):
        number = value.get(key)
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float) or number < minimum):
            raise ConfigError(f"_repeat {key} must be a number of at least {minimum}", location=location)
        numbers[key] = number
    if numbers["limit"] is not None and not isinstance(numbers["limit"], int):
        raise ConfigError("_repeat limit must be a whole number", location=location)
    return RepeatPolicy(mode=mode, conditions=conditions, exit_codes=tuple(codes),
                        interval=float(numbers["interval"] or 0), backoff=float(numbers["backoff"] or 1),
                        max_interval=None if numbers["max_interval"] is None else float(numbers["max_interval"]),
                        limit=numbers["limit"])


def parse_outcome(value: Any, location: Location | None = None) -> tuple[str, tuple[str, ...]]:
    """`_outcome: {of: [+task, ...], as: NAME}` → (NAME, the task names)."""
    if not isinstance(value, dict) or set(value) != {"of", "as"}:
        raise ConfigError("_outcome must be {of: [+task, ...], as: PARAM}", location=location)
    of, name = value["of"], value["as"]
    of = of if isinstance(of, list) else [of]
    if not of or not all(isinstance(t, str) and t.startswith("+") for t in of):
        raise ConfigError("_outcome of must name sibling tasks (+name)", location=location)
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError("_outcome as must be a param name such as STATUS", location=location)
    return name, tuple(of)


def _check_pattern(expected: str, location: Location | None) -> None:
    try:
        re.compile(expected[3:])
    except re.error as e:
        raise ConfigError(f"invalid regular expression {expected[3:]!r}: {e}", location=location) from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


__all__ = ["NO_CONTINUE", "SKIPPED", "SKIP_PASSED", "Condition", "ContinueOn", "RepeatPolicy", "parse_continue_on",
           "parse_outcome", "parse_preconditions", "parse_repeat", "parse_stop_grace", "parse_stop_signal",
           "text_matches"]
