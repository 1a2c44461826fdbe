"""The plugin manager: built-in plugins and the packages registered under the entry-point group `digpy`.

A plugin package that fails to import (or whose operator hook fails) is set aside, not fatal: every
other operator keeps working, the commands report it (`Registry.broken`), and a task that names an
operator no plugin registers fails with the plugins' errors (`Registry.explain`).

Finding entry points means importing importlib.metadata and reading every installed package's
metadata (~20 ms of every start, measured in docs/performance.md), so the list found is kept in
`~/.cache/digpy/entry-points.json`, keyed by the interpreter and the modification time of every
directory on sys.path: installing, upgrading or removing a package adds or removes a metadata
directory in one of them, which changes its time.
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
from digpy.core.spi import (
    PROJECT_NAME,
    FailedAttempt,
    Hookspecs,
    Operator,
    OperatorRef,
    SecretProvider,
    SlaMiss,
)
from digpy.core.workflow.spec import OperatorSet

log = logging.getLogger("digpy.plugins")

# Default plugins, registered first through the same hooks as third-party packages: the built-in
# operators (by reference, imported on first use), the local secret file and running commands here
# (one registration: pluggy's inspection of each costs ~1 % of a local run's start-up), and Docker.
# Their hooks are asked last where order matters, so that a plugin can replace each of them.
DEFAULTS = ("digpy.plugins.builtin", "digpy.core.local_secrets", "digpy.core.engine.local_commands")
DEFAULT_PLUGINS = (*DEFAULTS, "digpy.plugins.docker", "digpy.plugins.docker_shared")
DEFAULT_NAME = "digpy"  # the registration of DEFAULTS

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
    """Every operator known to this process, by name; those registered by reference (OperatorRef,
    as the built-in ones are) are imported on first use."""

    def __init__(self, operators: dict[str, OperatorInfo], manager: pluggy.PluginManager,
                 lazy: dict[str, tuple[OperatorRef, str, str, str]] | None = None,
                 broken: list[BrokenPlugin] | None = None) -> None:
        self._operators = operators
        self._lazy = dict(lazy or {})  # name -> (reference, plugin, distribution, version), not imported yet
        self.manager = manager
        self.broken = list(broken or [])  # installed plugins that failed to load

    def explain(self, error: UnknownOperator) -> UnknownOperator:
        """`error`, saying which plugins failed to load if any did: the operator may be theirs."""
        if not self.broken:
            return error
        return UnknownOperator(error.operator, location=error.location,
                               hint="; ".join(str(b) for b in self.broken))

    def names(self) -> OperatorSet:
        """Every operator's name, with the traits loading and running a workflow act on."""
        adds = {n for n, i in self._operators.items() if getattr(i.operator, "adds_tasks", False)}
        calls = {n for n, i in self._operators.items() if getattr(i.operator, "calls_workflow", False)}
        adds.update(n for n, (ref, *_rest) in self._lazy.items() if ref.adds_tasks)
        calls.update(n for n, (ref, *_rest) in self._lazy.items() if ref.calls_workflow)
        return OperatorSet({*self._operators, *self._lazy}, adds_tasks=adds, calls_workflow=calls)

    def get(self, name: str) -> Operator | None:
        info = self._operators.get(name) or self._load(name)
        return info.operator if info else None

    @property
    def operators(self) -> dict[str, OperatorInfo]:
        """Every operator, those registered by reference loaded."""
        for name in list(self._lazy):
            self._load(name)
        return self._operators

    def _load(self, name: str) -> OperatorInfo | None:
        found = self._lazy.pop(name, None)
        if found is None:
            return None
        ref, plugin, dist, version = found
        module = importlib.import_module(ref.module)
        for cls in module.digpy_register_operators():
            if getattr(cls, "name", None) == name and not isinstance(cls, OperatorRef):
                self._operators[name] = OperatorInfo(name, cls(), ref.module if dist == "digpy" else plugin,
                                                     dist, version)
                return self._operators[name]
        raise PluginError(f"plugin {plugin} ({dist}) registered the operator '{name}>' in {ref.module}, "
                          "which does not register it")

    def secret_providers(self) -> list[SecretProvider]:
        """Every registered secret provider, built-in ones first."""
        providers: list[SecretProvider] = []
        for found in reversed(self.manager.hook.digpy_register_secret_providers()):
            providers.extend(found or [])
        return providers

    def notify_failure(self, attempt: FailedAttempt) -> None:
        """Tell every plugin that an attempt did not succeed; a failing plugin is only logged."""
        self._notify(self.manager.hook.digpy_notify_failure, "a failure notification", attempt=attempt)

    def notify_sla(self, miss: SlaMiss) -> None:
        """Tell every plugin that an SLA was missed; a failing plugin is only logged."""
        self._notify(self.manager.hook.digpy_notify_sla, "an SLA notification", miss=miss)

    async def attempt_ended(self, attempt: str) -> None:
        """Tell every plugin that an attempt ended here and wait for what they release; a failing
        plugin is only logged."""
        for impl in self.manager.hook.digpy_attempt_ended.get_hookimpls():
            try:
                work: Any = impl.function(attempt=attempt)
                if work is not None:
                    await work
            except Exception:
                log.exception("plugin %s failed to release attempt %s", impl.plugin_name, attempt)

    def attempts_stale(self, attempts: list[str]) -> None:
        """Tell every plugin that attempts a dead runner may have had are about to run again (blocks)."""
        self._notify(self.manager.hook.digpy_attempt_stale, "stale attempts", attempts=attempts)

    @staticmethod
    def _notify(hook: Any, what: str, **kwargs: Any) -> None:
        for impl in hook.get_hookimpls():
            try:
                impl.function(**kwargs)
            except Exception:
                log.exception("plugin %s failed to handle %s", impl.plugin_name, what)


