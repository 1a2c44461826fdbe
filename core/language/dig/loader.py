"""Load `.dig` (YAML) files into plain data that remembers where every key and value came from.

Strict on purpose: duplicate keys are an error, dates and times stay strings, unknown tags are an
error (on scalars, sequences and mappings alike), and `!include` pulls in another file of the
project (never one outside the including file's directory).

Bounded on purpose, because a pushed project is hostile input for a server: the values are built
from the parser's event stream (libyaml's parser keeps its own stack, so no nesting depth can
overflow the C stack the way its recursive composer does), with limits on nesting depth, on the
number of values built (each copy made by an alias and each included file counts), on the number
of `!include`s and on the size of a file. Every limit is a located ConfigError.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.registry import record_read
from digpy.core.workflow.located import ConfigList, ConfigMap

INCLUDE_TAG = "!include"
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_STANDARD = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")

MAX_DEPTH = 100  # mappings and sequences inside each other, across !include
MAX_VALUES = 250_000  # values built in one load: aliases copy, !include reads again, both count
MAX_INCLUDES = 500  # !include evaluated in one load
MAX_FILE_CHARS = 4 * 1024 * 1024
_SPLIT_HINT = "split the workflow with call> or !include"


@functools.cache
def _parser() -> Callable[[str], Callable[[], Any]]:
    """text -> a function that returns the next YAML event. ruamel.yaml is imported here, on the
    first file parsed: a run whose workflow comes from the compiled cache never needs it."""
    try:  # ruamel.yaml.clib: libyaml's parser, ~6x faster than the pure-Python one
        from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]

        return lambda text: CParser(text).get_event
    except ImportError:  # pragma: no cover - the pure-Python parser gives the same events
        return lambda text: iter(_new_yaml().parse(text)).__next__


@functools.cache
def _events() -> Any:
    import ruamel.yaml.events

    return ruamel.yaml.events


@functools.cache
def _resolver() -> Any:
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(version=(1, 2))


def _new_yaml() -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True)


def load_file(path: Path, *, display_root: Path | None = None) -> ConfigMap:
    """Load a workflow file; the top level must be a mapping (an empty file is an empty mapping)."""
    loader = _Loader(display_root or path.parent)
    data = loader.load(path, (), 0)
    if data is None:
        return ConfigMap(Location(loader.display(path), 1, 1))
    if not isinstance(data, ConfigMap):
        raise ConfigError(
            "a workflow file must be a mapping of keys to values",
            location=Location(loader.display(path), 1, 1),
        )
    return data


def load_text(text: str, name: str = "<string>") -> ConfigMap:
    """Load workflow text given as a string (`!include` is not available)."""
    loader = _Loader(None)
    data = loader.from_text(text, name, None, (), 0)
    if data is None:
        return ConfigMap(Location(name, 1, 1))
    if not isinstance(data, ConfigMap):
        raise ConfigError("a workflow must be a mapping of keys to values", location=Location(name, 1, 1))
    return data


class _Loader:
    """One load: the files it reads share the limits."""

    def __init__(self, display_root: Path | None) -> None:
        self.display_root = display_root
        self.values = 0
        self.includes = 0
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

    def load(self, path: Path, stack: tuple[Path, ...], depth: int, link: Path | None = None) -> Any:
        try:
            if path.stat().st_size > MAX_FILE_CHARS * 4:
                raise ConfigError(f"{self.display(path)} is larger than {MAX_FILE_CHARS // 1048576} MiB",
                                  location=Location(self.display(path), 1, 1), hint=_SPLIT_HINT)
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"file not found: {self.display(path)}") from None
        except UnicodeDecodeError as e:
            before = e.object[:e.start].decode("utf-8", "replace")
            line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
            raise ConfigError(f"the file is not UTF-8 text ({e.reason})",
                              location=Location(self.display(path), line, col),
                              hint="save it as UTF-8") from None
        record_read(path, text)
        if link is not None and link != path:  # `!include` of a symlink: re-pointing it is a change
            record_read(link, text)
        return self.from_text(text, self.display(path), path, (*stack, path.resolve()), depth)

    def from_text(self, text: str, name: str, path: Path | None, stack: tuple[Path, ...], depth: int) -> Any:
        from ruamel.yaml.error import MarkedYAMLError, YAMLError
        from ruamel.yaml.reader import ReaderError

        if len(text) > MAX_FILE_CHARS:
            raise ConfigError(f"{name} is larger than {MAX_FILE_CHARS // 1048576} MiB",
                              location=Location(name, 1, 1), hint=_SPLIT_HINT)
        try:
            return _Builder(self, name, path, stack, _parser()(text)).document(depth)
        except UnicodeEncodeError as e:  # a lone surrogate (text that did not come from a UTF-8 file)
            before = text[:e.start]
            line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
            raise ConfigError(f"invalid YAML: character U+{ord(text[e.start]):04X} is not valid Unicode",
                              location=Location(name, line, col)) from None
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
            problem = _one_line(e.problem or e.context or "invalid YAML")
            hint = None
            if mark is not None and text[mark.index:mark.index + 1] == "\t":
                hint = "YAML does not allow tabs for indentation: indent with spaces"
            raise ConfigError(f"invalid YAML: {problem}", location=loc, hint=hint) from None
        except ReaderError as e:  # a character YAML does not allow; libyaml counts its position in bytes
            before = text.encode("utf-8", "surrogatepass")[:e.position].decode("utf-8", "ignore")
            line = before.count("\n") + 1
            col = len(before) - (before.rfind("\n") + 1) + 1
            char = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "\0")
            raise ConfigError(f"invalid YAML: character U+{char:04X} is not allowed ({_one_line(e.reason)})",
                              location=Location(name, line, col),
                              hint="remove it or write it as an escape such as \\x01 in a double-quoted string"
                              ) from None
        except YAMLError as e:
            raise ConfigError(f"invalid YAML: {_one_line(str(e))}", location=Location(name, 1, 1)) from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Builder:
    """Builds one file's values from its events, recursing at most MAX_DEPTH levels."""

    def __init__(self, loader: _Loader, name: str, path: Path | None, stack: tuple[Path, ...],
                 next_event: Callable[[], Any]) -> None:
        self.loader = loader
        self.name = name
        self.path = path
        self.stack = stack
        self.next_event = next_event
        self.anchors: dict[str, tuple[Any, int, Location]] = {}
        self.open_anchors: set[str] = set()
        self.ev = _events()

    def loc(self, event: Any) -> Location:
        mark = event.start_mark
        return Location(self.name, mark.line + 1, mark.column + 1)

    def document(self, depth: int) -> Any:
        ev = self.ev
        event = self.next_event()  # StreamStartEvent
        event = self.next_event()
        if isinstance(event, ev.StreamEndEvent):
            return None
        value, _ = self.value(self.next_event(), depth)
        self.next_event()  # DocumentEndEvent
        event = self.next_event()
        if not isinstance(event, ev.StreamEndEvent):
            raise ConfigError("invalid YAML: a workflow file holds one document, found another",
                              location=self.loc(event), hint="remove the '---' line")
        return value

    def spend(self, count: int, loc: Location) -> None:
        self.loader.values += count
        if self.loader.values > MAX_VALUES:
            raise ConfigError(f"the workflow has more than {MAX_VALUES:,} values (counting each copy made by "
                              "an alias and each !include)", location=loc, hint=_SPLIT_HINT)

    def value(self, event: Any, depth: int) -> tuple[Any, Location]:
        """The value that starts with `event`, and its location."""
        ev = self.ev
        if isinstance(event, ev.AliasEvent):
            return self.alias(event)
        loc = self.loc(event)
        if depth >= MAX_DEPTH:
            raise ConfigError(f"values are nested more than {MAX_DEPTH} levels deep", location=loc,
                              hint=_SPLIT_HINT)
        start = self.loader.values
        self.spend(1, loc)
        anchor = event.anchor
        if anchor is not None:
            self.open_anchors.add(anchor)
        if isinstance(event, ev.ScalarEvent):
            value = self.scalar(event, loc, depth)
        elif isinstance(event, ev.SequenceStartEvent):
            value = self.sequence(event, loc, depth)
        elif isinstance(event, ev.MappingStartEvent):
            value = self.mapping(event, loc, depth)
        else:  # pragma: no cover - the parser only starts values with these
            raise ConfigError(f"invalid YAML: unexpected {type(event).__name__}", location=loc)
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.anchors[anchor] = (value, self.loader.values - start, loc)
        return value, loc

    def alias(self, event: Any) -> tuple[Any, Location]:
        loc = self.loc(event)
        name = event.anchor
        if name in self.open_anchors:
            raise ConfigError(f"the alias *{name} refers to a value that contains it (a cycle)", location=loc)
        if name not in self.anchors:
            raise ConfigError(f"invalid YAML: found undefined alias '{name}'", location=loc,
                              hint=f"define it first with &{name}")
        value, size, where = self.anchors[name]
        self.spend(size, loc)
        return _copy(value), where

    def tag(self, event: Any) -> str | None:
        tag = event.tag
        return None if tag is None else str(tag)

    def scalar(self, event: Any, loc: Location, depth: int) -> Any:
        tag = self.tag(event)
        if tag == INCLUDE_TAG:
            return self.include(event, loc, depth, as_key=False)
        if tag is None or tag == "!":
            from ruamel.yaml.nodes import ScalarNode

            tag = str(_resolver().resolve(ScalarNode, event.value, event.implicit))
        if tag == _TIMESTAMP or tag == _STR:
            return event.value
        if tag not in _STANDARD:
            raise ConfigError(f"unknown YAML tag '{tag}'", location=loc, hint="only !include is supported")
        from ruamel.yaml.nodes import ScalarNode

        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark)
        return self.loader.yaml.constructor.construct_object(node, deep=True)

    def collection_tag(self, event: Any, loc: Location, allowed: tuple[str | None, ...]) -> None:
        tag = self.tag(event)
        if tag in allowed:
            return
        if tag == INCLUDE_TAG:
            raise ConfigError("!include needs a file name", location=loc, hint="write key: !include 'file.dig'")
        raise ConfigError(f"unknown YAML tag '{tag}'", location=loc, hint="only !include is supported")

    def sequence(self, event: Any, loc: Location, depth: int) -> ConfigList:
        self.collection_tag(event, loc, _SEQ_TAGS)
        out = ConfigList(loc)
        end = self.ev.SequenceEndEvent
        while not isinstance(event := self.next_event(), end):
            item, item_loc = self.value(event, depth + 1)
            out.append(item)
            out.item_locs.append(item_loc)
        return out

    def mapping(self, event: Any, loc: Location, depth: int) -> ConfigMap:
        self.collection_tag(event, loc, _MAP_TAGS)
        ev = self.ev
        out = ConfigMap(loc)
        while not isinstance(key_event := self.next_event(), ev.MappingEndEvent):
            key_loc = self.loc(key_event)
            if not isinstance(key_event, ev.ScalarEvent):
                raise ConfigError("a key must be a plain string", location=key_loc)
            tag = self.tag(key_event)
            if tag == INCLUDE_TAG:
                value_event = self.next_event()
                included = self.include(value_event, self.loc(value_event), depth, as_key=True)
                if not isinstance(included, dict):
                    raise ConfigError("a file included as a key must hold a mapping",
                                      location=self.loc(value_event))
                _deep_merge_into(out, included)
                continue
            if tag is None and key_event.implicit[0] and key_event.value == "<<":
                raise ConfigError("YAML merge keys (<<) are not supported", location=key_loc,
                                  hint="use !include or _export")
            self.spend(1, key_loc)
            key = key_event.value if tag in (_STR, _TIMESTAMP) else _key_text(self.scalar(key_event, key_loc, depth))
            if key in out:
                first = out.key_locs[key]
                raise ConfigError(f"duplicated key '{key}' (first at line {first.line})", location=key_loc)
            value, value_loc = self.value(self.next_event(), depth + 1)
            out[key] = value
            out.key_locs[key] = key_loc
            out.value_locs[key] = value_loc
        return out

    def include(self, event: Any, loc: Location, depth: int, *, as_key: bool) -> Any:
        if self.path is None:
            raise ConfigError("!include is only available in files", location=loc)
        target = event.value if isinstance(event, self.ev.ScalarEvent) else None
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
        self.loader.includes += 1
        if self.loader.includes > MAX_INCLUDES:
            raise ConfigError(f"the workflow has more than {MAX_INCLUDES} !include (counting each time a file "
                              "is included again)", location=loc, hint=_SPLIT_HINT)
        return self.loader.load(full, self.stack, depth, link=base / target)


def _copy(value: Any) -> Any:
    """A copy of a built value for an alias (its locations are those of the anchor)."""
    if isinstance(value, ConfigMap):
        out = ConfigMap(value.loc)
        for key, item in value.items():
            out[key] = _copy(item)
        out.key_locs.update(value.key_locs)
        out.value_locs.update(value.value_locs)
        return out
    if isinstance(value, ConfigList):
        items = ConfigList(value.loc)
        items.extend(_copy(item) for item in value)
        items.item_locs.extend(value.item_locs)
        return items
    return value


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
