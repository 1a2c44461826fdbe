"""The built-in operators, registered as a default plugin (asked last, so that a plugin's operator of
the same name replaces one of these). They are registered by reference: each module is imported
the first time a task uses its operator (importing them all cost 9 % of a local run's start-up,
docs/performance.md). tests/unit/test_plugins.py keeps this list equal to what the modules register.
"""

from __future__ import annotations

from digpy.core.spi import OperatorRef, hookimpl

BUILTIN = (
    OperatorRef("echo", "digpy.plugins.echo"),
    OperatorRef("fail", "digpy.plugins.fail"),
    OperatorRef("sh", "digpy.plugins.sh"),
    OperatorRef("py", "digpy.plugins.py", adds_tasks=True),
    OperatorRef("call", "digpy.plugins.call", adds_tasks=True, calls_workflow=True),
    OperatorRef("require", "digpy.plugins.require", adds_tasks=True),
    OperatorRef("loop", "digpy.plugins.loop"),
    OperatorRef("for_each", "digpy.plugins.for_each"),
    OperatorRef("for_range", "digpy.plugins.for_range"),
    OperatorRef("if", "digpy.plugins.if_"),
    OperatorRef("wait", "digpy.plugins.wait"),
    OperatorRef("http", "digpy.plugins.http"),
    OperatorRef("http_call", "digpy.plugins.http_call", adds_tasks=True),
    OperatorRef("mail", "digpy.plugins.mail"),
    OperatorRef("pg", "digpy.plugins.pg"),
    OperatorRef("jq", "digpy.plugins.jq"),
)


@hookimpl(trylast=True)
def digpy_register_operators() -> list[OperatorRef]:
    return list(BUILTIN)
