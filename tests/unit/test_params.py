"""Parameter merging in Digdag's order, and store visibility between tasks."""

from __future__ import annotations

from digpy.core.spi import TaskResult
from digpy.core.workflow.params import deep_merge, set_dotted, task_params

from .statemachine_driver import find, graph_of


def params_of(graph, suffix, base=None, builtins=None):
    return task_params(graph, find(graph, suffix), base=base or {}, builtins=builtins or {})


def run_one(graph, suffix, result=None):
    task = graph.take_ready()
    assert task.full_name.endswith(suffix), task.full_name
    graph.mark_running(task, 0)
    graph.succeed(task, result or TaskResult(), 0)
    return task


def test_deep_merge_merges_mappings_and_replaces_the_rest():
    base = {"a": {"x": 1, "y": [1]}, "b": 1}
    out = deep_merge(base, {"a": {"y": [2], "z": 3}, "b": {"c": 1}})
    assert out == {"a": {"x": 1, "y": [2], "z": 3}, "b": {"c": 1}}
    assert base == {"a": {"x": 1, "y": [1]}, "b": 1}, "inputs are not changed"


def test_dotted_keys_nest():
    params = {}
    set_dotted(params, "db.host", "h")
    set_dotted(params, "db.port", "5432")
    set_dotted(params, "x", "1")
    assert params == {"db": {"host": "h", "port": "5432"}, "x": "1"}


def test_precedence_session_export_builtins_local():
    g = graph_of("_export: {a: root, b: root, tz: x}\n+g:\n  _export: {b: group}\n  +t:\n"
                 "    _export: {c: task}\n    echo>: hi\n    a: local\n")
    p = params_of(g, "+t", base={"a": "session", "s": "session", "c": "session"}, builtins={"tz": "UTC"})
    assert p["a"] == "local", "a task's own keys win"
    assert p["b"] == "group", "the nearest _export wins"
    assert p["c"] == "task", "_export beats session params"
    assert p["s"] == "session"
    assert p["tz"] == "UTC", "built-ins beat exports"


def test_nested_exports_merge_deeply():
    g = graph_of("_export: {db: {host: h, port: 1}}\n+t:\n  _export: {db: {port: 2}}\n  echo>: x\n")
    assert params_of(g, "+t")["db"] == {"host": "h", "port": 2}


def test_stores_flow_to_later_siblings_and_their_children_not_to_earlier_ones():
    g = graph_of("+a: {echo>: a}\n+b: {echo>: b}\n+g:\n  +c: {echo>: c}\n")
    assert "k" not in params_of(g, "+b")
    run_one(g, "+a", TaskResult(stores={"k": 1, "n": {"x": 1}}))
    assert params_of(g, "+b")["k"] == 1
    run_one(g, "+b", TaskResult(stores={"n": {"y": 2}}))
    p = params_of(g, "+c")
    assert p["k"] == 1 and p["n"] == {"x": 1, "y": 2}


def test_parallel_branches_do_not_see_each_other_and_the_join_sees_both_in_order():
    g = graph_of("+p:\n  _parallel: true\n  +x: {echo>: x}\n  +y: {echo>: y}\n+join: {echo>: j}\n")
    x, y = g.take_ready(), g.take_ready()
    for task, value in ((y, "y"), (x, "x")):  # finish in the reverse order
        g.mark_running(task, 0)
        g.succeed(task, TaskResult(stores={"last": value, value: True}), 0)
    p = params_of(g, "+join")
    assert p["x"] is True and p["y"] is True
    assert p["last"] == "y", "declaration order decides, not completion order"


def test_a_parallel_sibling_does_not_see_a_store_made_before_it_finished():
    g = graph_of("_parallel: true\n+x: {echo>: x}\n+y: {echo>: y}\n")
    x = g.take_ready()
    g.mark_running(x, 0)
    g.succeed(x, TaskResult(stores={"k": 1}), 0)
    assert "k" not in params_of(g, "+y")


def test_exports_of_an_operator_reach_its_generated_children_only():
    g = graph_of("+gen: {echo>: g}\n+after: {echo>: a}\n")
    run_one(g, "+gen", TaskResult(exports={"i": 7}, stores={"s": 1},
                                  subtasks={"+child": {"echo>": "${i}"}}))
    child = params_of(g, "^sub+child")
    assert child["i"] == 7 and child["s"] == 1, "children see the generator's exports and own store"
    run_one(g, "^sub+child", TaskResult(stores={"from_child": True}))
    after = params_of(g, "+after")
    assert "i" not in after
    assert after["s"] == 1 and after["from_child"] is True, "stores of generated children flow on"


def test_reset_store_removes_keys_before_the_merge():
    g = graph_of("+a: {echo>: a}\n+b: {echo>: b}\n+c: {echo>: c}\n")
    run_one(g, "+a", TaskResult(stores={"http": {"last_content": "old", "last_status": 200}}))
    run_one(g, "+b", TaskResult(reset_stores=["http.last_content"], stores={"http": {"last_status": 404}}))
    assert params_of(g, "+c")["http"] == {"last_status": 404}


def test_a_long_chain_shares_store_snapshots():
    g = graph_of("".join(f"+t{i}: {{echo>: x}}\n" for i in range(2000)))
    run_one(g, "+t0", TaskResult(stores={"k": 1}))
    for i in range(1, 1999):
        run_one(g, f"+t{i}")
    assert params_of(g, "+t1999")["k"] == 1
    assert find(g, "+t1500").chain_store is find(g, "+t1").chain_store
