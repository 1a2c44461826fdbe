"""`parallel:` items split from a text as Dagu 1.30 splits them, the same when the file is loaded
(Python) and when the step runs (the JavaScript the fan-out over a variable evaluates)."""

from __future__ import annotations

import json

import pytest

from digpy.core.language.dagu.items import SPLIT_ITEMS_JS, split_items
from digpy.core.language.expression import TemplateEngine

CASES = [
    ('["a", "b", 1, {"x": 2}, null, "a"]', ["a", "b", "1", '{"x":2}', "null"]),
    ('{"file": "p.txt", "n": 1}', ['{"file": "p.txt", "n": 1}']),
    ('{"a": 1}\n{"a": 2}', ['{"a": 1}', '{"a": 2}']),  # one JSON object per line
    ("one\ntwo words\r\n\n three ", ["one", "two words", "three"]),
    ('"item one" "item two" three', ["item one", "item two", "three"]),
    ("a b,c d", ["a b", "c d"]),  # one separator: the comma, not every one
    ("a;b;c,d", ["a", "b", "c,d"]),  # the most frequent
    ("x\ty z", ["x", "y z"]),
    ("s1 s2  s3 s1", ["s1", "s2", "s3"]),
    ("   ", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_python_and_javascript_split_alike(text, expected):
    assert split_items(text) == expected
    rendered = TemplateEngine().render("${" + SPLIT_ITEMS_JS + "(V)}", {"V": text}, "UTC")
    assert json.loads(rendered) == expected


def test_a_tie_goes_to_the_first_of_tab_pipe_semicolon_comma():
    assert split_items("a|b;c") == ["a", "b;c"]
    rendered = TemplateEngine().render("${" + SPLIT_ITEMS_JS + "(V)}", {"V": "a|b;c"}, "UTC")
    assert json.loads(rendered) == ["a", "b;c"]
