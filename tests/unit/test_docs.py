"""The docs stay true: every .dig example compiles, every hook and operator is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digpy.core.language.dig.loader import load_text
from digpy.core.plugin_manager import load_registry
from digpy.core.spi import Hookspecs
from digpy.core.workflow.tree import compile_workflow

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def yaml_blocks():
    for path in sorted(DOCS.glob("*.md")):
        if path.name == "dagu.md":  # Dagu DAG files (test_every_dagu_example_compiles)
            continue
        for number, block in enumerate(BLOCK.findall(path.read_text(encoding="utf-8"))):
            yield pytest.param(block, id=f"{path.name}-{number}")


@pytest.mark.parametrize("text", list(yaml_blocks()))
def test_every_workflow_example_compiles(text):
    if not any(line.startswith("+") for line in text.splitlines()):
        pytest.skip("not a workflow (a fragment such as a schedule)")
    compile_workflow("example", load_text(text, "example.dig"), operators=load_registry(entry_points=False).names())


def test_every_hook_is_documented():
    text = (DOCS / "plugins.md").read_text()
    hooks = [name for name in vars(Hookspecs) if name.startswith("digpy_")]
    assert hooks and all(f"`{name}(" in text for name in hooks), hooks


def test_every_builtin_operator_is_documented():
    text = (DOCS / "operators.md").read_text()
    missing = [n for n in load_registry(entry_points=False).names() if f"## {n}>" not in text]
    assert not missing


def dagu_blocks():
    text = (DOCS / "dagu.md").read_text(encoding="utf-8")
    for number, block in enumerate(BLOCK.findall(text)):
        yield pytest.param(block, id=f"dagu.md-{number}")


@pytest.mark.parametrize("text", list(dagu_blocks()))
def test_every_dagu_example_compiles(text, tmp_path):
    from digpy.core.language.registry import load_file

    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    compile_workflow("example", load_file(path, display_root=tmp_path),
                     operators=load_registry(entry_points=False).names())


def test_every_dagu_key_is_in_docs_dagu_md():
    from digpy.core.language.dagu.schema import ALIASES, DAG_KEYS, DAG_NOT_YET, STEP_KEYS, STEP_NOT_YET

    text = (DOCS / "dagu.md").read_text(encoding="utf-8")
    keys = {*DAG_KEYS, *DAG_NOT_YET, *STEP_KEYS, *STEP_NOT_YET, *ALIASES}
    assert not sorted(k for k in keys if f"`{k}`" not in text)
