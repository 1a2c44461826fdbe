"""Property-based fuzzing (hypothesis) of the loader, the compiler and the expression renderer:
whatever they are given, only a one-line ConfigError (located, for files) may escape.

Bounded and deterministic: a fixed number of examples, derandomized (the same inputs on every run,
in CI and here), no example database, no deadline (a loaded CI machine is slow, not wrong).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digpy.core.engine.expressions import IsolatedTemplateEngine
from digpy.core.errors import ConfigError
from digpy.core.language.dig.loader import load_text
from digpy.core.language.expression import TemplateEngine, TemplateError
from digpy.core.workflow.tree import compile_workflow

FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
OPERATORS = {"echo", "sh", "fail", "loop", "for_each", "if", "call", "py"}

# Pieces of YAML that reach the loader's corners: indentation, flow collections, anchors and
# aliases, tags, quotes, documents, merge keys, control characters.
YAML_PIECES = st.sampled_from([
    "\n", "  ", "\t", ": ", "- ", "[", "]", "{", "}", ", ", "&a ", "*a", "&b ", "*b", "!include ", "!!str ",
    "!!python/object:x ", "!foo ", "!!map ", "!!seq ", "<<: ", "---\n", "...\n", "'", '"', "#", "? ",
    "+t", "echo>", "_retry", "_export", "_error", "_parallel", "${x}", ".inf", ".nan", "1e400", "null",
    "true", "0x1F", "2026-01-01", "\x01", "\x7f", "é", "\ud800", "|", ">", "%YAML 1.2\n",
])
yaml_text = st.lists(YAML_PIECES, max_size=40).map("".join) | st.text(max_size=200)


def _one_line(error: ConfigError) -> None:
    assert "\n" not in str(error), str(error)


@FUZZ
@given(yaml_text)
def test_the_loader_gives_a_mapping_or_a_located_error(text):
    try:
        data = load_text(text, "wf.dig")
    except ConfigError as e:
        _one_line(e)
        assert e.location is not None and e.location.file == "wf.dig", str(e)
        return
    assert isinstance(data, dict)


KEYS = st.sampled_from(["+a", "+b", "+c", "echo>", "sh>", "fail>", "loop>", "_do", "_retry", "_export",
                        "_error", "_check", "_parallel", "_background", "_type", "timezone", "schedule",
                        "if>", "_else_do", "for_each>", "call>", "zzz>", "_disable", "sla", "queue",
                        "max_active_attempts", "limit", "interval", "interval_type", "daily>", "cron>"])
SCALARS = (st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=True)
           | st.sampled_from(["hi", "${x}", "${1 +}", "exponential", "07:00:00", "UTC", "Asia/Tokyo", "Mars/X",
                              "* * * * *", "61 * * * *", "+a", "true", "1"]))
configs = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                       max_leaves=30)


@FUZZ
@given(st.dictionaries(KEYS, configs, max_size=6))
def test_the_compiler_gives_a_workflow_or_a_located_error(config):
    text = json.dumps(config, allow_nan=True).replace("NaN", ".nan").replace("-Infinity", "-.inf") \
        .replace("Infinity", ".inf")  # JSON is YAML flow style; YAML spells the special floats so
    try:
        compile_workflow("wf", load_text(text, "wf.dig"), operators=OPERATORS, lenient=False)
    except ConfigError as e:
        _one_line(e)


JS = st.sampled_from([
    "1", "+", "-", "*", "/", "(", ")", "[", "]", "{", "}", ",", ".", "'a'", '"b"', "x", "y.z", "moment()",
    ".format('YYYY')", ".tz('Asia/Tokyo')", ".add(1, 'd')", "session_time", "null", "undefined", "Infinity",
    "NaN", "function", "return", ";", "=", "==", "?", ":", "new Date()", "JSON.stringify", "Promise.resolve()",
    ".then", "throw", "/a+/", ".test", "'\\u0000'", "'\\ud800'", "{}", "[]", "typeof", "this", "x.y.z",
])
templates = st.lists(JS, min_size=1, max_size=12).map(lambda parts: "${" + " ".join(parts) + "}") | st.text(max_size=40)


@pytest.fixture(scope="module")
def isolated():
    engine = IsolatedTemplateEngine(time_limit=0.5)
    yield engine
    engine.close()


@FUZZ
@given(templates, st.sampled_from(["UTC", "Asia/Tokyo", "+09:00", "Nowhere/Zone"]))
def test_the_renderer_gives_a_string_or_a_template_error(isolated, template, zone):
    params = {"v": template, "x": 2, "y": {"z": "w"}, "session_time": "2026-12-07T00:00:00+00:00"}
    try:
        out = isolated.render_params(params, zone)
    except TemplateError as e:
        _one_line(e)
        return
    assert isinstance(out["v"], str)


CHECKER = TemplateEngine()


@FUZZ
@given(templates)
def test_checking_the_syntax_never_raises(template):
    for text, reason in CHECKER.syntax_errors(template):
        assert "\n" not in reason and text
