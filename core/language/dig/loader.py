"""Load `.dig` (YAML) files into plain data that remembers where every key and value came from.

Strict on purpose: duplicate keys are an error, dates and times stay strings, unknown tags are an
error, and `!include` pulls in another file of the project (never one outside the including
file's directory).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.registry import record_read
from digpy.core.workflow.located import ConfigList, ConfigMap

if TYPE_CHECKING:
    from ruamel.yaml.nodes import MappingNode, Node

INCLUDE_TAG = "!include"
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STANDARD = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


@functools.cache
def _composer() -> Callable[[str], Any]:
    """text -> the document's root node (or None). ruamel.yaml is imported here, on the first
    file parsed: a run whose workflow comes from the compiled cache never needs it."""
    try:  # ruamel.yaml.clib: the C parser composes large files ~6x faster than the pure-Python one
        from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
        from ruamel.yaml.resolver import VersionedResolver

        class CComposer(CParser, VersionedResolver):  # type: ignore[misc]
            def __init__(self, text: str) -> None:
                CParser.__init__(self, text)
                VersionedResolver.__init__(self, version=(1, 2), loader=self)

        return lambda text: CComposer(text).get_single_node()
    except ImportError:  # pragma: no cover - the pure-Python parser gives the same nodes
        return lambda text: _new_yaml().compose(text)


def _new_yaml() -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True)


def load_file(path: Path, *, display_root: Path | None = None) -> ConfigMap:
    """Load a workflow file; the top level must be a mapping (an empty file is an empty mapping)."""
    loader = _Loader(display_root or path.parent)
    data = loader.load(path, ())
    if data is None:
        return ConfigMap(Location(loader.display(path), 1, 1))
    if not isinstance(data, ConfigMap):
        raise ConfigError(
            "a workflow file must be a mapping of keys to values",
            location=Location(loader.display(path), 1, 1),
        )
    return data


def load_documents(path: Path, *, display_root: Path | None = None) -> list[Any]:
    """Every YAML document of a file (`---` between them), as located data (`!include` is refused:
    a multi-document file is a Dagu DAG file, which has no includes)."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    loader = _Loader(display_root or path.parent)
    name = loader.display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{name} is not UTF-8 text ({e.reason})") from None
    record_read(path, text)
    try:
        nodes = list(_new_yaml().compose_all(text))
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
        raise ConfigError(f"invalid YAML: {e.problem or e.context or 'invalid YAML'}", location=loc) from None
    except YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", location=Location(name, 1, 1)) from None
    builder = _Builder(loader, name, None, ())
    return [None if node is None else builder.build(node) for node in nodes]


def load_text(text: str, name: str = "<string>") -> ConfigMap:
    """Load workflow text given as a string (`!include` is not available)."""
    loader = _Loader(None)
    data = loader.from_text(text, name, None, ())
    if data is None:
        return ConfigMap(Location(name, 1, 1))
    if not isinstance(data, ConfigMap):
        raise ConfigError("a workflow must be a mapping of keys to values", location=Location(name, 1, 1))
    return data


class _Loader:
    def __init__(self, display_root: Path | None) -> None:
        self.display_root = display_root
        self._yaml: Any = None  # made for the first int/float/bool/null scalar (its constructor caches nodes)

    @property
    def yaml(self) -> Any:
        if self._yaml is None:
            self._yaml = _new_yaml()
        return self._yaml

    def display(self, path: Path) -> str:
        if self.display_root is not None:
            try:
                return str(path.resolve().relative_to(self.display_root.resolve()))
            except ValueError:
                pass
        return str(path)

    def load(self, path: Path, stack: tuple[Path, ...], link: Path | None = None) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"file not found: {self.display(path)}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{self.display(path)} is not UTF-8 text ({e.reason})") from None
        record_read(path, text)
        if link is not None and link != path:  # `!include` of a symlink: re-pointing it is a change
            record_read(link, text)
        return self.from_text(text, self.display(path), path, (*stack, path.resolve()))

    def from_text(self, text: str, name: str, path: Path | None, stack: tuple[Path, ...]) -> Any:
        from ruamel.yaml.error import MarkedYAMLError, YAMLError

        try:
            node = _composer()(text)
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
            problem = e.problem or e.context or "invalid YAML"
            hint = None
            if mark is not None and text[mark.index:mark.index + 1] == "\t":
                hint = "YAML does not allow tabs for indentation: indent with spaces"
            raise ConfigError(f"invalid YAML: {problem}", location=loc, hint=hint) from None
        except YAMLError as e:
            raise ConfigError(f"invalid YAML: {e}", location=Location(name, 1, 1)) from None
        if node is None:
            return None
        return _Builder(self, name, path, stack).build(node)


