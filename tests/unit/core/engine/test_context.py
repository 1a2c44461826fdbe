"""The OperatorContext of a task (digpy.core.engine.context): its working directory, environment,
secrets and their masking, on a real runner with the real local secret provider."""

from __future__ import annotations

import asyncio

import pytest

from digpy.core.engine.context import Masker, ProviderSecrets, TaskContext, _workdir, env_value
from digpy.core.engine.runner import NullOutput
from digpy.core.errors import ConfigError, TaskError
from digpy.core.local_secrets import LocalSecretProvider, LocalSecretStore
from digpy.core.workflow.model import TaskState

SECRET = "s3cret-value"


@pytest.fixture
def context(make_attempt, secret_store):
    """`context(params)` → the TaskContext of task +a of a fresh attempt, with those params."""
    secret_store.set("db.password", SECRET)

    def make(params):
        attempt = make_attempt("+a:\n  echo>: a\n")
        task = next(t for t in attempt.runner.graph.tasks.values() if t.full_name == "+wf+a")
        return TaskContext(attempt.runner, task, params)

    return make


# ----------------------------------------------------------------------------- _workdir


def test_the_workdir_is_the_project_directory_or_a_directory_in_it(tmp_path):
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    assert _workdir(tmp_path, None) == tmp_path
    assert _workdir(tmp_path, "") == tmp_path
    assert _workdir(tmp_path, "sub/dir") == tmp_path / "sub" / "dir"
    assert _workdir(tmp_path, "sub/../sub") == tmp_path / "sub/../sub"


@pytest.mark.parametrize(("workdir", "message"), [
    ("..", "_workdir '..' points outside the project directory"),
    ("sub/../../x", "_workdir 'sub/../../x' points outside the project directory"),
    ("/tmp", "_workdir '/tmp' points outside the project directory"),
    ("link", "_workdir 'link' points outside the project directory"),
    ("missing", "_workdir 'missing' is not a directory of the project"),
    ("file.txt", "_workdir 'file.txt' is not a directory of the project"),
    (5, "_workdir must be a path relative to the project, got 5"),
    (["a"], '_workdir must be a path relative to the project, got ["a"]'),
])
def test_a_workdir_outside_the_project_or_missing_is_a_clear_error(tmp_path, workdir, message):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "file.txt").write_text("x")
    (project / "link").symlink_to(tmp_path)
    with pytest.raises(ConfigError) as error:
        _workdir(project, workdir)
    assert error.value.message == message


def test_a_task_runs_its_command_in_its_workdir_and_a_bad_one_fails_the_task(make_attempt, tmp_path):
    (tmp_path / "sub").mkdir()
    attempt = make_attempt("+a:\n  _workdir: sub\n  sh>: pwd\n+b:\n  _workdir: ../elsewhere\n  sh>: touch b-ran\n")
    assert attempt.run() == TaskState.GROUP_ERROR
    assert attempt.output.output_of("+a") == f"{(tmp_path / 'sub').resolve()}\n"
    error = attempt.stored()["+wf+b"].error
    assert error == {"message": "_workdir '../elsewhere' points outside the project directory"}


# ----------------------------------------------------------------------------- environment


@pytest.mark.parametrize(("value", "text"), [
    ("as is", "as is"), ("", ""), (None, "null"), (True, "true"), (False, "false"), (3, "3"), (1.5, "1.5"),
    ({"a": [1, "ü"]}, '{"a":[1,"ü"]}'), ([], "[]"),
])
def test_env_value_gives_strings_as_they_are_and_the_rest_as_compact_json(value, text):
    assert env_value(value) == text


def test_env_holds_the_tasks_env_values_as_text(context):
    ctx = context({"_env": {"A": 1, "B": {"x": [1]}, "C": None, "D": True, "E": "plain"}})
    assert ctx.env == {"A": "1", "B": '{"x":[1]}', "C": "null", "D": "true", "E": "plain"}
    assert context({}).env == {}


def test_params_env_exports_params_with_environment_variable_names(context):
    ctx = context({"name": "x", "n": 3, "nested": {"a": "ü"}, "flag": False, "nothing": None, "_hidden": 1,
                   "_type": "sh", "bad-name": "y", "1st": "z", "_env": {"A": "1"}})
    assert ctx.params_env() == {"name": "x", "n": "3", "nested": '{"a":"ü"}', "flag": "false", "nothing": "null"}


def test_a_command_gets_the_task_env_and_its_own_in_the_workdir(context, tmp_path):
    (tmp_path / "sub").mkdir()
    ctx = context({"_type": "sh", "_workdir": "sub", "_env": {"A": "one", "B": "task"}})
    code = asyncio.run(ctx.run_command(["sh", "-c", 'pwd; echo "$A $B"; exit 3'], env={"B": "call"}))
    assert code == 3
    assert ctx._runner.output.output_of("+a") == f"{(tmp_path / 'sub').resolve()}\none call\n"


def test_params_reach_a_sh_command_as_environment_variables(make_attempt):
    attempt = make_attempt('_export:\n  n: 3\n  who: {name: ada}\n+a:\n  sh>: echo "$n $who"\n')
    assert attempt.run() == TaskState.SUCCESS
    assert attempt.output.output_of("+a") == '3 {"name":"ada"}\n'


# ----------------------------------------------------------------------------- secrets


