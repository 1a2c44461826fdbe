"""What evaluating `${...}` in a child process costs (digpy.core.engine.expressions).

    .venv/bin/python bench/expression_isolation.py

Rows: one task's params (three values: a plain reference, an arithmetic expression, a moment()
call) evaluated by the in-process TemplateEngine and by the IsolatedTemplateEngine the runner
uses; a task with plain references only (never leaves the process); the start of a child. Figures
are µs per task, the median of several timed batches.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from digpy.core.engine.expressions import IsolatedTemplateEngine, _Child
from digpy.core.language.expression import TemplateEngine

PARAMS = {"table": "sales", "n": 7, "session_time": "2026-12-07T00:00:00+00:00",
          "a": "${table}", "b": "${n * 2 + 1}", "c": "${moment(session_time).add(1, 'd').format('YYYY-MM-DD')}"}
PLAIN = {"table": "sales", "x": {"y": "z"}, "a": "${table}", "b": "load ${x.y} into ${table}"}


def per_call(fn: Callable[[], object], batch_seconds: float = 0.3, repeats: int = 7) -> float:
    fn()
    results = []
    for _ in range(repeats):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < batch_seconds:
            fn()
            count += 1
        results.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(results)


def main() -> None:
    inline, isolated = TemplateEngine(), IsolatedTemplateEngine()
    rows = [
        ("params with JavaScript, in process", per_call(lambda: inline.render_params(PARAMS, "UTC"))),
        ("params with JavaScript, isolated", per_call(lambda: isolated.render_params(PARAMS, "UTC"))),
        ("plain references only, isolated", per_call(lambda: isolated.render_params(PLAIN, "UTC"))),
        ("start of a child", per_call(lambda: _Child(64 << 20, 1.0).kill(), batch_seconds=1, repeats=3)),
    ]
    isolated.close()
    for name, micros in rows:
        print(f"{name:40} {micros:10.1f} µs")


if __name__ == "__main__":
    main()