class _Builder:
    def __init__(self, loader: _Loader, name: str, path: Path | None, stack: tuple[Path, ...]) -> None:
        self.loader = loader
        self.name = name
        self.path = path
        self.stack = stack

    def loc(self, node: Node) -> Location:
        return Location(self.name, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node) -> Any:
        if node.id == "mapping":  # type: ignore[attr-defined]
            return self.mapping(node)  # type: ignore[arg-type]
        if node.id == "sequence":  # type: ignore[attr-defined]
            out = ConfigList(self.loc(node))
            for item in node.value:
                out.append(self.build(item))
                out.item_locs.append(self.loc(item))
            return out
        return self.scalar(node)

    def scalar(self, node: Node) -> Any:
        tag = node.tag
        if tag == INCLUDE_TAG:
            return self.include(node, as_key=False)
        if tag == _TIMESTAMP:
            return node.value
        if tag not in _STANDARD:
            raise ConfigError(f"unknown YAML tag '{tag}'", location=self.loc(node), hint="only !include is supported")
        if tag == _STR:
            return node.value
        return self.loader.yaml.constructor.construct_object(node, deep=True)

    def mapping(self, node: MappingNode) -> ConfigMap:
        out = ConfigMap(self.loc(node))
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError("YAML merge keys (<<) are not supported", location=self.loc(key_node),
                                  hint="use !include or _export")
            if key_node.tag == INCLUDE_TAG:
                included = self.include(value_node, as_key=True)
                if not isinstance(included, dict):
                    raise ConfigError("a file included as a key must hold a mapping", location=self.loc(value_node))
                _deep_merge_into(out, included)
                continue
            if key_node.id != "scalar":
                raise ConfigError("a key must be a plain string", location=self.loc(key_node))
            key = key_node.value if key_node.tag in (_STR, _TIMESTAMP) else _key_text(self.scalar(key_node))
            if key in out:
                first = out.key_locs[key]
                raise ConfigError(
                    f"duplicated key '{key}' (first at line {first.line})", location=self.loc(key_node)
                )
            out[key] = self.build(value_node)
            out.key_locs[key] = self.loc(key_node)
            out.value_locs[key] = self.loc(value_node)
        return out

    def include(self, node: Node, *, as_key: bool) -> Any:
        loc = self.loc(node)
        if self.path is None:
            raise ConfigError("!include is only available in files", location=loc)
        target = node.value if node.id == "scalar" else None  # type: ignore[attr-defined]
        if not isinstance(target, str) or not target:
            form = "!include : 'file.dig'" if as_key else "key: !include 'file.dig'"
            raise ConfigError("!include needs a file name", location=loc, hint=f"write {form}")
        base = self.path.parent.resolve()
        full = (base / target).resolve()
        if not full.is_relative_to(base):
            raise ConfigError(f"!include '{target}' points outside the directory of {self.name}", location=loc)
        if full in self.stack:
            raise ConfigError(f"!include '{target}' includes itself (a cycle)", location=loc)
        if not full.is_file():
            raise ConfigError(f"!include '{target}': file not found", location=loc)
        return self.loader.load(full, self.stack, link=base / target)


def _key_text(value: Any) -> str:
    """A non-string YAML key as text, as JSON writes it: `true: x` is the key "true", not "True"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _deep_merge_into(target: ConfigMap, source: dict[str, Any]) -> None:
    for key, value in source.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged = ConfigMap(getattr(current, "loc", None))
            _deep_merge_into(merged, current)
            _deep_merge_into(merged, value)
            target[key] = merged
        else:
            target[key] = value
        if isinstance(source, ConfigMap) and key in source.key_locs:
            target.key_locs[key] = source.key_locs[key]
            target.value_locs[key] = source.value_locs[key]
