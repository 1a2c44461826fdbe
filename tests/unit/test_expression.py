"""`${...}` evaluation: Digdag's template rules, params order, the sandbox and the moment() subset."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.expression import TemplateEngine, TemplateError, has_template

SESSION_NOW = 1454140800.0  # 2016-01-30T08:00:00Z = 2016-01-30T00:00:00-08:00
LA = "America/Los_Angeles"


@pytest.fixture(scope="module")
def engine() -> TemplateEngine:
    return TemplateEngine(clock=lambda: SESSION_NOW)


@pytest.fixture
def limited() -> TemplateEngine:
    return TemplateEngine(memory_limit=16 * 1024 * 1024, time_limit=0.2, clock=lambda: SESSION_NOW)


def js(engine: TemplateEngine, expression: str, tz: str = "UTC", **scope: Any) -> str:
    return engine.render("${" + expression + "}", scope, tz)


def error_of(engine: TemplateEngine, template: str, **scope: Any) -> str:
    with pytest.raises(TemplateError) as info:
        engine.render(template, scope, "UTC")
    return info.value.message


# ---------------------------------------------------------------- results and their types


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1+1", "2"),
        ("1", "1"),
        ("0.2", "0.2"),
        ('"a"', "a"),
        ("[1]", "[1]"),
        (" {a:1} ", '{"a":1}'),
        ("true", "true"),
        ("null", ""),
        ("undefined", ""),
        ("'x' + 1", "x1"),
        ("[1, 'a', null]", '[1,"a",null]'),
    ],
)
def test_result_is_the_string_or_its_json(engine: TemplateEngine, expression: str, expected: str) -> None:
    assert js(engine, expression) == expected


def test_several_templates_and_text_around_them(engine: TemplateEngine) -> None:
    assert engine.render("p${1}m${2}s", {}, "UTC") == "p1m2s"
    assert engine.render("a=${a}, b=${b.c}!", {"a": 1, "b": {"c": "x"}}, "UTC") == "a=1, b=x!"


def test_nested_braces_inside_an_expression(engine: TemplateEngine) -> None:
    assert js(engine, "{a: {b: 1}}.a.b") == "1"
    assert js(engine, "v1.map(function(item){return item*5})", v1=[1, 2, 3]) == "[5,10,15]"
    assert js(engine, "[1,2].map(function(x){ return {v: x} })") == '[{"v":1},{"v":2}]'


def test_parameters_are_visible_as_variables_and_as_this(engine: TemplateEngine) -> None:
    assert js(engine, "nested.value", nested={"value": "v"}) == "v"
    assert js(engine, "this.a", a="x") == "x"
    assert js(engine, '"aaa".replaceAll("a", "A")') == "AAA"


def test_templated_values_become_strings_others_keep_their_type(engine: TemplateEngine) -> None:
    params = {
        "n": 1,
        "f": 1.5,
        "b": True,
        "none": None,
        "plain": "text",
        "count": "${n + 1}",
        "list": [1, "${n}", {"k": "${b}"}, False],
        "obj": {"x": 2, "y": "${f * 2}", "z": [True]},
    }
    out = engine.render_params(params, "UTC")
    assert out == {
        "n": 1,
        "f": 1.5,
        "b": True,
        "none": None,
        "plain": "text",
        "count": "2",
        "list": [1, "1", {"k": "true"}, False],
        "obj": {"x": 2, "y": "3", "z": [True]},
    }
    assert out is not params
    assert params["count"] == "${n + 1}"  # the input is not changed


def test_has_template() -> None:
    assert has_template("${a}")
    assert has_template("echo $HOME")
    assert has_template({"a": [1, {"b": "x$"}]})
    assert not has_template({"a": [1, {"b": "x"}], "c": True})
    assert not has_template(42)


# ---------------------------------------------------------------- Digdag's template syntax


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Digdag replaces every $$ in literal text with $, not only before {
        ("$", "$"),
        ("$$", "$"),
        ("p$$s", "p$s"),
        ("p${1}m$$m${2}s", "p1m$m2s"),
        ("$$$$", "$$"),
        ("$$$", "$$"),
        ("echo $$", "echo $"),
        # $${...} is not an escape: the expression still runs after a literal $
        ("$${1+1}", "$2"),
        ("$$${1+1}", "$2"),
        # a $ that is not $$ is left alone
        ("echo $HOME ${1}", "echo $HOME 1"),
        ("cost: 5$", "cost: 5$"),
        # unclosed ${ leaves the rest of the string as text ($$ still replaced)
        ("${", "${"),
        ("${v", "${v"),
        ("p${v", "p${v"),
        ("${a ${1}", "${a ${1}"),
        ("${1} ${v $$", "1 ${v $"),
        ("}", "}"),
        # an empty expression yields nothing
        ("a${}b", "ab"),
        # ${word:...} belongs to operators
        ("${secret:db.password}", "${secret:db.password}"),
        ("${secret:x} ${1+1}", "${secret:x} 2"),
        ("${http:foo}", "${http:foo}"),
    ],
)
def test_template_syntax_follows_digdag(engine: TemplateEngine, template: str, expected: str) -> None:
    assert engine.render(template, {}, "UTC") == expected


def test_strings_without_expressions_need_no_javascript() -> None:
    # A sandbox cannot even start with a 1-byte memory limit, so this proves no JS work is done.
    no_js = TemplateEngine(memory_limit=1)
    params = {"cmd": "echo $HOME", "pid": "echo $$", "secret": "${secret:x}", "n": 1, "nested": {"a": ["$x"]}}
    out = no_js.render_params(params, "UTC")
    assert out == {
        "cmd": "echo $HOME",
        "pid": "echo $",
        "secret": "${secret:x}",
        "n": 1,
        "nested": {"a": ["$x"]},
    }
    assert out["nested"] is params["nested"]
    with pytest.raises(TemplateError, match="sandbox could not start"):
        no_js.render_params({"a": "${1}"}, "UTC")


# ---------------------------------------------------------------- render_params order and keys


def test_later_keys_see_evaluated_earlier_keys(engine: TemplateEngine) -> None:
    params = {"timezone": "UTC", "a": "${timezone}", "b": "${a}", "c": "${a}${b}"}
    assert engine.render_params(params, "UTC") == {"timezone": "UTC", "a": "UTC", "b": "UTC", "c": "UTCUTC"}


def test_the_earlier_key_rule_uses_the_value_after_evaluation(engine: TemplateEngine) -> None:
    params = {"x": 1, "a": "${x + 1}", "b": "${typeof a}:${a}", "c": "${[a]}"}
    assert engine.render_params(params, "UTC") == {"x": 1, "a": "2", "b": "string:2", "c": '["2"]'}


def test_nested_values_use_the_top_level_scope(engine: TemplateEngine) -> None:
    params = {
        "timezone": "UTC",
        "session_time": "2016-03-13T10:00:00Z",
        "default_format": "${moment(session_time).add(1, 'days').format()}",
        "arg1": "${default_format}",
        "arg2": {"sub1": "${default_format}", "list": ["${arg1}", 3]},
        "after": "${arg2.sub1}",
    }
    out = engine.render_params(params, "UTC")
    assert out["default_format"] == "2016-03-14T10:00:00+00:00"
    assert out["arg1"] == out["default_format"]
    assert out["arg2"] == {"sub1": "2016-03-14T10:00:00+00:00", "list": ["2016-03-14T10:00:00+00:00", 3]}
    assert out["after"] == "2016-03-14T10:00:00+00:00"


def test_keys_not_yet_evaluated_are_seen_as_written(engine: TemplateEngine) -> None:
    out = engine.render_params({"a": "${b}", "b": "x", "c": "${d}", "d": "${1}"}, "UTC")
    assert out == {"a": "x", "b": "x", "c": "${1}", "d": "1"}


def test_key_order_is_kept(engine: TemplateEngine) -> None:
    params = {"z": "${1}", "a": 2, "m": "${3}"}
    assert list(engine.render_params(params, "UTC")) == ["z", "a", "m"]


def test_do_blocks_are_not_evaluated_and_check_error_are_removed(engine: TemplateEngine) -> None:
    params = {
        "loop>": "${n}",
        "n": 2,
        "_do": {"echo>": "${i}", "+t": {"sh>": "${undefined_here}"}},
        "_else_do": ["${nope}"],
        "_check": {"echo>": "${nope}"},
        "_error": {"echo>": "${nope}"},
        "http": {"_do": "${kept}", "x": "${n}"},
    }
    out = engine.render_params(params, "UTC")
    assert out == {
        "loop>": "2",
        "n": 2,
        "_do": {"echo>": "${i}", "+t": {"sh>": "${undefined_here}"}},
        "_else_do": ["${nope}"],
        "http": {"_do": "${kept}", "x": "2"},
    }
    assert out["_do"] is params["_do"]


def test_a_dict_without_templates_is_returned_without_check_and_error(engine: TemplateEngine) -> None:
    assert engine.render_params({"a": 1, "_check": {"x": 1}, "_error": {}}, "UTC") == {"a": 1}


# ---------------------------------------------------------------- errors


def test_undefined_variable_message(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError) as info:
        engine.render_params({"key": "${nope}"}, "UTC")
    assert info.value.message == "Failed to evaluate a variable ${nope} (ReferenceError: nope is not defined)"
    assert isinstance(info.value, ConfigError)


def test_the_message_names_the_failing_expression_as_written(engine: TemplateEngine) -> None:
    message = error_of(engine, "echo ${ok} ${ missing_one }", ok=1)
    assert (
        message
        == "Failed to evaluate a variable ${ missing_one } (ReferenceError: missing_one is not defined)"
    )


def test_syntax_error_names_the_expression(engine: TemplateEngine) -> None:
    message = error_of(engine, "x ${1+} y")
    assert message.startswith("Failed to evaluate a variable ${1+} (SyntaxError: ")


def test_missing_field_is_empty_and_access_through_it_a_type_error(engine: TemplateEngine) -> None:
    assert js(engine, "timezone.no_such_field", timezone="UTC") == ""
    message = error_of(engine, "${timezone.no_such_field.invalid_access}", timezone="UTC")
    assert "TypeError" in message and "invalid_access" in message


def test_unknown_workflow_timezone(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError, match="Unknown timezone 'Mars/Base'"):
        engine.render("${1}", {}, "Mars/Base")


# ---------------------------------------------------------------- the sandbox


STANDARD_GLOBALS = {
    "AggregateError", "Array", "ArrayBuffer", "Atomics", "BigInt", "BigInt64Array", "BigUint64Array",
    "Boolean", "DataView", "Date", "Error", "EvalError", "Float32Array", "Float64Array", "Function",
    "Infinity", "Int16Array", "Int32Array", "Int8Array", "InternalError", "JSON", "Map", "Math", "NaN",
    "Number", "Object", "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp", "Set",
    "SharedArrayBuffer", "String", "Symbol", "SyntaxError", "TypeError", "URIError", "Uint16Array",
    "Uint32Array", "Uint8Array", "Uint8ClampedArray", "WeakMap", "WeakSet", "decodeURI",
    "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval", "globalThis", "isFinite",
    "isNaN", "parseFloat", "parseInt", "undefined", "unescape",
}  # fmt: skip


def test_the_global_object_holds_only_standard_builtins_and_moment(engine: TemplateEngine) -> None:
    names = js(engine, "Object.getOwnPropertyNames(Function('return this')()).join(',')").split(",")
    assert set(names) - STANDARD_GLOBALS == {"moment"}
    assert js(engine, "Function('return this')() === globalThis") == "true"
    assert js(engine, "(function(){ return this })().moment === moment") == "true"


@pytest.mark.parametrize(
    "name", ["require", "std", "os", "process", "console", "print", "scriptArgs", "__date_clock"]
)
def test_host_modules_are_not_defined(engine: TemplateEngine, name: str) -> None:
    assert js(engine, f"typeof {name}") == "undefined"
    assert error_of(engine, "${" + name + "('x')}") == (
        f"Failed to evaluate a variable ${{{name}('x')}} (ReferenceError: {name} is not defined)"
    )


@pytest.mark.parametrize("module", ["os", "std", "fs", "child_process"])
def test_dynamic_import_gives_nothing(engine: TemplateEngine, module: str) -> None:
    message = error_of(engine, "${import('" + module + "')}")
    assert "the value is a Promise; import() and asynchronous code are not available" in message
    assert js(engine, "1+1") == "2"


def test_promise_callbacks_cannot_leak_a_module(engine: TemplateEngine) -> None:
    template = "${(import('os').then(function (m) { globalThis.os = m }, function () {}), 'queued')}"
    assert engine.render(template, {}, "UTC") == "queued"
    assert js(engine, "typeof os") == "undefined"


def test_nothing_an_expression_changes_survives_it(engine: TemplateEngine) -> None:
    assert js(engine, "(leak = 5)") == "5"
    assert js(engine, "typeof leak") == "undefined"
    js(engine, "(globalThis.leak2 = 1, Array.prototype.map = null, Object.prototype.polluted = 1)")
    assert js(engine, "typeof leak2 + ' ' + typeof ({}).polluted") == "undefined undefined"
    assert js(engine, "[1,2].map(function(x){ return x * 2 })") == "[2,4]"
    js(engine, "(moment = null, moment.fn && (moment.fn.format = null))")
    assert js(engine, "moment(0).utc().format('YYYY')") == "1970"
    js(
        engine,
        "(Object.getPrototypeOf(moment.duration(1)).as = null, moment(0).constructor.prototype.add = null)",
    )
    assert js(engine, "moment.duration(2, 'h').as('m') + moment.utc(0).add(1, 'd').date()") == "122"
    js(engine, "(Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())).constructor = 0)")
    js(engine, "(Object.getPrototypeOf([][Symbol.iterator]()).next = function () { return {done: true} })")
    js(engine, "(Object.getPrototypeOf(function* () {}).prototype.next = null)")
    assert js(engine, "[...[1, 2]].length + (function* () { yield 1 })().next().value") == "3"
    assert "cannot define variable" in error_of(engine, "${(0, eval)('var g = 1')}")
    assert js(engine, "String(eval('1 + 1')) + new Function('return 7')()") == "27"


def test_scope_changes_do_not_reach_the_next_render(engine: TemplateEngine) -> None:
    assert js(engine, "(a.b = 2)", a={"b": 1}) == "2"
    assert js(engine, "a.b", a={"b": 1}) == "1"


def test_dunder_proto_is_an_ordinary_parameter(engine: TemplateEngine) -> None:
    out = engine.render_params({"__proto__": "p", "x": "${typeof __proto__}", "y": "${__proto__}"}, "UTC")
    assert out == {"__proto__": "p", "x": "string", "y": "p"}


def test_time_limit_stops_a_loop_and_the_next_evaluation_works(limited: TemplateEngine) -> None:
    started = time.monotonic()
    message = error_of(limited, "${(function(){ while (true) {} })()}")
    assert time.monotonic() - started < 2
    assert message == (
        "Failed to evaluate a variable ${(function(){ while (true) {} })()} "
        "(the expression took longer than 0.2 s and was stopped)"
    )
    assert limited.render("${moment(0).utc().format()}", {}, "UTC") == "1970-01-01T00:00:00Z"


def test_a_runaway_promise_job_is_stopped_too(limited: TemplateEngine) -> None:
    template = "${(Promise.resolve().then(function(){ while (true) {} }), 'queued')}"
    started = time.monotonic()
    assert limited.render(template, {}, "UTC") == "queued"
    assert time.monotonic() - started < 2
    assert limited.render("${1+1}", {}, "UTC") == "2"


def test_a_flood_of_promise_jobs_is_cut_off(limited: TemplateEngine) -> None:
    template = "${(function(){ function f() { Promise.resolve().then(f) } f(); return 'flood' })()}"
    assert limited.render(template, {}, "UTC") == "flood"
    assert limited.render("${1+1}", {}, "UTC") == "2"


def test_memory_limit_stops_an_allocation_and_the_next_evaluation_works(limited: TemplateEngine) -> None:
    message = error_of(
        limited, "${(function(){ var a = []; while (true) { a.push('x'.repeat(65536) + a.length) } })()}"
    )
    assert message.endswith("(the expression needed more than 16 MiB of memory and was stopped)")
    assert "string too long" in error_of(limited, "${'x'.repeat(Math.pow(2, 30))}")
    assert limited.render("${[1,2,3].length}", {}, "UTC") == "3"


def test_deep_recursion_is_a_clear_error_and_the_next_evaluation_works(limited: TemplateEngine) -> None:
    message = error_of(limited, "${(function f(n){ return f(n + 1) })(0)}")
    assert message.endswith("(InternalError: stack overflow; the expression recurses too deeply)")
    assert limited.render("${moment.utc(0).add(1, 'd').format('D')}", {}, "UTC") == "2"


def test_atomics_wait_cannot_block(engine: TemplateEngine) -> None:
    message = error_of(engine, "${Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10000)}")
    assert "cannot block" in message


def test_the_sandbox_is_reused_after_an_ordinary_error(engine: TemplateEngine) -> None:
    sandbox = engine._sandbox()
    error_of(engine, "${nope}")
    error_of(engine, "${null.x}")
    assert engine.render("${1}", {}, "UTC") == "1"
    assert engine._sandbox() is sandbox


def test_each_thread_gets_its_own_sandbox(engine: TemplateEngine) -> None:
    results: list[str] = []
    worker = threading.Thread(target=lambda: results.append(engine.render("${moment().format()}", {}, LA)))
    worker.start()
    worker.join()
    assert results == ["2016-01-30T00:00:00-08:00"]


# ---------------------------------------------------------------- the clock and time zones


def test_now_comes_from_the_engine_clock_in_the_workflow_zone(engine: TemplateEngine) -> None:
    assert js(engine, "moment().format()", LA) == "2016-01-30T00:00:00-08:00"
    assert js(engine, "moment().format()", "Asia/Tokyo") == "2016-01-30T17:00:00+09:00"
    assert js(engine, "moment().format()", "UTC") == "2016-01-30T08:00:00+00:00"
    assert js(engine, "Date.now() + ' ' + new Date().getTime()") == "1454140800000 1454140800000"
    assert js(engine, "moment.now()") == "1454140800000"


def test_a_fixed_offset_workflow_zone(engine: TemplateEngine) -> None:
    assert js(engine, "moment().format()", "+09:00") == "2016-01-30T17:00:00+09:00"


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        (
            "UTC",
            [
                "2016-03-13T10:00:00+00:00", "2016-03-14T10:00:00+00:00", "2016-03-12T10:00:00+00:00",
                "2016-03-13T11:00:00+00:00", "2016-03-13T09:00:00+00:00", "2016-03-13T10:00:00Z",
                "2016-03-13 10:00:00 +00:00", "March 13, 2016 10:00 AM",
            ],
        ),
        (
            "Asia/Tokyo",
            [
                "2016-03-13T19:00:00+09:00", "2016-03-14T19:00:00+09:00", "2016-03-12T19:00:00+09:00",
                "2016-03-13T20:00:00+09:00", "2016-03-13T18:00:00+09:00", "2016-03-13T10:00:00Z",
                "2016-03-13 19:00:00 +09:00", "March 13, 2016 7:00 PM",
            ],
        ),
        (
            LA,  # the DST change of 2016-03-13 falls inside these results
            [
                "2016-03-13T03:00:00-07:00", "2016-03-14T03:00:00-07:00", "2016-03-12T03:00:00-08:00",
                "2016-03-13T04:00:00-07:00", "2016-03-13T01:00:00-08:00", "2016-03-13T10:00:00Z",
                "2016-03-13 03:00:00 -07:00", "March 13, 2016 3:00 AM",
            ],
        ),
    ],
)  # fmt: skip
def test_moment_in_the_workflow_zone(engine: TemplateEngine, tz: str, expected: list[str]) -> None:
    params = {
        "session_time": "2016-03-13T10:00:00Z",
        "default_format": "${moment(session_time).format()}",
        "tomorrow": "${moment(session_time).add(1, 'days').format()}",
        "yesterday": "${moment(session_time).add(-1, 'days').format()}",
        "hour_later": "${moment(session_time).add(1, 'hours').format()}",
        "hour_ago": "${moment(session_time).add(-1, 'hours').format()}",
        "utc": "${moment(session_time).utc().format()}",
        "format_sql_time": '${moment(session_time).format("YYYY-MM-DD HH:mm:ss Z")}',
        "format_LLL": '${moment(session_time).format("LLL")}',
    }
    out = engine.render_params(params, tz)
    assert [out[k] for k in list(params)[1:]] == expected


def test_session_time_strings_parse_and_reformat(engine: TemplateEngine) -> None:
    scope = {
        "session_time": "2016-01-30T00:00:00-08:00",
        "session_date": "2016-01-30",
        "session_date_compact": "20160130",
        "session_local_time": "2016-01-30 00:00:00",
        "session_unixtime": 1454140800,
    }
    for expression in [
        "moment(session_time).format()",
        "moment(session_date).format()",
        "moment(session_date_compact).format()",
        "moment(session_local_time).format()",
        "moment.unix(session_unixtime).format()",
        "moment(session_unixtime * 1000).format()",
    ]:
        assert engine.render("${" + expression + "}", scope, LA) == "2016-01-30T00:00:00-08:00", expression
    assert engine.render("${moment(session_time).add(1,'days').format('YYYYMMDD')}", scope, LA) == "20160131"
    assert (
        engine.render("${moment(session_time).tz('Asia/Tokyo').format()}", scope, LA)
        == "2016-01-30T17:00:00+09:00"
    )


def test_format_tokens(engine: TemplateEngine) -> None:
    fmt = (
        "YYYY YY M MM MMM MMMM D DD Do DDD DDDD d dd ddd dddd E H HH h hh k kk m mm s ss S SS SSS "
        "A a Z ZZ X x Q W WW w ww gggg GGGG"
    )
    assert js(
        engine, f"moment(session_time).format('{fmt}')", LA, session_time="2016-01-30T00:00:00-08:00"
    ) == (
        "2016 16 1 01 Jan January 30 30 30th 30 030 6 Sa Sat Saturday 6 0 00 12 12 24 24 0 00 0 00 0 00 000 "
        "AM am -08:00 -0800 1454140800 1454140800000 1 4 04 5 05 2016 2016"
    )
    assert js(engine, "moment('2016-01-30T13:05:09.045-08:00').format('h hh k kk S SS SSS A a')", LA) == (
        "1 01 13 13 0 04 045 PM pm"
    )
    assert (
        js(engine, "moment('2016-01-30').format('[Today is] dddd [the] Do')") == "Today is Saturday the 30th"
    )
    assert js(engine, "moment('2021-01-03').format('GGGG-[W]WW-E gggg-ww-e')") == "2020-W53-7 2021-02-0"


def test_moment_serialisations(engine: TemplateEngine) -> None:
    scope = {"session_time": "2016-01-30T00:00:00-08:00"}
    render = lambda e: engine.render("${" + e + "}", scope, LA)  # noqa: E731
    assert render("moment(session_time).toISOString()") == "2016-01-30T08:00:00.000Z"
    assert render("moment(session_time).toJSON()") == "2016-01-30T08:00:00.000Z"
    assert render("moment(session_time)") == '"2016-01-30T08:00:00.000Z"'
    assert render("JSON.stringify({t: moment(session_time)})") == '{"t":"2016-01-30T08:00:00.000Z"}'
    assert render("moment(session_time).toString()") == "Sat Jan 30 2016 00:00:00 GMT-0800"
    assert render("moment(session_time).toDate().getTime() === moment(session_time).valueOf()") == "true"
    assert render("moment(session_time).unix()") == "1454140800"
    assert render("moment(session_time).utcOffset()") == "-480"
    assert (
        render("moment('2016-02-30').isValid() + ' ' + moment('2016-02-30').format()") == "false Invalid date"
    )


def test_add_and_subtract(engine: TemplateEngine) -> None:
    base = "moment('2016-01-31T10:00:00')"
    cases = {
        "add(1, 'months')": "2016-02-29T10:00:00+00:00",
        "add(1, 'M')": "2016-02-29T10:00:00+00:00",
        "add(1, 'y')": "2017-01-31T10:00:00+00:00",
        "add(1, 'Q')": "2016-04-30T10:00:00+00:00",
        "add(2, 'w')": "2016-02-14T10:00:00+00:00",
        "add(1, 'd')": "2016-02-01T10:00:00+00:00",
        "add(90, 'm')": "2016-01-31T11:30:00+00:00",
        "add(30, 's')": "2016-01-31T10:00:30+00:00",
        "add(1500, 'ms')": "2016-01-31T10:00:01+00:00",
        "add({months: 1, days: 1})": "2016-03-01T10:00:00+00:00",
        "add('P1DT2H')": "2016-02-01T12:00:00+00:00",
        "add('1:30')": "2016-01-31T11:30:00+00:00",
        "add('2', 'days')": "2016-02-02T10:00:00+00:00",
        "add('days', 2)": "2016-02-02T10:00:00+00:00",
        "add(moment.duration(1, 'day'))": "2016-02-01T10:00:00+00:00",
        "subtract(1, 'months')": "2015-12-31T10:00:00+00:00",
        "subtract({hours: 10})": "2016-01-31T00:00:00+00:00",
    }
    for call, expected in cases.items():
        assert js(engine, f"{base}.{call}.format()") == expected, call
    assert "unknown unit of time 'fortnight'" in error_of(engine, "${moment().add(1, 'fortnight')}")


def test_start_of_and_end_of(engine: TemplateEngine) -> None:
    base = "moment('2016-05-18T13:14:15.678')"  # a Wednesday
    cases = {
        "startOf('year')": "2016-01-01 00:00:00.000",
        "startOf('quarter')": "2016-04-01 00:00:00.000",
        "startOf('month')": "2016-05-01 00:00:00.000",
        "startOf('week')": "2016-05-15 00:00:00.000",
        "startOf('isoWeek')": "2016-05-16 00:00:00.000",
        "startOf('day')": "2016-05-18 00:00:00.000",
        "startOf('date')": "2016-05-18 00:00:00.000",
        "startOf('hour')": "2016-05-18 13:00:00.000",
        "startOf('minute')": "2016-05-18 13:14:00.000",
        "startOf('second')": "2016-05-18 13:14:15.000",
        "endOf('year')": "2016-12-31 23:59:59.999",
        "endOf('quarter')": "2016-06-30 23:59:59.999",
        "endOf('month')": "2016-05-31 23:59:59.999",
        "endOf('week')": "2016-05-21 23:59:59.999",
        "endOf('isoWeek')": "2016-05-22 23:59:59.999",
        "endOf('day')": "2016-05-18 23:59:59.999",
        "endOf('hour')": "2016-05-18 13:59:59.999",
    }
    for call, expected in cases.items():
        assert js(engine, f"{base}.{call}.format('YYYY-MM-DD HH:mm:ss.SSS')", LA) == expected, call


def test_dst_changes_in_los_angeles(engine: TemplateEngine) -> None:
    cases = {
        # the day of the spring change has 23 hours, the autumn one 25
        "moment('2016-03-13').endOf('day').format()": "2016-03-13T23:59:59-07:00",
        "moment('2016-11-06').startOf('day').add(24, 'hours').format()": "2016-11-06T23:00:00-08:00",
        "moment('2016-11-07').diff('2016-11-06', 'hours')": "25",
        "moment('2016-11-07').diff('2016-11-06', 'days')": "1",
        "moment('2016-03-14').diff('2016-03-13', 'days', true)": "1",
        # wall times in the gap move forward, ambiguous ones take the first (daylight) instant
        "moment.tz('2016-03-13 02:30:00', 'America/Los_Angeles').format()": "2016-03-13T03:30:00-07:00",
        "moment('2016-03-12T02:30:00').add(1, 'day').format()": "2016-03-13T03:30:00-07:00",
        "moment.tz('2016-11-06 01:30:00', 'America/Los_Angeles').format()": "2016-11-06T01:30:00-07:00",
        "moment('2016-03-13T01:59:59-08:00').add(1, 's').format()": "2016-03-13T03:00:00-07:00",
        "moment('2016-07-01').isDST() + ' ' + moment('2016-01-01').isDST()": "true false",
    }
    for expression, expected in cases.items():
        assert js(engine, expression, LA) == expected, expression


def test_diff(engine: TemplateEngine) -> None:
    cases = {
        "moment('2016-03-31').diff('2016-02-29', 'months')": "1",
        "moment('2016-03-31').diff('2016-02-29', 'months', true)": "1",
        "moment('2016-01-31').diff('2016-02-29', 'months', true)": "-1",
        "moment('2017-02-28').diff('2016-02-29', 'years', true)": "1",
        "moment('2017-01-30').diff('2016-01-30', 'years')": "1",
        "moment('2016-04-30').diff('2016-01-30', 'quarters')": "1",
        "moment('2016-02-13').diff('2016-01-30', 'weeks')": "2",
        "moment('2016-01-30T10:00:00Z').diff('2016-01-30T09:00:00Z', 'minutes')": "60",
        "moment('2016-01-30T10:00:00Z').diff('2016-01-30T09:00:00Z')": "3600000",
        "moment('2016-01-30').diff('2016-03-01', 'days')": "-31",
    }
    for expression, expected in cases.items():
        assert js(engine, expression) == expected, expression


def test_comparisons(engine: TemplateEngine) -> None:
    cases = {
        "isBefore('2016-02-01')": "true",
        "isAfter('2016-02-01')": "false",
        "isSame('2016-01-30', 'day')": "true",
        "isSame('2016-01-31', 'day')": "false",
        "isSame('2016-01-01', 'month')": "true",
        "isSameOrBefore('2016-01-30T00:00:00-08:00')": "true",
        "isSameOrAfter('2016-01-31')": "false",
        "isBefore('2016-01-30T23:00:00', 'day')": "false",
        "isAfter('2016-01-29T23:00:00', 'day')": "true",
        "isBetween('2016-01-01', '2016-02-01')": "true",
    }
    for call, expected in cases.items():
        assert js(engine, f"moment(s).{call}", LA, s="2016-01-30T00:00:00-08:00") == expected, call


def test_getters_and_setters(engine: TemplateEngine) -> None:
    get = "[m.year(), m.month(), m.date(), m.day(), m.hour(), m.minute(), m.second(), m.millisecond(), " + (
        "m.dayOfYear(), m.isoWeekday(), m.week(), m.isoWeek(), m.quarter()]"
    )
    assert js(engine, f"(function(m){{ return {get} }})(moment('2016-01-30T13:14:15.678'))") == (
        "[2016,0,30,6,13,14,15,678,30,6,5,4,1]"
    )
    cases = {
        "year(2017)": "2017-01-30",
        "month(1)": "2016-02-29",
        "month('March')": "2016-03-30",
        "date(32)": "2016-02-01",
        "day(1)": "2016-01-25",  # Monday of the same (Sunday-based) week
        "isoWeekday(7)": "2016-01-31",
        "dayOfYear(100)": "2016-04-09",
        "week(10)": "2016-03-05",
        "isoWeek(10)": "2016-03-12",
        "quarter(3)": "2016-07-30",
        "set({year: 2015, month: 5, date: 3})": "2015-06-03",
    }
    for call, expected in cases.items():
        assert js(engine, f"moment('2016-01-30').{call}.format('YYYY-MM-DD')") == expected, call
    assert js(
        engine, "moment('2016-01-30').hour(13).minute(5).second(6).millisecond(7).format('HH:mm:ss.SSS')"
    ) == ("13:05:06.007")


def test_parsing_with_a_format(engine: TemplateEngine) -> None:
    cases = {
        "moment('30-01-2016 10:20', 'DD-MM-YYYY HH:mm')": "2016-01-30T10:20:00-08:00",
        "moment('January 30th, 2016 3:04 PM', 'MMMM Do, YYYY h:mm A')": "2016-01-30T15:04:00-08:00",
        "moment('12/25/16', 'MM/DD/YY')": "2016-12-25T00:00:00-08:00",
        "moment('2016-01-30 10:00 +09:00', 'YYYY-MM-DD HH:mm Z')": "2016-01-29T17:00:00-08:00",
        "moment('1454140800', 'X')": "2016-01-30T00:00:00-08:00",
        "moment.utc('2016-01-30 10:00', 'YYYY-MM-DD HH:mm')": "2016-01-30T10:00:00Z",
        "moment.tz('2016-01-30 10:00', 'YYYY-MM-DD HH:mm', 'Asia/Tokyo')": "2016-01-30T10:00:00+09:00",
        "moment('10:30', 'HH:mm')": "2016-01-30T10:30:00-08:00",
    }
    for expression, expected in cases.items():
        assert js(engine, f"{expression}.format()", LA) == expected, expression
    assert js(engine, "moment('2016-1-30', 'YYYY-MM-DD', true).isValid()") == "false"
    assert js(engine, "moment('2016-01-30', 'YYYY-MM-DD', true).isValid()") == "true"


def test_other_zones_utc_and_fixed_offsets(engine: TemplateEngine) -> None:
    scope = {"s": "2016-01-30T00:00:00-08:00", "zone": "Asia/Kolkata"}
    cases = {
        "moment.tz(s, 'Europe/Berlin').format()": "2016-01-30T09:00:00+01:00",
        "moment.tz(1454140800000, 'Australia/Sydney').format()": "2016-01-30T19:00:00+11:00",
        "moment(s).tz(zone).format()": "2016-01-30T13:30:00+05:30",  # a zone name from a parameter
        "moment(s).tz('Asia/Tokyo').tz()": "Asia/Tokyo",
        "moment.utc(s).format()": "2016-01-30T08:00:00Z",
        "moment.utc('2016-01-30 10:00:00').local().format()": "2016-01-30T02:00:00-08:00",
        "moment.parseZone('2016-01-30T10:00:00+09:00').format()": "2016-01-30T10:00:00+09:00",
        "moment(s).utcOffset(540).format()": "2016-01-30T17:00:00+09:00",
        "moment(s).utcOffset('+05:30').format()": "2016-01-30T13:30:00+05:30",
        "moment(s).tz('UTC').format()": "2016-01-30T08:00:00Z",
        # a zero offset of a real place is not UTC (moment-timezone prints Z here, its issue #484)
        "moment(s).tz('Europe/London').format()": "2016-01-30T08:00:00+00:00",
        "moment('1850-01-01T00:00:00Z').tz('Europe/London').format()": "1850-01-01T00:00:00+00:00",
        "moment('1800-06-01T12:00:00').format()": "1800-06-01T12:00:00-07:52",
    }
    for expression, expected in cases.items():
        assert engine.render("${" + expression + "}", scope, LA) == expected, expression
    assert "unknown time zone 'Nope/Zone'" in error_of(engine, "${moment.tz('2016-01-30', 'Nope/Zone')}")
    assert "unknown time zone 'nowhere'" in error_of(engine, "${moment().tz(['no', 'where'].join(''))}")


def test_durations(engine: TemplateEngine) -> None:
    assert js(engine, "moment.duration(90, 'minutes').asHours()") == "1.5"
    assert js(engine, "moment.duration('P1D').asHours()") == "24"
    assert js(engine, "moment.duration({days: 2, hours: 12}).asDays()") == "2.5"
    assert js(engine, "moment.duration(36, 'hours').toISOString()") == "PT36H"
    assert "invalid duration 'soon'" in error_of(engine, "${moment().add('soon')}")


def test_a_nul_character_is_refused_not_cut(engine: TemplateEngine) -> None:
    assert "the value contains a NUL character" in error_of(engine, "${'a\\u0000b'}")
    assert engine.render_params({"a": "x\x00$$y", "b": "${a.length}"}, "UTC") == {"a": "x\x00$y", "b": "4"}


def test_computed_zone_names_are_loaded_on_demand_up_to_a_bound(engine: TemplateEngine) -> None:
    zones = ["Europe/Paris", "Asia/Seoul", "America/Chicago"]
    assert js(
        engine, "zones.map(function (z) { return moment(0).tz(z).format('Z') }).join(' ')", zones=zones
    ) == ("+01:00 +09:00 -06:00")
    many = (
        "${[...Array(100).keys()].map(function (i) { try { moment().tz('No/' + i) } catch (e) {} }).length}"
    )
    assert error_of(engine, many).endswith("(it asks for too many time zones)")


def test_strings_that_are_not_valid_unicode_do_not_reach_the_binding(engine: TemplateEngine) -> None:
    # The binding converts strings to UTF-8 unchecked: a lone surrogate handed to it crashes Python.
    params = {"a": "x\udcff", "b": "${a.length}", "c": "é${b}", "d": "${c}"}
    assert engine.render_params(params, "UTC") == {"a": "x\udcff", "b": "2", "c": "é2", "d": "é2"}
    assert "(it contains a NUL character or a lone surrogate)" in error_of(engine, '${"\udcff"}')
    assert "(the value is not valid Unicode)" in error_of(engine, '${"\\udcff"}')
    assert js(engine, "'日本' + x", x="é") == "日本é"


@pytest.mark.parametrize("value", ["text", "", "ünï", 0, -7, 2**52, True, False, None, 1.5, 2**60, [1], {"a": 1}])
def test_plain_references_print_exactly_as_javascript_does(value):
    engine = TemplateEngine()
    scope = {"v": value, "n": {"v": value}}
    # "(v)" is not a plain reference, so it always goes through JavaScript.
    for reference in ("v", "n.v"):
        assert engine.render("${" + reference + "}", scope, "UTC") == engine.render("${(" + reference + ")}", scope, "UTC")


def test_a_plain_reference_to_a_missing_name_still_fails_like_javascript():
    with pytest.raises(TemplateError, match=r"Failed to evaluate a variable \$\{nope\.x\}"):
        TemplateEngine().render("${nope.x}", {}, "UTC")


# ---------------------------------------------------------------- Date in the workflow's time zone


@pytest.mark.parametrize(("expression", "tz", "expected"), [
    ("new Date(0).getHours()", "Asia/Tokyo", "9"),
    ("new Date(0).getTimezoneOffset()", "Asia/Tokyo", "-540"),
    ("new Date(0).getTimezoneOffset()", LA, "480"),
    ("new Date(Date.UTC(2016, 6, 1)).getTimezoneOffset()", LA, "420"),  # summer time
    ("new Date(2016, 0, 30).getTime()", "Asia/Tokyo", "1454079600000"),
    ("new Date(2016, 0, 30, 10, 30).toISOString()", LA, "2016-01-30T18:30:00.000Z"),
    ("Date.parse('2016-01-30T10:00')", "Asia/Tokyo", "1454115600000"),
    ("Date.parse('2016-01-30')", "Asia/Tokyo", "1454112000000"),  # date-only ISO is UTC
    ("new Date('2016-01-30T10:00').getHours()", LA, "10"),
    ("String(new Date(0))", "Asia/Tokyo", "Thu Jan 01 1970 09:00:00 GMT+0900"),
    ("new Date(0).toDateString()", LA, "Wed Dec 31 1969"),
    ("new Date(0).toLocaleString()", LA, "12/31/1969, 04:00:00 PM"),
    ("(function () { var d = new Date(0); d.setHours(0); return d.toISOString(); })()", "Asia/Tokyo",
     "1969-12-31T15:00:00.000Z"),
    ("moment(new Date(2016, 0, 30)).format()", "Asia/Tokyo", "2016-01-30T00:00:00+09:00"),
    ("new Date().getDate()", "Asia/Tokyo", "30"),  # now (SESSION_NOW) is 2016-01-30 17:00 in Tokyo
    ("Date()", "Asia/Tokyo", "Sat Jan 30 2016 17:00:00 GMT+0900"),
    # Wall times in a daylight-saving gap move forward (as in V8 and Java); repeated ones take the first.
    ("new Date(2016, 2, 13, 2, 30).toISOString()", "America/New_York", "2016-03-13T07:30:00.000Z"),
    ("new Date(2016, 2, 27, 2, 30).toISOString()", "Europe/Berlin", "2016-03-27T01:30:00.000Z"),
    ("new Date(2016, 10, 6, 1, 30).toISOString()", "America/New_York", "2016-11-06T05:30:00.000Z"),
])
def test_date_local_time_is_the_workflows_time_zone(engine: TemplateEngine, expression: str, tz: str,
                                                     expected: str) -> None:
    """As in Digdag, whose JavaScript runs with the time zone set to the workflow's."""
    assert js(engine, expression, tz) == expected
