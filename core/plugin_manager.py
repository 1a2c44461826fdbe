"""The plugin manager: built-in plugins and the packages registered under the entry-point group `digpy`.

A plugin package that fails to import (or whose operator hook fails) is set aside, not fatal: every
other operator keeps working, the commands report it (`Registry.broken`), and a task that names an
operator no plugin registers fails with the plugins' errors (`Registry.explain`).

Finding entry points means importing importlib.metadata and reading every installed package's
metadata (~20 ms of every start, measured in docs/performance.md), so the list found is kept in
`~/.cache/digpy/entry-points.json`, keyed by the interpreter and the name and modification time of
every package metadata directory on sys.path: installing, upgrading or removing a package changes them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import logging
import os
import sys
from typing import Any, NamedTuple

import pluggy

from digpy.core.errors import PluginError, UnknownOperator
from digpy.core.paths import cache_dir, replace_private
from digpy.core.spi import PROJECT_NAME, FailedAttempt, Hookspecs, Operator, SecretProvider

log = logging.getLogger("digpy.plugins")

# Built-in plugins with hooks besides operators: registered with pluggy at start, through the same
# hooks as third-party packages.
DEFAULT_PLUGINS = (
    "digpy.core.local_secrets",
    "digpy.plugins.docker",
)
# Built-in operators whose module has no other hook, imported the first time a task uses them:
# importing and registering all of them cost 9 % of a local run's start-up (measured in
# docs/performance.md). tests/unit/test_plugins.py keeps this table equal to what the modules register.
BUILTIN_OPERATORS = {
    "echo": "digpy.plugins.echo",
    "fail": "digpy.plugins.fail",
    "sh": "digpy.plugins.sh",
    "py": "digpy.plugins.py",
    "call": "digpy.plugins.call",
    "require": "digpy.plugins.require",
    "loop": "digpy.plugins.loop",
    "for_each": "digpy.plugins.for_each",
    "for_range": "digpy.plugins.for_range",
    "if": "digpy.plugins.if_",
    "wait": "digpy.plugins.wait",
    "http": "digpy.plugins.http",
    "http_call": "digpy.plugins.http_call",
    "mail": "digpy.plugins.mail",
    "pg": "digpy.plugins.pg",
}
ENTRY_POINT_GROUP = "digpy"


class OperatorInfo(NamedTuple):
    """An operator and where it comes from."""

    name: str
    operator: Operator
    plugin: str  # the module that registered it
    distribution: str  # the package that provides it ("digpy" for built-ins)
    version: str


class BrokenPlugin(NamedTuple):
    """An installed plugin that could not be loaded, and why."""

    name: str  # the entry point's name
    distribution: str
    version: str
    problem: str  # "failed to import: ModuleNotFoundError: No module named 'x'"

    def __str__(self) -> str:
        return (f"plugin '{self.name}' of package {self.distribution} {self.version} {self.problem}; "
                f"fix or uninstall {self.distribution} (pip uninstall {self.distribution})")


class Registry:
    """Every operator known to this process, by name; built-in ones are loaded on first use."""

    def __init__(self, operators: dict[str, OperatorInfo], manager: pluggy.PluginManager,
                 lazy: dict[str, str] | None = None, broken: list[BrokenPlugin] | None = None) -> None:
        self._operators = operators
        self._lazy = dict(lazy or {})  # operator name -> built-in module not imported yet
        self.manager = manager
        self.broken = list(broken or [])  # installed plugins that failed to load

    def explain(self, error: UnknownOperator) -> UnknownOperator:
        """`error`, saying which plugins failed to load if any did: the operator may be theirs."""
        if not self.broken:
            return error
        return UnknownOperator(error.operator, location=error.location,
                               hint="; ".join(str(b) for b in self.broken))

    def names(self) -> list[str]:
        return sorted({*self._operators, *self._lazy})

    def get(self, name: str) -> Operator | None:
        info = self._operators.get(name) or self._load(name)
        return info.operator if info else None

    @property
    def operators(self) -> dict[str, OperatorInfo]:
        """Every operator, the built-in ones loaded."""
        for name in list(self._lazy):
            self._load(name)
        return self._operators

    def _load(self, name: str) -> OperatorInfo | None:
        module_name = self._lazy.get(name)
        if module_name is None:
            return None
        module = importlib.import_module(module_name)
        for cls in module.digpy_register_operators():
            if self._lazy.get(cls.name) == module_name:
                del self._lazy[cls.name]
                self._operators[cls.name] = OperatorInfo(cls.name, cls(), module_name, "digpy", _own_version())
        return self._operators.get(name)

    def secret_providers(self) -> list[SecretProvider]:
        """Every registered secret provider, built-in ones first."""
        providers: list[SecretProvider] = []
        for found in reversed(self.manager.hook.digpy_register_secret_providers()):
            providers.extend(found or [])
        return providers

    def notify_failure(self, attempt: FailedAttempt) -> None:
        """Tell every plugin that an attempt did not succeed; a failing plugin is only logged."""
        for impl in self.manager.hook.digpy_notify_failure.get_hookimpls():
            try:
                impl.function(attempt=attempt)
            except Exception:
                log.exception("plugin %s failed to handle a failure notification", impl.plugin_name)


def load_registry(*, entry_points: bool = True, extra: tuple[Any, ...] = ()) -> Registry:
    """Register the built-in plugins, then every installed plugin package, then `extra` plugin objects."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(Hookspecs)
    sources: dict[str, tuple[str, str]] = {}
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        manager.register(_hooks_of(module), name=module_name)
        sources[module_name] = ("digpy", _own_version())
    broken: list[BrokenPlugin] = []
    entry_names: dict[str, str] = {}  # plugin name -> entry point name
    if entry_points:
        for name, value, dist, version in installed_entry_points():
            try:
                plugin = _load_entry_point(value)
            except (Exception, SystemExit) as e:  # a broken package must not stop the others
                broken.append(BrokenPlugin(name, dist, version, f"failed to import: {_describe(e)}"))
                continue
            manager.register(plugin, name=f"{dist}:{name}")
            sources[f"{dist}:{name}"] = (dist, version)
            entry_names[f"{dist}:{name}"] = name
    for plugin in extra:
        if manager.is_registered(plugin):  # already installed through its entry point
            continue
        name = getattr(plugin, "__name__", repr(plugin))
        manager.register(plugin, name=name)
        sources[name] = (name, "")
    operators: dict[str, OperatorInfo] = {}
    for impl in manager.hook.digpy_register_operators.get_hookimpls():
        plugin_name = impl.plugin_name
        dist, version = sources.get(plugin_name, (plugin_name, ""))
        try:
            classes = impl.function() or []
        except Exception as e:
            if plugin_name not in entry_names:  # a built-in one, or one a caller passed: a bug to show
                raise PluginError(f"plugin {plugin_name} ({dist}) failed to register operators: {e}") from None
            broken.append(BrokenPlugin(entry_names[plugin_name], dist, version,
                                       f"failed to register its operators: {_describe(e)}"))
            manager.unregister(name=plugin_name)
            continue
        for cls in classes:
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {plugin_name} ({dist}) registered {cls!r} without a name")
            if name in operators or name in BUILTIN_OPERATORS:
                first = operators.get(name)
                first_dist, first_plugin = (
                    ("digpy", BUILTIN_OPERATORS[name]) if first is None else (first.distribution, first.plugin))
                raise PluginError(
                    f"two plugins register the operator '{name}>': {first_dist} ({first_plugin}) "
                    f"and {dist} ({plugin_name})",
                    hint="uninstall one of the two packages",
                )
            operators[name] = OperatorInfo(name, cls(), plugin_name, dist, version)
    return Registry(operators, manager, BUILTIN_OPERATORS, broken)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _hooks_of(module: Any) -> Any:
    """Only the hook implementations of a built-in plugin module: pluggy inspects every attribute
    of what it registers, and a module's imports are most of them (3 ms of each start-up)."""
    marker = f"{PROJECT_NAME}_impl"
    found = {name: value for name, value in vars(module).items() if hasattr(value, marker)}
    return type(module.__name__, (), {name: staticmethod(value) for name, value in found.items()})


