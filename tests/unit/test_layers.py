"""The import arrows of DESIGN.md: core < plugins < server; the client library stands alone (the server
shares only its REST model); plugins import only the SPI. (CI also checks the installed package with
import-linter: pyproject.toml.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"core": "digpy.core", "plugins": "digpy.plugins", "server": "digpy.server", "client": "digpy.client"}

# (modules under this prefix, may not import anything under these prefixes)
RULES = [
    ("digpy.core", ("digpy.plugins", "digpy.server", "digpy.client")),
    ("digpy.core.spi", ("digpy.core.language", "digpy.core.workflow", "digpy.core.store", "digpy.core.engine.runner")),
    ("digpy.plugins", ("digpy.core.language", "digpy.core.workflow", "digpy.core.store", "digpy.core.engine.runner",
                       "digpy.core.workflow.params", "digpy.core.plugin_manager", "digpy.core.engine.local", "digpy.server",
                       "digpy.client")),
    # The server shares the REST model (digpy.client.model) with the client, and nothing else of it.
    ("digpy.server", ("digpy.client.http", "digpy.client.archive", "digpy.client.cli")),
    ("digpy.client.http", ("digpy.core", "digpy.server", "digpy.plugins")),
    ("digpy.client.model", ("digpy.core", "digpy.server", "digpy.plugins", "digpy.client.http", "digpy.client.cli")),
]
# Pure modules: no SQL, no HTTP, no subprocesses.
PURE = ("digpy.core.workflow", "digpy.core.language")
IMPURE_LIBS = ("sqlalchemy", "aiohttp", "subprocess", "asyncio", "docker")


def modules():
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield ".".join([package, *parts]), path


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(("module", "path"), list(modules()), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_imports_point_down_the_layers(module, path):
    imported = imports_of(path)
    for prefix, forbidden in RULES:
        if _under(module, prefix):
            bad = sorted(i for i in imported for f in forbidden if _under(i, f))
            assert not bad, f"{module} imports {bad}"
    if _under(module, "digpy.plugins"):  # an allow-list: a plugin reaches digpy only through the SPI
        bad = sorted(i for i in imported if _under(i, "digpy") and i != "digpy"  # py>'s `digpy.env` task API
                     and not any(_under(i, ok) for ok in ("digpy.core.spi", "digpy.plugins")))
        assert not bad, f"{module} imports {bad}; plugins may import only digpy.core.spi"
    if any(_under(module, p) for p in PURE):
        bad = sorted(i for i in imported for lib in IMPURE_LIBS if _under(i, lib))
        assert not bad, f"{module} is pure but imports {bad}"
