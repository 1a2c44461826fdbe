"""The compiled-workflow cache: unchanged files are not loaded again; any change is seen."""

from __future__ import annotations

import pytest

from digpy.core.errors import ConfigError
from digpy.core.project import Project
from digpy.core.workflow.spec import OperatorSet

WF = "+a:\n  echo>: hello\n+b:\n  !include : part.dig\n+c:\n  call>: called\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "wf.dig").write_text(WF)
    (directory / "part.dig").write_text("echo>: included\n")
    (directory / "called.dig").write_text("+x:\n  echo>: called\n")
    return Project(directory)


def load(project, calls):
    import digpy.core.project as module

    original = module.load_file

    def counting(*args, **kwargs):
        calls.append(args[0].name)
        return original(*args, **kwargs)

    module.load_file = counting
    try:
        return project.load(project.directory / "wf.dig", operators=OperatorSet(["echo", "call"], calls_workflow=["call"]))
    finally:
        module.load_file = original


def test_an_unchanged_workflow_comes_from_the_cache(project):
    calls: list[str] = []
    first = load(project, calls)
    assert calls == ["wf.dig", "called.dig"]
    second = load(project, calls)
    assert calls == ["wf.dig", "called.dig"]  # not loaded again
    assert [t.full_name for t in second.tasks] == [t.full_name for t in first.tasks]
    assert second.tasks[2].config == {"_type": "echo", "_command": "included"}
    assert second.tasks[1].location == first.tasks[1].location


@pytest.mark.parametrize("changed", ["wf.dig", "part.dig", "called.dig"])
def test_a_change_to_any_file_the_load_read_is_seen(project, changed):
    calls: list[str] = []
    load(project, calls)
    text = (project.directory / changed).read_text().replace("echo>: ", "echo>: new ")
    (project.directory / changed).write_text(text)
    workflow = load(project, calls)
    assert calls[2:][:1] == ["wf.dig"]
    if changed == "part.dig":
        assert workflow.tasks[2].config["_command"] == "new included"


def test_a_broken_change_is_an_error_not_the_cached_workflow(project):
    load(project, [])
    (project.directory / "part.dig").write_text("echo>: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load(project, [])
    assert str(e.value).startswith("part.dig:2:1: invalid YAML")


def test_another_operator_set_or_a_damaged_entry_loads_again(project, tmp_path):
    load(project, [])
    for entry in (tmp_path / "cache" / "digpy" / "compiled").iterdir():
        entry.write_bytes(b"not a pickle")
    calls: list[str] = []
    load(project, calls)
    assert calls == ["wf.dig", "called.dig"]
    lenient = project.load(project.directory / "wf.dig", operators=["echo"], lenient=True)
    assert [str(e).split(": ", 1)[1] for e in lenient.unknown_operators] == [
        "unknown operator 'call>'; run `digpy plugins` to list the operators"]
    with pytest.raises(ConfigError, match="unknown operator 'call>'"):
        project.load(project.directory / "wf.dig", operators=["echo"])


def test_the_cache_can_be_turned_off(project, monkeypatch):
    monkeypatch.setenv("DIGPY_NO_CACHE", "1")
    calls: list[str] = []
    load(project, calls)
    load(project, calls)
    assert calls == ["wf.dig", "called.dig"] * 2
    assert not (project.directory.parent / "cache" / "digpy" / "compiled").exists()


def test_an_include_through_a_symlink_is_seen_when_the_link_moves(project):
    (project.directory / "dev.dig").write_text("echo>: dev\n")
    (project.directory / "prod.dig").write_text("echo>: prod\n")
    (project.directory / "part.dig").unlink()
    (project.directory / "part.dig").symlink_to("dev.dig")
    assert load(project, [])
    first = project.load(project.directory / "wf.dig", operators=["echo", "call"])
    assert first.tasks[2].config["_command"] == "dev"
    (project.directory / "part.dig").unlink()
    (project.directory / "part.dig").symlink_to("prod.dig")
    assert project.load(project.directory / "wf.dig", operators=["echo", "call"]).tasks[2].config["_command"] == "prod"


def test_an_entry_others_may_write_is_not_read(project, tmp_path):
    load(project, [])
    for entry in (tmp_path / "cache" / "digpy" / "compiled").iterdir():
        assert entry.stat().st_mode & 0o077 == 0, "entries are private"
        entry.chmod(0o666)
    calls: list[str] = []
    load(project, calls)
    assert calls == ["wf.dig", "called.dig"], "a group- or world-writable pickle is never unpickled"