def installed_entry_points() -> list[tuple[str, str, str, str]]:
    """(name, value, package, version) of every entry point in the `digpy` group, from the cache
    when sys.path has not changed since it was written."""
    key = _path_key()
    cache_file = cache_dir() / "entry-points.json"
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    if not isinstance(cached, dict):
        cached = {}
    found = cached.get(key)
    if isinstance(found, list):
        return [tuple(item) for item in found]  # type: ignore[misc]
    from importlib import metadata

    found = [
        (ep.name, ep.value, ep.dist.name if ep.dist else ep.value, ep.dist.version if ep.dist else "?")
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
    ]
    kept = dict(list(cached.items())[-7:])  # a few interpreters and working directories
    kept[key] = found
    try:
        replace_private(cache_file, json.dumps(kept).encode("utf-8"))
    except OSError:  # a read-only home: look the entry points up again next time
        pass
    return found


def _path_key() -> str:
    """What the entry points depend on: the interpreter and each package's metadata directory
    (a package installed again gets a new directory, with a new time)."""
    parts = [sys.executable]
    for entry in sys.path:
        directory = entry or "."
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                try:
                    stamp = os.stat(os.path.join(directory, name)).st_mtime_ns
                except OSError:
                    stamp = 0
                parts.append(f"{directory}/{name}={stamp}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _load_entry_point(value: str) -> Any:
    """The object an entry point names: `package.module` or `package.module:attr.attr`."""
    module_name, _, attrs = value.partition("[")[0].strip().partition(":")
    module = importlib.import_module(module_name.strip())
    return functools.reduce(getattr, filter(None, attrs.strip().split(".")), module)


def _own_version() -> str:
    from digpy import __version__

    return __version__
