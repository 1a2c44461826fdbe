"""The server's plugins: loaded once, when it starts, so a plugin installed later is unknown to it
until it restarts (reloading plugin code into a running server would mix versions of modules
that attempts are using). What it says of an unknown operator says so."""

from __future__ import annotations

from digpy.core.errors import UnknownOperator

RESTART_HINT = ("the server sees the plugins installed when it started: install the plugin where the server "
                "runs, then restart the server")


def unknown_operator(error: UnknownOperator) -> UnknownOperator:
    """The error as a server user should read it: a name close to a known operator is most likely
    a typo and keeps its suggestion; otherwise `digpy plugins` on the user's machine may well list
    the operator (installed after the server started, or not where the server runs)."""
    if error.suggestion:
        return error
    return UnknownOperator(error.operator, location=error.location, hint=RESTART_HINT, task=error.task)
