"""`_precondition` and `_continue_on` read (digpy.core.workflow.control) and checked at compile time."""

from __future__ import annotations

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.dig.loader import load_text
from digpy.core.workflow.control import (
    Condition,
    ContinueOn,
    parse_continue_on,
    parse_preconditions,
    text_matches,
)
from digpy.core.workflow.tree import compile_workflow


def test_preconditions_in_their_three_forms():
    assert parse_preconditions(["test -f x", {"condition": "${d}", "expected": "re:0[1-5]"},
                                {"command": "date +%d", "expected": 5}]) == [
        Condition(command="test -f x"), Condition(value="${d}", expected="re:0[1-5]"),
        Condition(command="date +%d", expected="5")]


def test_a_regex_is_found_in_a_line_and_a_text_equals_a_line():
    assert text_matches("2026-03-05", r"re:\d{4}-\d{2}-0[1-5]")
    assert text_matches("x2026-03-05", r"re:\d{4}-\d{2}-0[1-5]")
    assert not text_matches("x2026-03-05", r"re:^\d{4}-\d{2}-0[1-5]$")
    assert text_matches("Linux", "Linux") and not text_matches("Linux ", "Linux")
    assert text_matches("l1\nl2\r\n", "re:^l2$") and text_matches("l1\nl2", "l1")
    assert not text_matches("l1\nl2", "re:l1.l2")
    assert text_matches("", "") and text_matches("", "re:^$") and not text_matches("", "x")


def test_continue_on_accepts_failures_by_flag_code_or_output_line():
    assert ContinueOn(failure=True).accepts(1, "")
    on_codes = parse_continue_on({"exit_code": [3, 4]})
    assert on_codes.accepts(3, "") and not on_codes.accepts(5, "") and not on_codes.accepts(None, "")
    on_output = parse_continue_on({"output": ["re:^WARN", "partial"]})
    assert on_output.accepts(1, "ok\nWARN disk\n") and on_output.accepts(None, "some partial result")
    assert not on_output.accepts(1, "a WARN\n") and not on_output.accepts(1, "parti\nal")


@pytest.mark.parametrize(("text", "message"), [
    ("+a:\n  sh>: x\n  _precondition: [{expected: x}]\n", "wf.dig:3:18: a _precondition item needs either"),
    ("+a:\n  sh>: x\n  _precondition: [{condition: x, expected: 're:('}]\n", "wf.dig:3:18: invalid regular expression"),
    ("+a:\n  sh>: x\n  _continue_on: {fail: true}\n", "wf.dig:3:17: _continue_on has an unknown key 'fail'"),
    ("+a:\n  sh>: x\n  _continue_on: {exit_code: [x]}\n", "wf.dig:3:17: _continue_on exit_code must be"),
    ("+g:\n  _continue_on: {skipped: true}\n  +a:\n    sh>: x\n",
     "wf.dig:2:17: +wf+g: the _continue_on of a group takes failure (and mark_success) only"),
    ("+a:\n  sh>: x\n  _stop_signal: SIGNOPE\n", "wf.dig:3:17: _stop_signal must be a signal such as SIGINT"),
    ("+a:\n  sh>: x\n  _repeat: {mode: sometimes}\n", "wf.dig:3:12: _repeat mode must be always, while or until"),
    ("+a:\n  sh>: x\n  _timeout: 0\n", "wf.dig:3:13: +wf+a: _timeout is a number of seconds"),
])
def test_bad_directives_are_located_load_errors(text, message):
    with pytest.raises(ConfigError) as e:
        compile_workflow("wf", load_text(text, "wf.dig"))
    assert str(e.value).startswith(message), str(e.value)
