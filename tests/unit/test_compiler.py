"""Compiling workflow configs: the task list, dependencies, and every located check."""

from __future__ import annotations

import pytest

from digpy.core.errors import ConfigError, UnknownOperator
from digpy.core.language.dig.loader import load_text
from digpy.core.workflow.tree import compile_tree, compile_workflow, unknown_operator_warning

OPERATORS = ["echo", "fail", "sh", "py", "loop", "if", "call"]


def compile_text(text, name="wf", operators=OPERATORS):
    return compile_workflow(name, load_text(text, f"{name}.dig"), operators=operators)


def error_of(text, **kw):
    with pytest.raises(ConfigError) as e:
        compile_text(text, **kw)
    return str(e.value)


def test_task_list_is_in_pre_order_with_sibling_dependencies():
    wf = compile_text("timezone: Asia/Tokyo\n+a: {echo>: a}\n+g:\n  +x: {echo>: x}\n  +y: {echo>: y}\n+b: {sh>: b}\n")
    assert wf.timezone == "Asia/Tokyo"
    assert [t.full_name for t in wf.tasks] == ["+wf", "+wf+a", "+wf+g", "+wf+g+x", "+wf+g+y", "+wf+b"]
    assert [t.upstreams for t in wf.tasks] == [[], [], [1], [], [3], [2]]
    assert [t.is_group for t in wf.tasks] == [True, False, True, False, False, False]
    assert wf.task_count == 6


def test_operator_keys_become_type_and_command_in_place():
    wf = compile_text("+a:\n  foo: 1\n  echo>: ${foo}\n  bar: 2\n")
    assert list(wf.tasks[1].config.items()) == [("_type", "echo"), ("foo", 1), ("_command", "${foo}"), ("bar", 2)]


def test_export_is_kept_apart_from_the_task_config():
    wf = compile_text("_export: {a: 1}\n+t:\n  _export: {b: 2}\n  echo>: x\n")
    assert wf.tasks[0].export == {"a": 1}
    assert wf.tasks[1].export == {"b": 2}
    assert "_export" not in wf.tasks[1].config


def test_long_form_type_and_command():
    wf = compile_text("+a:\n  _type: echo\n  _command: hi\n")
    assert wf.tasks[1].config == {"_type": "echo", "_command": "hi"}


def test_unknown_top_level_key():
    assert error_of("timezon: UTC\n+a: {echo>: x}\n") == (
        "wf.dig:1:1: unknown top-level key 'timezon' in workflow 'wf'; did you mean 'timezone' or '_timeout'?"
    )


def test_group_with_an_invalid_key_suggests_the_directive():
    assert error_of("+g:\n  _paralel: true\n  +a: {echo>: x}\n") == (
        "wf.dig:2:3: group +wf+g has an invalid key '_paralel'; did you mean '_parallel'?"
    )


def test_two_operators_in_one_task():
    assert error_of("+a:\n  echo>: x\n  sh>: y\n") == (
        "wf.dig:3:3: task +wf+a has more than one operator: echo>, sh>; a task runs exactly one operator"
    )


def test_operator_task_with_subtasks():
    assert error_of("+a:\n  echo>: x\n  +b: {echo>: y}\n").startswith(
        "wf.dig:3:3: operator task +wf+a can't have subtasks (+b)"
    )


def test_unknown_operator_with_a_suggestion():
    assert error_of("+a:\n  shh>: x\n") == "wf.dig:2:3: unknown operator 'shh>'; did you mean 'sh>'?"


def test_unknown_operator_without_a_suggestion_points_to_digpy_plugins():
    with pytest.raises(UnknownOperator) as e:  # the server words its own hint from operator and suggestion
        compile_text("+a:\n  zzz>: x\n")
    assert str(e.value) == "wf.dig:2:3: unknown operator 'zzz>'; run `digpy plugins` to list the operators"
    assert (e.value.operator, e.value.suggestion) == ("zzz", None)


