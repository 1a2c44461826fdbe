"""Tests of the example plugin with digpy's `digpy_operator` fixture (no digpy internals needed)."""

import digpy_greet


def test_greets_and_stores(digpy_operator):
    run = digpy_operator({"greet>": "Ada", "punctuation": "!"}, plugins=[digpy_greet])
    assert run.state == "success"
    assert run.output == "Hello, Ada!\n"
    assert run.stores == {"greet": {"last": "Ada"}}


def test_a_missing_name_fails_the_task(digpy_operator):
    run = digpy_operator({"greet>": ""}, plugins=[digpy_greet])
    assert run.state == "error"
    assert run.error == "greet> needs a name, e.g. `greet>: Ada`"