def test_secrets_are_read_through_the_tasks_secrets_mapping(context):
    ctx = context({"_secrets": {"pw": "db.password", "allowed": True}})
    assert ctx.secrets.get("pw") == SECRET
    assert ctx.secrets.get("db.password") == SECRET
    assert ctx.secrets.get("allowed") is None  # not a name: the key itself is looked up
    assert ctx.secrets.require("pw") == SECRET
    assert context({"_secrets": "not a mapping"}).secrets.get("db.password") == SECRET


def test_a_missing_secret_names_the_key_it_looked_up_and_how_to_set_it(context):
    ctx = context({"_secrets": {"pw": "db.other"}})
    with pytest.raises(ConfigError) as error:
        ctx.secrets.require("pw")
    assert (error.value.message, error.value.hint) == (
        "secret 'pw' (_secrets: db.other) is not set", "set it with `digpy secrets --local --set db.other`")
    with pytest.raises(ConfigError) as error:
        ctx.secrets.require("api.token")
    assert (error.value.message, error.value.hint) == (
        "secret 'api.token' is not set", "set it with `digpy secrets --local --set api.token`")


def test_with_secrets_fills_in_secret_references(context):
    ctx = context({"_secrets": {"pw": "db.password"}})
    assert ctx.with_secrets("PGPASSWORD=${secret:pw} ${secret:db.password}") == f"PGPASSWORD={SECRET} {SECRET}"
    assert ctx.with_secrets("no ${reference} here") == "no ${reference} here"
    with pytest.raises(ConfigError, match="secret 'nope' is not set"):
        ctx.with_secrets("${secret:nope}")


def test_env_values_may_name_secrets_and_those_are_masked(context):
    ctx = context({"_env": {"PW": "${secret:db.password}", "USER": "ada"}})
    assert ctx.env == {"PW": SECRET, "USER": "ada"}
    ctx.output(f"connecting as ada with {SECRET}\n")
    assert ctx._runner.output.output_of("+a") == "connecting as ada with ***\n"


def test_a_secret_is_masked_only_once_it_was_read(context):
    ctx = context({})
    ctx.output(f"before: {SECRET}\n")
    ctx.secrets.get("db.password")
    ctx.output(f"after: {SECRET}\n")
    assert ctx._runner.output.output_of("+a") == f"before: {SECRET}\nafter: ***\n"


def test_the_first_provider_that_knows_a_secret_gives_it(tmp_path):
    first, second = LocalSecretProvider(), LocalSecretProvider()
    first.store, second.store = LocalSecretStore(tmp_path / "first"), LocalSecretStore(tmp_path / "second")
    first.store.set("shared", "from-first")
    second.store.set("shared", "from-second")
    second.store.set("only.second", "from-second")
    masker = Masker()
    secrets = ProviderSecrets([first, second], None, masker)
    assert (secrets.get("shared"), secrets.get("only.second"), secrets.get("neither")) == (
        "from-first", "from-second", None)
    assert masker.values == {"from-first", "from-second"}


def test_the_masker_replaces_every_value_of_three_characters_or_more():
    masker = Masker()
    for value in ("ab", "abc", "token-1"):
        masker.add(value)
    assert masker.values == {"abc", "token-1"}
    assert masker("ab abc token-1 abcabc") == "ab *** *** ******"


# ----------------------------------------------------------------------------- output


class _ClosedOutput(NullOutput):
    """An Output whose reader went away."""

    def task_output(self, task, text, stream):
        raise BrokenPipeError(32, "Broken pipe")


def test_output_that_cannot_be_written_fails_the_task(context):
    ctx = context({"_type": "sh"})
    ctx._runner.output = _ClosedOutput()
    with pytest.raises(TaskError, match=r"the task's output could not be written \(Broken pipe\)"):
        ctx.output("lost\n")


def test_a_command_whose_output_was_lost_fails_even_if_it_exited_0(context):
    ctx = context({"_type": "sh"})
    ctx._runner.output = _ClosedOutput()
    with pytest.raises(TaskError, match=r"could not be written \(Broken pipe\)"):
        asyncio.run(ctx.run_command(["sh", "-c", "echo lost"]))
    ctx = context({"_type": "sh"})
    ctx._runner.output = _ClosedOutput()
    assert asyncio.run(ctx.run_command(["sh", "-c", "echo lost; exit 4"])) == 4, "a failed command keeps its code"


def test_render_evaluates_a_template_with_the_task_params(context):
    assert context({"n": 1, "who": "ada"}).render("${who} has ${n + 1}") == "ada has 2"


def test_parse_workflow_reads_dig_text_as_plain_data(context):
    assert context({}).parse_workflow("+a:\n  echo>: x\n", "inline.dig") == {"+a": {"echo>": "x"}}


def test_the_environment_of_digpy_is_the_base_of_every_command(context, monkeypatch):
    monkeypatch.setenv("DIGPY_TEST_INHERITED", "from digpy")
    ctx = context({"_type": "sh"})
    from digpy.core.engine import process

    process._base_env.cache_clear()  # the process reads it once, at its first command
    try:
        assert asyncio.run(ctx.run_command(["sh", "-c", 'echo "$DIGPY_TEST_INHERITED"'])) == 0
    finally:
        process._base_env.cache_clear()
    assert ctx._runner.output.output_of("+a") == "from digpy\n"