def test_bad_task_names():
    assert "character ' ' is not allowed" in error_of("+a b: {echo>: x}\n")
    assert error_of("+a b: {echo>: x}\n").startswith("wf.dig:1:1: invalid task name '+a b'")


def test_names_longer_than_255_characters_are_refused():
    assert error_of("+" + "a" * 255 + ": {echo>: x}\n").startswith("wf.dig:1:1: task name '+aaaa")
    assert "longer than 255 characters" in error_of("+" + "a" * 255 + ": {echo>: x}\n")
    assert compile_text("+" + "a" * 254 + ": {echo>: x}\n").tasks[1].name == "+" + "a" * 254


def test_do_must_be_a_task():
    assert error_of("+a:\n  loop>: 2\n  _do: 5\n").startswith(
        "wf.dig:3:8: task +wf+a: _do must be a task (a mapping), got 5")
    assert "_else_do must be a task" in error_of("+a:\n  if>: true\n  _else_do: echo\n")


def test_task_must_be_a_mapping():
    assert error_of("+a: echo hi\n").startswith(
        "wf.dig:1:5: task +wf+a must be a mapping of keys to values, got the string 'echo hi'"
    )


def test_after_needs_a_parallel_parent_and_an_existing_earlier_sibling():
    assert '"_after" on +wf+b is invalid' in error_of("+a: {echo>: x}\n+b: {echo>: y, _after: +a}\n")
    message = error_of("_parallel: true\n+a: {echo>: x}\n+b: {echo>: y, _after: [+c]}\n")
    assert message.startswith("wf.dig:3:")
    assert "dependency task '+c' of +wf+b does not exist before it" in message
    for bad in ("{x: 1}", "[[+a]]", "[true]"):
        message = error_of(f"_parallel: true\n+a: {{echo>: x}}\n+b: {{echo>: y, _after: {bad}}}\n")
        assert message.startswith("wf.dig:3:") and "_after of +wf+b must name earlier sibling tasks" in message


def test_background_is_invalid_in_a_parallel_group():
    assert "_background on +wf+a is invalid" in error_of("_parallel: true\n+a: {echo>: x, _background: true}\n")


def test_parallel_value_checks():
    assert "must be a literal" in error_of("_parallel: ${p}\n+a: {echo>: x}\n")
    assert "limit must be a whole number > 0" in error_of("_parallel: {limit: 0}\n+a: {echo>: x}\n")
    wf = compile_text("+a:\n  loop>: 3\n  _parallel: ${p}\n  _do: {echo>: x}\n")
    assert wf.tasks[1].config["_parallel"] == "${p}"


def test_retry_is_validated():
    assert "_retry has unknown key 'limt'" in error_of("+a: {sh>: x, _retry: {limt: 3}}\n")
    assert "_retry interval_type must be" in error_of("+a: {sh>: x, _retry: {limit: 3, interval_type: linear}}\n")
    assert "_retry must be a whole number" in error_of("+a: {sh>: x, _retry: -1}\n")


def test_error_and_check_subtrees_are_validated_at_compile_time():
    assert error_of("+a:\n  sh>: x\n  _error:\n    ech>: bad\n") == (
        "wf.dig:4:5: unknown operator 'ech>'; did you mean 'echo>'?"
    )
    assert "must be a task" in error_of("+a:\n  sh>: x\n  _check: echo hi\n")


def test_do_subtree_is_validated_when_it_has_no_templates():
    assert "unknown operator 'ehco>'" in error_of("+a:\n  loop>: 2\n  _do:\n    ehco>: x\n")


