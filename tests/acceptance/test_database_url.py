"""--database URL mistakes are one line naming the URL, for every command that takes one: a driver
that is not installed (psycopg, the `digpy[postgres]` extra), an unknown database, a URL that does not
parse, a server that refuses the connection, a file that is not a database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import free_port

# Installed as sitecustomize in the digpy processes of a test: imports of psycopg fail, as they do
# after a plain `pip install digpy` (no venv needed: the real command, with the real import error).
NO_PSYCOPG = '''
import sys


class NoPsycopg:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("psycopg", "psycopg2", "psycopg_binary", "psycopg_c"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoPsycopg())
'''


def commands(project) -> dict[str, list[str]]:
    """Every command taking --database, by a name for the test id."""
    return {
        "server": ["server", "--port", str(free_port()), "--data-dir", str(project.path / "data"), "--database"],
        "migrate run": ["migrate", "run", "--database"],
        "migrate check": ["migrate", "check", "--database"],
    }


COMMANDS = ["server", "migrate run", "migrate check"]


@pytest.fixture
def without_psycopg(project) -> dict[str, str]:
    shim = project.path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(NO_PSYCOPG, encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))}
    probe = subprocess.run([sys.executable, "-c", "import psycopg"], env={**os.environ, **env},
                           capture_output=True, text=True, timeout=60)
    assert probe.stderr.endswith("ModuleNotFoundError: No module named 'psycopg'\n"), probe.stderr
    return env


def one_line_error(result, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: {expected}\n"
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_postgres_driver_names_the_extra(project, without_psycopg, command):
    port = free_port()
    result = project.digpy(*commands(project)[command], f"postgresql+psycopg://digpy:secret@127.0.0.1:{port}/digpy",
                           env=without_psycopg)
    one_line_error(result, f"postgresql+psycopg://digpy:***@127.0.0.1:{port}/digpy needs the PostgreSQL driver "
                           "psycopg, which is not installed; pip install 'digpy[postgres]'")


def test_the_server_config_file_is_checked_the_same_way(project, without_psycopg):
    project.write("server.yml", "database: postgresql+psycopg://digpy@127.0.0.1/digpy\n")
    result = project.digpy("server", "-c", "server.yml", "--port", str(free_port()), "--data-dir",
                           str(project.path / "data"), env=without_psycopg)
    one_line_error(result, "postgresql+psycopg://digpy@127.0.0.1/digpy needs the PostgreSQL driver psycopg, "
                           "which is not installed; pip install 'digpy[postgres]'")


@pytest.mark.parametrize("command", COMMANDS)
def test_the_wrong_postgres_driver_says_which_one_digpy_uses(project, without_psycopg, command):
    result = project.digpy(*commands(project)[command], "postgresql+psycopg2://digpy@127.0.0.1/digpy",
                           env=without_psycopg)
    one_line_error(result, "postgresql+psycopg2://digpy@127.0.0.1/digpy needs the driver psycopg2, which is not "
                           "installed; digpy's PostgreSQL driver is psycopg: use postgresql+psycopg://... and "
                           "pip install 'digpy[postgres]'")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_database_or_a_url_that_does_not_parse(project, command):
    supported = "digpy uses sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    one_line_error(project.digpy(*commands(project)[command], "oracle2://u@h/db"),
                   f"unknown database 'oracle2' in oracle2://u@h/db; {supported}")
    one_line_error(project.digpy(*commands(project)[command], "postgresql://u:secret@h:port/db"),
                   f"'postgresql://u:***@h:port/db' is not a database URL; {supported}")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_server_that_refuses_the_connection(project, command):
    port = free_port()
    result = project.digpy(*commands(project)[command], f"postgresql+psycopg://digpy:secret@127.0.0.1:{port}/digpy")
    one_line_error(result, f'can\'t open the database postgresql+psycopg://digpy:***@127.0.0.1:{port}/digpy: '
                           f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
                           "Connection refused")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_that_is_not_a_database(project, command):
    path = project.write("notes.db", "not a database\n" * 100)
    one_line_error(project.digpy(*commands(project)[command], f"sqlite:///{path}"),
                   f"can't open the database sqlite:///{path}: file is not a database")