def load_registry(*, entry_points: bool = True, extra: tuple[Any, ...] = ()) -> Registry:
    """Register the built-in plugins, then every installed plugin package, then `extra` plugin objects."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(Hookspecs)
    sources: dict[str, tuple[str, str]] = {}
    manager.register(_hooks_of(*(importlib.import_module(m) for m in DEFAULTS)), name=DEFAULT_NAME)
    sources[DEFAULT_NAME] = ("digpy", _own_version())
    for module_name in DEFAULT_PLUGINS[len(DEFAULTS):]:
        manager.register(_hooks_of(importlib.import_module(module_name)), name=module_name)
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
    lazy: dict[str, tuple[OperatorRef, str, str, str]] = {}
    origin: dict[str, tuple[str, str]] = {}  # name -> (distribution, plugin) that registered it
    # Plugins first, defaults (the built-in operators) last: a plugin's operator replaces a default one.
    impls = sorted(manager.hook.digpy_register_operators.get_hookimpls(),
                   key=lambda impl: impl.plugin_name in (DEFAULT_NAME, *DEFAULT_PLUGINS))
    for impl in impls:
        plugin_name = impl.plugin_name
        dist, version = sources.get(plugin_name, (plugin_name, ""))
        default = plugin_name in (DEFAULT_NAME, *DEFAULT_PLUGINS)
        try:
            found: Any = impl.function() or []
        except Exception as e:
            if plugin_name not in entry_names:  # a built-in one, or one a caller passed: a bug to show
                raise PluginError(f"plugin {plugin_name} ({dist}) failed to register operators: {e}") from None
            broken.append(BrokenPlugin(entry_names[plugin_name], dist, version,
                                       f"failed to register its operators: {_describe(e)}"))
            manager.unregister(name=plugin_name)
            continue
        for item in found:
            op_name = getattr(item, "name", None)
            if not isinstance(op_name, str) or not op_name:
                raise PluginError(f"plugin {plugin_name} ({dist}) registered {item!r} without a name")
            if op_name in origin:
                if default:
                    log.debug("operator %s> of %s replaces the built-in one", op_name, origin[op_name][0])
                    continue
                first_dist, first_plugin = origin[op_name]
                raise PluginError(
                    f"two plugins register the operator '{op_name}>': {first_dist} ({first_plugin}) "
                    f"and {dist} ({plugin_name})",
                    hint="uninstall one of the two packages",
                )
            origin[op_name] = (dist, plugin_name)
            if isinstance(item, OperatorRef):
                lazy[op_name] = (item, plugin_name, dist, version)
            else:
                operators[op_name] = OperatorInfo(op_name, item(), plugin_name, dist, version)
    return Registry(operators, manager, lazy, broken)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _hooks_of(*modules: Any) -> Any:
    """Only the hook implementations of built-in plugin modules, as one object: pluggy inspects
    every attribute of what it registers, and a module's imports are most of them (3 ms of each
    start-up)."""
    marker = f"{PROJECT_NAME}_impl"
    found = {name: value for module in modules for name, value in vars(module).items() if hasattr(value, marker)}
    return type(modules[0].__name__, (), {name: staticmethod(value) for name, value in found.items()})


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
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in found]
    from importlib import metadata

    found = [
        (ep.name, ep.value, ep.dist.name if ep.dist else ep.value, ep.dist.version if ep.dist else "?")
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
    ]
    kept = dict(list(cached.items())[-31:])  # interpreters (virtual environments) and working directories
    kept[key] = found
    try:
        replace_private(cache_file, json.dumps(kept).encode("utf-8"))
    except OSError:  # a read-only home: look the entry points up again next time
        pass
    return found


def _path_key() -> str:
    """What the entry points depend on: the interpreter and the time of each directory on sys.path.
    Installing, upgrading, reinstalling or removing a package adds or removes a metadata directory
    (`name-version.dist-info`) in one of them, which changes that directory's time."""
    parts = [sys.executable]
    for entry in sys.path:
        try:
            parts.append(f"{entry}={os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            continue
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _load_entry_point(value: str) -> Any:
    """The object an entry point names: `package.module` or `package.module:attr.attr`."""
    module_name, _, attrs = value.partition("[")[0].strip().partition(":")
    module = importlib.import_module(module_name.strip())
    return functools.reduce(getattr, filter(None, attrs.strip().split(".")), module)


def _own_version() -> str:
    from digpy import __version__

    return __version__
