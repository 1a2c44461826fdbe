"""The load-time syntax check of `${...}`: every expression that cannot compile, located, and
nothing of any expression run."""

from __future__ import annotations

import time

from digpy.core.language.dig.loader import load_text
from digpy.core.language.expression import TemplateEngine
from digpy.core.language.expression.syntax import check_expressions


def messages(text: str) -> list[str]:
    return [str(e) for e in check_expressions(load_text(text, "wf.dig"))[0]]


def test_each_expression_that_does_not_compile_is_located():
    text = ("_export:\n  a: ${1 +}\n+t:\n  echo>: ok ${x} then ${foo(}\n  list:\n    - fine\n    - ${y y}\n"
            "  _error:\n    echo>: ${new}\n")
    assert messages(text) == [
        "wf.dig:2:6: ${1 +} is not a valid expression (SyntaxError: unexpected token in expression: ')')",
        "wf.dig:4:10: ${foo(} is not a valid expression (SyntaxError: expecting ')')",
        "wf.dig:7:7: ${y y} is not a valid expression (SyntaxError: expecting ')')",
        "wf.dig:9:12: ${new} is not a valid expression (SyntaxError: unexpected token in expression: ')')",
    ]


def test_what_is_not_an_expression_is_not_checked():
    text = ("timezone: UTC\nschedule:\n  daily>: 07:00:00\n+t:\n  sh>: echo ${secret:key} $${HOME} ${unclosed\n"
            "  _env: {A: '${a.b.c}', B: '${moment(session_time).format(\"YYYY\")}', C: '${`t${x}`}'}\n")
    assert messages(text) == []


def test_nothing_runs_and_nothing_hangs():
    engine = TemplateEngine(time_limit=0.2)
    started = time.monotonic()
    assert engine.syntax_errors("${(function(){ while (true) {} })()}") == [], "compiled, never called"
    deep = "${" + "(" * 100_000 + "1" + ")" * 100_000 + "}"
    [(_text, reason)] = engine.syntax_errors(deep)
    assert reason.startswith("InternalError: stack overflow")
    assert engine.syntax_errors("${1 + 1}") == [], "the sandbox works after a limit was hit"
    assert time.monotonic() - started < 5


def test_plain_references_do_not_start_the_sandbox():
    engine = TemplateEngine()
    assert engine.syntax_errors("${session_date} ${a.b} ${ this }") == []
    assert getattr(engine._local, "sandbox", None) is None


def test_a_long_expression_is_shortened_in_the_message():
    [message] = messages("+t:\n  echo>: ${" + "a + " * 40 + "}\n")
    assert message.startswith("wf.dig:2:10: ${a + a + ") and "...} is not a valid expression" in message
    assert len(message) < 160


def test_a_file_says_whether_it_needs_javascript():
    """A local run starts the evaluator process early only for files that need it."""
    assert check_expressions(load_text('+a:\n  echo>: "${1 + 1}"\n', "wf.dig"))[1] is True
    assert check_expressions(load_text('+a:\n  echo>: "${session_date} ${a.b}"\n', "wf.dig"))[1] is False
    assert check_expressions(load_text('+a:\n  echo>: "no expressions"\n', "wf.dig"))[1] is False