def test_lenient_compiling_lists_every_unknown_operator_with_its_location():
    text = "+a:\n  td>: q\n  _error:\n    ech>: bad\n+b:\n  loop>: 2\n  _do:\n    ehco>: x\n+c:\n  _type: ${t}\n"
    wf = compile_workflow("wf", load_text(text, "wf.dig"), operators=OPERATORS, lenient=True)
    assert [t.full_name for t in wf.tasks] == ["+wf", "+wf+a", "+wf+b", "+wf+c"]
    suffix = " (a task using it fails when it is reached)"
    assert [unknown_operator_warning(e) for e in wf.unknown_operators] == [
        "wf.dig:2:3: unknown operator 'td>'; run `digpy plugins` to list the operators" + suffix,
        "wf.dig:4:5: unknown operator 'ech>'; did you mean 'echo>'?" + suffix,
        "wf.dig:8:5: unknown operator 'ehco>'; did you mean 'echo>'?" + suffix,
    ]
    assert [(e.operator, e.suggestion, e.task) for e in wf.unknown_operators] == [
        ("td", None, "+wf+a"), ("ech", "echo", "+wf+a^error"), ("ehco", "echo", "+wf+b^sub")]
    stored = compile_workflow("wf", wf.config, operators=OPERATORS, lenient=True)  # plain JSON: no locations
    assert unknown_operator_warning(stored.unknown_operators[0]) == \
        "+wf+a: unknown operator 'td>'; run `digpy plugins` to list the operators" + suffix
    assert compile_text("+a: {echo>: x}\n").unknown_operators == []
    assert error_of(text).startswith("wf.dig:2:3: unknown operator 'td>'")


def test_workflow_names():
    with pytest.raises(ConfigError, match="invalid workflow name '1wf'"):
        compile_text("+a: {echo>: x}\n", name="1wf")


def test_without_an_operator_list_unknown_operators_are_left_for_run_time():
    wf = compile_workflow("wf", load_text("+a: {nope>: x}\n"))
    assert wf.tasks[1].config["_type"] == "nope"


def test_generated_subtrees():
    specs = compile_tree("^sub", "+wf+t^sub", {"+loop-0": {"echo>": 0}, "+loop-1": {"echo>": 1},
                                                 "_parallel": True})
    assert [s.full_name for s in specs] == ["+wf+t^sub", "+wf+t^sub+loop-0", "+wf+t^sub+loop-1"]
    assert specs[0].is_group and specs[2].upstreams == []
    single = compile_tree("^sub", "+wf+t^sub", {"echo>": "x"})
    assert not single[0].is_group and single[0].config["_type"] == "echo"


def test_schedule_and_sla_are_not_task_keys():
    wf = compile_text("schedule:\n  daily>: 07:00:00\nsla:\n  time: 02:00\n+a: {echo>: x}\n")
    assert wf.schedule == {"daily>": "07:00:00"}
    assert "schedule" not in wf.tasks[0].config


def test_may_overlap_finds_every_way_two_commands_can_run_at_once():
    from digpy.core.engine.runner import may_overlap
    from digpy.core.plugin_manager import load_registry

    adds_tasks = load_registry(entry_points=False).names().adds_tasks

    def overlap(text: str) -> bool:
        return may_overlap(compile_workflow("wf", load_text(text, "wf.dig")).tasks, adds_tasks)

    assert not overlap("+a:\n  sh>: a\n+b:\n  +c:\n    sh>: c\n")
    assert not overlap("+g:\n  _parallel: false\n  +a:\n    sh>: a\n")
    assert overlap("+g:\n  _parallel: true\n  +a:\n    sh>: a\n  +b:\n    sh>: b\n")
    assert overlap("+g:\n  _parallel: {limit: 2}\n  +a:\n    sh>: a\n")
    assert overlap("+a:\n  sh>: a\n  _background: true\n+b:\n  sh>: b\n")
    assert overlap("+l:\n  loop>: 3\n  _do:\n    +x:\n      _parallel: true\n      +y:\n        sh>: y\n")
    assert overlap("+l:\n  for_each>: {v: [1, 2]}\n  _parallel: true\n  _do:\n    sh>: echo ${v}\n")
    assert overlap("+p:\n  py>: tasks.make_subtasks\n")  # it may add parallel tasks digpy cannot see
