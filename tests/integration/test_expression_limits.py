"""The 1 s / 64 MiB limits of `${...}` hold whatever the expression does: JavaScript runs in a child
process (digpy.core.engine.expressions) that is killed when QuickJS cannot stop it itself."""

from __future__ import annotations

import time

import pytest

from digpy.core.engine.expressions import GRACE_SECONDS, IsolatedTemplateEngine
from digpy.core.language.expression import TemplateError

BOUND = 1.0 + GRACE_SECONDS + 3.0  # the limit, the grace, and room for a loaded machine

ZONES = ["Asia/Tokyo", "Europe/Paris", "America/New_York", "Africa/Cairo", "Asia/Kolkata", "Europe/London",
         "Australia/Sydney", "America/Chicago", "Asia/Dubai", "Europe/Berlin", "America/Lima", "Asia/Seoul"]
HOSTILE = {
    "backtracking regex": "${/^(a+)+$/.test('a'.repeat(40) + 'b')}",
    "queued promise jobs": "${(function () { function f() { var x = 0; for (var i = 0; i < 3e6; i++) { x += i }"
                           " Promise.resolve().then(f) } Promise.resolve().then(f); return 1 })()}",
    # each zone name is computed, so the expression is evaluated again for each; each time it spins 0.9 s
    "computed time-zone names": "${(function () { var z = " + str(ZONES).replace("'", '"') + ", r = '';"
                                " var t = Date.now(); while (Date.now() - t < 900) {}"
                                " for (var i = 0; i < z.length; i++) { r += moment().tz(z[i].split('').join('')).format('Z') }"
                                " return r })()}",
}


@pytest.fixture(scope="module")
def engine():
    engine = IsolatedTemplateEngine()
    yield engine
    engine.close()


@pytest.mark.parametrize("expression", list(HOSTILE.values()), ids=list(HOSTILE))
def test_an_expression_is_stopped_at_the_time_limit(engine, expression):
    started = time.monotonic()
    with pytest.raises(TemplateError) as e:
        engine.render_params({"v": expression, "n": 1}, "UTC")
    elapsed = time.monotonic() - started
    assert str(e.value) == f"Failed to evaluate a variable {expression} (the expression took longer than 1 s and was stopped)"
    assert elapsed < BOUND, f"{elapsed:.1f} s"
    assert engine.render_params({"v": "${1 + n}", "n": 1}, "UTC") == {"v": "2", "n": 1}, "the next one works"


def test_memory_is_limited(engine):
    with pytest.raises(TemplateError, match="more than 64 MiB of memory"):
        engine.render("${(function(){ var a = []; while (true) { a.push('x'.repeat(65536) + a.length) } })()}", {},
                      "UTC")


def test_results_and_errors_are_those_of_the_engine_in_process(engine):
    params = {"a": "${1 + 1}", "b": "${a}x", "c": {"d": ["${b + '!'}"]}, "e": 5, "_do": {"echo>": "${a}"},
              "_error": {"echo>": "x"}, "f": "${moment('2026-01-01T00:00:00Z').tz('Asia/Tokyo').format()}"}
    assert engine.render_params(params, "UTC") == {
        "a": "2", "b": "2x", "c": {"d": ["2x!"]}, "e": 5, "_do": {"echo>": "${a}"},
        "f": "2026-01-01T09:00:00+09:00"}
    with pytest.raises(TemplateError, match=r"^Failed to evaluate a variable \$\{nope\} \(ReferenceError: nope is not defined\)$"):
        engine.render_params({"a": "${nope}"}, "UTC")
    assert engine.render("${x * 2} and ${y}", {"x": 21, "y": "plain"}, "UTC") == "42 and plain"


def test_plain_references_need_no_child(engine):
    assert engine.try_render_params({"a": "${x.y}", "x": {"y": "v"}}, "UTC") == {"a": "v", "x": {"y": "v"}}
    assert engine.try_render_params({"a": "${1 + 1}"}, "UTC") is None
