"""Micro-benchmark of JavaScript engines for `${...}` evaluation, and of digpy's TemplateEngine.

Run from the project venv (quickjs and digpy rows):

    .venv/bin/python bench/expression_engines.py

The other engines are measured from a throwaway venv, never a project dependency:

    python3 -m venv /tmp/jsb && /tmp/jsb/bin/pip install quickjs mini-racer dukpy
    /tmp/jsb/bin/python bench/expression_engines.py

Engines that cannot be imported are skipped with a message. Every engine runs the same JS glue
(JSON params in, `with (params) { return (EXPR) }`, compiled functions cached) in one reused
context, with digpy's moment.js subset loaded. Figures are µs per evaluation, the median of
several timed batches.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

MOMENT_JS = (Path(__file__).resolve().parent.parent / "core" / "language" / "moment.js").read_text(
    encoding="utf-8"
)
REPEATS = 7
BATCH_SECONDS = 0.15

# ES5 glue shared by every engine (Duktape has no Map, so caches are plain objects).
GLUE = """
var __zoneTables = {}, __zone = "UTC", __now = 0, __cache = {}, __scope = {};
var __moment = null;
try {
  __moment = (__MOMENT_JS__)({
    offset: function (zone, ms) {
      if (zone === "UTC") return 0;
      var t = __zoneTables[zone]; if (!t) return NaN;
      var s = t[0], lo = 0, hi = s.length;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (s[mid] <= ms) lo = mid + 1; else hi = mid; }
      return t[1][lo];
    },
    zone: function () { return __zone; },
    now: function () { return __now; }
  });
} catch (e) { __moment = null; }
function __setup(zone, table) { __zone = zone; __zoneTables[zone] = JSON.parse(table); return __moment !== null; }
function __ev(paramsJson, code) {
  if (paramsJson !== null) __scope = JSON.parse(paramsJson);
  var fn = __cache[code];
  if (!fn) { fn = __cache[code] = new Function("moment", "with (this) { return (" + code + "\\n); }"); }
  var v = fn.call(__scope, __moment);
  return v == null ? "" : typeof v === "string" ? v : JSON.stringify(v);
}
""".replace("__MOMENT_JS__", MOMENT_JS.strip())


def zone_table(name: str, start_year: int = 2000, end_year: int = 2040) -> str:
    """UTC-offset table of a zone for the glue (daily samples, bisected to the second)."""
    tz = ZoneInfo(name)

    def off(ts: int) -> int:
        delta = datetime.fromtimestamp(ts, tz).utcoffset()
        return int(delta.total_seconds() // 60) if delta else 0

    t = int(datetime(start_year, 1, 1).timestamp())
    end = int(datetime(end_year, 1, 1).timestamp())
    starts: list[int] = []
    offsets = [off(t)]
    while t < end:
        nxt = t + 86_400
        if off(nxt) != offsets[-1]:
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if off(mid) == offsets[-1] else (lo, mid)
            starts.append(hi * 1000)
            offsets.append(off(hi))
        t = nxt
    return json.dumps([starts, offsets])


LA_TABLE = zone_table("America/Los_Angeles")
SMALL = {"a": 1, "b": "x", "timezone": "UTC"}
BIG = {f"k{i:02d}": (f"value-{i}" if i % 3 else {"n": i, "tags": ["a", "b"]}) for i in range(50)}
SESSION = {"session_time": "2016-01-30T00:00:00-08:00", "timezone": "America/Los_Angeles"}
MOMENT_EXPR = "moment(session_time).add(1,'days').format('YYYYMMDD')"
CASES: list[tuple[str, dict[str, Any] | None, str, str]] = [
    ("trivial `a + 1`, 3-key params passed in", SMALL, "a + 1", "2"),
    ("50-key params passed in, `k01 + k02`", BIG, "k01 + k02", "value-1value-2"),
    ("50-key params already in the context", None, "k01 + k02", "value-1value-2"),
    ("moment add/format, params passed in", SESSION, MOMENT_EXPR, "20160131"),
]


def measure(fn: Callable[[], object]) -> float:
    """Median µs per call of `fn` over REPEATS batches of about BATCH_SECONDS each."""
    fn()
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < BATCH_SECONDS / 5:
        fn()
        n += 1
    per_batch = max(10, int(n * 5))
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter_ns()
        for _ in range(per_batch):
            fn()
        samples.append((time.perf_counter_ns() - t0) / per_batch / 1000)
    return statistics.median(samples)


class Engine:
    name = ""
    ok_moment = True

    def evaluate(self, params_json: str | None, code: str) -> str:
        raise NotImplementedError


class QuickJS(Engine):
    def __init__(self) -> None:
        import quickjs

        self.name = f"quickjs {_version('quickjs')} (QuickJS, reused context)"
        self.ctx = quickjs.Context()
        self.ctx.set_memory_limit(64 * 1024 * 1024)
        self.ctx.set_time_limit(1.0)
        self.ctx.eval(GLUE)
        self.ok_moment = bool(self.ctx.get("__setup")("America/Los_Angeles", LA_TABLE))
        self.fn = self.ctx.get("__ev")

    def evaluate(self, params_json: str | None, code: str) -> str:
        return str(self.fn(params_json, code))


class MiniRacer(Engine):
    def __init__(self) -> None:
        from py_mini_racer import MiniRacer as Racer

        self.name = f"mini-racer {_version('mini-racer')} (V8, reused context)"
        self.ctx = Racer()
        self.ctx.eval(GLUE)
        self.ok_moment = bool(self.ctx.eval("__setup")("America/Los_Angeles", LA_TABLE))

    def evaluate(self, params_json: str | None, code: str) -> str:
        # eval() of a call with literal arguments is mini-racer's quickest path here (calling a
        # JSFunction or ctx.call() measured slower).
        return str(self.ctx.eval(f"__ev({json.dumps(params_json)}, {json.dumps(code)})"))


class DukPy(Engine):
    def __init__(self) -> None:
        import dukpy

        self.name = f"dukpy {_version('dukpy')} (Duktape, reused interpreter)"
        self.interp = dukpy.JSInterpreter()
        self.interp.evaljs(GLUE + "\nnull;")
        self.ok_moment = bool(
            self.interp.evaljs("__setup(dukpy.z, dukpy.t)", z="America/Los_Angeles", t=LA_TABLE)
        )

    def evaluate(self, params_json: str | None, code: str) -> str:
        return str(self.interp.evaljs("__ev(dukpy.p, dukpy.c)", p=params_json, c=code))


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def engine_rows() -> list[str]:
    rows = []
    for cls in (QuickJS, MiniRacer, DukPy):
        try:
            started = time.perf_counter()
            engine = cls()
            setup_ms = (time.perf_counter() - started) * 1000
        except ImportError as exc:
            print(f"skipped {cls.__name__}: not importable here ({exc})", file=sys.stderr)
            continue
        cells = []
        for _label, params, code, expected in CASES:
            if code == MOMENT_EXPR and not engine.ok_moment:
                cells.append("n/a (moment.js needs ES2015)")
                continue
            params_json = json.dumps(params) if params is not None else None
            if params_json is None:
                engine.evaluate(json.dumps(BIG), "1")  # leave BIG in the context
            result = engine.evaluate(params_json, code)
            assert result == expected, (engine.name, code, result)
            cells.append(f"{measure(lambda e=engine, p=params_json, c=code: e.evaluate(p, c)):.1f}")
        rows.append(f"| {engine.name} | {setup_ms:.0f} ms | " + " | ".join(cells) + " |")
    return rows


def digpy_rows() -> list[str]:
    try:
        from digpy.core.language.expression import TemplateEngine
    except ImportError as exc:
        print(f"skipped digpy TemplateEngine rows: not importable here ({exc})", file=sys.stderr)
        return []
    engine = TemplateEngine(clock=lambda: 1454140800.0)
    base: dict[str, Any] = {
        "timezone": "America/Los_Angeles",
        "session_time": "2016-01-30T00:00:00-08:00",
        "session_date": "2016-01-30",
        "session_date_compact": "20160130",
        "session_local_time": "2016-01-30 00:00:00",
        "session_tz_offset": "-0800",
        "session_unixtime": 1454140800,
        "session_uuid": "2b2e8a1c-3a4b-4c5d-8e9f-0a1b2c3d4e5f",
        "session_id": 1,
        "attempt_id": 1,
        "project_id": 1,
        "task_name": "+wf+load",
        "retry_attempt_name": None,
        "table": "events",
        "database": "analytics",
        "options": {"retries": 3, "mode": "append"},
        "columns": ["id", "name", "created_at"],
        "_retry": 2,
        "dry_run": False,
    }
    typical = {**base, "sh>": "load.sh --date ${session_date}"}
    with_moment = {**base, "sh>": "load.sh --date ${moment(session_time).add(1,'days').format('YYYYMMDD')}"}
    chained = {
        **{k: v for k, v in base.items() if k not in ("table", "database", "dry_run", "columns")},
        "table": "events_${session_date_compact}",
        "database": "${project_id}_db",
        "columns": ["${table}.id", "${table}.name"],
        "dry_run": "${session_id > 1}",
        "sh>": "load.sh ${database}.${table}",
    }
    no_template = {**base, "sh>": "load.sh --all"}
    cases = [
        ("20 params, no template (no JS at all)", no_template),
        ("20 params, one `${session_date}`", typical),
        ("20 params, one moment add/format", with_moment),
        ("20 params, 6 templates referring to earlier keys", chained),
    ]
    rows = []
    for label, params in cases:
        assert len(params) == 20, (label, len(params))
        engine.render_params(params, "America/Los_Angeles")
        micros = measure(lambda p=params: engine.render_params(p, "America/Los_Angeles"))
        rows.append(f"| {label} | {micros:.1f} |")
    micros = measure(lambda: engine.render("${a + 1}", SMALL, "UTC"))
    rows.append(f"| `render('${{a + 1}}')`, 3-key scope | {micros:.1f} |")
    from digpy.core.language.expression import template as expression

    sandbox_us = median_once(lambda: expression._Sandbox(64 * 1024 * 1024, 1.0))
    rows.append(f"| one-time: a new sandbox (context, moment.js, freezing) | {sandbox_us:.0f} |")
    table_us = median_once(lambda: expression._zone_table.__wrapped__("America/Los_Angeles"))
    rows.append(
        f"| one-time: the America/Los_Angeles offset table (first use in a process) | {table_us:.0f} |"
    )
    return rows


def median_once(fn: Callable[[], object], runs: int = 5) -> float:
    """Median µs of single calls, for costs paid once."""
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return statistics.median(samples)


def main() -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    print(f"Python {platform.python_version()} on {platform.system()}, {os.cpu_count()} CPUs ({cpu})")
    print(f"µs per evaluation, median of {REPEATS} batches\n")
    rows = engine_rows()
    if rows:
        print(
            "| engine | first setup (import, context, moment.js) | " + " | ".join(c[0] for c in CASES) + " |"
        )
        print("|---|---|" + "---|" * len(CASES))
        print("\n".join(rows))
    rows = digpy_rows()
    if rows:
        print("\n| digpy `TemplateEngine.render_params` (QuickJS) | µs per call |")
        print("|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
