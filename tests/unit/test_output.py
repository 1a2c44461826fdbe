"""The terminal view's status block: every line fits in one row of the terminal."""

from __future__ import annotations

import io
import re
import unicodedata
from types import SimpleNamespace

from digpy.client.cli.output import LiveOutput, _fit


def _columns(text: str) -> int:
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 0 if unicodedata.combining(c) else 1
               for c in text)


def test_fit_counts_wide_characters_twice():
    assert _fit("abcdef", 4) == "abcd"
    assert _fit("日本語のワークフロー", 5) == "日本"
    assert _fit("e\u0301e\u0301e\u0301", 2) == "e\u0301e\u0301"  # a combining accent takes no column
    assert _fit("short", 80) == "short"


def test_the_status_block_fits_a_narrow_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    screen = io.StringIO()
    view = LiveOutput(screen)
    for i, name in enumerate(["+日本語のワークフロー+とても長いタスクの名前", "+" + "x" * 80, "+short"]):
        view.task_started(SimpleNamespace(id=i, full_name=name), "sh>: true")
    view._redraw()
    block = screen.getvalue().splitlines()
    assert len(block) == 4 and all(_columns(line) <= 30 for line in block), block
