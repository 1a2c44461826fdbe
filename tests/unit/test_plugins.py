"""The built-in plugin table: every built-in plugin is in it, and operator modules load on first use."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import digpy.plugins
from digpy.core.plugin_manager import DEFAULT_PLUGINS, load_registry
from digpy.plugins.builtin import BUILTIN

BUILTIN_OPERATORS = {ref.name: ref.module for ref in BUILTIN}

MARKER = "digpy_impl"


def _hooks(module_name: str) -> dict[str, object]:
    module = importlib.import_module(module_name)
    return {name: value for name, value in vars(module).items() if hasattr(value, MARKER)}


def test_the_table_is_what_the_built_in_modules_register():
    for name, module_name in BUILTIN_OPERATORS.items():
        hooks = _hooks(module_name)
        assert set(hooks) == {"digpy_register_operators"}, f"{module_name} has other hooks: list it in DEFAULT_PLUGINS"
        classes = {cls.name: cls for cls in hooks["digpy_register_operators"]()}
        registered = set(classes)
        assert name in registered, f"{module_name} does not register {name}>"
        assert {n for n, m in BUILTIN_OPERATORS.items() if m == module_name} == registered
    for ref in BUILTIN:  # the traits the reference repeats are the class's
        cls = {c.name: c for c in _hooks(ref.module)["digpy_register_operators"]()}[ref.name]
        assert (ref.adds_tasks, ref.calls_workflow) == (getattr(cls, "adds_tasks", False),
                                                        getattr(cls, "calls_workflow", False)), ref.name


def test_every_built_in_plugin_module_is_registered():
    with_hooks = {
        f"digpy.plugins.{info.name}" for info in pkgutil.iter_modules(digpy.plugins.__path__)
        if _hooks(f"digpy.plugins.{info.name}")
    }
    plugin_modules = {m for m in DEFAULT_PLUGINS if m.startswith("digpy.plugins.")}  # core's defaults live in core
    assert with_hooks == plugin_modules | set(BUILTIN_OPERATORS.values())


def test_operator_modules_load_on_first_use():
    code = (
        "import sys\n"
        "from digpy.core.plugin_manager import load_registry\n"
        "registry = load_registry(entry_points=False)\n"
        "assert 'pg' in registry.names() and 'digpy.plugins.pg' not in sys.modules\n"
        "assert registry.get('pg').name == 'pg' and 'digpy.plugins.pg' in sys.modules\n"
        "assert registry.get('nope') is None\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_listing_shows_every_operator_with_its_module():
    operators = load_registry(entry_points=False).operators
    assert set(BUILTIN_OPERATORS) <= set(operators)
    assert operators["if"].plugin == "digpy.plugins.if_" and operators["if"].distribution == "digpy"
    assert operators["docker"].plugin == "digpy.plugins.docker"


def test_a_plugin_replaces_a_built_in_operator_of_the_same_name_but_two_plugins_collide():
    import types

    import pytest

    from digpy.core.errors import PluginError
    from digpy.core.spi import TaskResult, hookimpl

    class LoudEcho:
        name = "echo"

        async def run(self, ctx):
            ctx.output(str(ctx.command).upper() + "\n")
            return TaskResult()

    def plugin(module_name: str):
        module = types.ModuleType(module_name)
        module.digpy_register_operators = hookimpl(lambda: [LoudEcho])
        return module

    registry = load_registry(entry_points=False, extra=(plugin("loud"),))
    assert registry.operators["echo"].plugin == "loud" and isinstance(registry.get("echo"), LoudEcho)
    assert "sh" in registry.names()  # the other built-ins stay
    with pytest.raises(PluginError, match="two plugins register the operator 'echo>'"):
        load_registry(entry_points=False, extra=(plugin("loud"), plugin("louder")))
