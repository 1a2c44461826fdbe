"""A third-party operator package installed with pip into a fresh virtual environment is found
through its entry point, exactly as a user installs one."""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "projects" / "plugin-example"


def _run(args, cwd, **kw):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.slow
def test_pip_installed_plugin_is_picked_up_by_digpy(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT),
                    str(EXAMPLE), "pytest"], cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]

    # Only the digpy package is importable: no top-level core/server/client/plugins.
    probe = _run([python, "-c", "import importlib.util as u; "
                  "print([m for m in ('core','server','client','plugins','migrations') if u.find_spec(m)])"],
                 cwd=tmp_path)
    assert probe.stdout.strip() == "[]", probe.stderr

    digpy = env_dir / "bin" / "digpy"
    listing = _run([digpy, "plugins"], cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    greet = next(line for line in listing.stdout.splitlines() if line.startswith("greet>"))
    assert greet.split()[:3] == ["greet>", "digpy-greet", "1.2.0"]

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(EXAMPLE / "example.dig", project / "example.dig")
    run = _run([digpy, "run", "example", "--output", "plain"], cwd=project)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Hello, Ada!\nlast greeted Ada\n"

    # The plugin's own tests use the fixture digpy ships for plugin authors.
    shutil.copytree(EXAMPLE / "tests", tmp_path / "plugin-tests")  # outside this repository's pytest config
    tests = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "plugin-tests"], cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout + tests.stderr

    # A plugin that fails to import gives one line naming the package, not a traceback.
    broken = tmp_path / "broken"
    (broken / "digpy_broken").mkdir(parents=True)
    (broken / "digpy_broken" / "__init__.py").write_text("import no_such_module\n")
    (broken / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "digpy-broken"\nversion = "0.0.1"\n'
        '[project.entry-points.digpy]\nbroken = "digpy_broken"\n[tool.setuptools]\npackages = ["digpy_broken"]\n'
    )
    assert _run([python, "-m", "pip", "install", "--quiet", "--no-deps", str(broken)], cwd=tmp_path).returncode == 0
    # It is reported, and every other operator keeps working (issue 10: it used to stop every run).
    problem = ("plugin 'broken' of package digpy-broken 0.0.1 failed to import: ModuleNotFoundError: No module "
               "named 'no_such_module'; fix or uninstall digpy-broken (pip uninstall digpy-broken)")
    run = _run([digpy, "run", "example", "--rerun", "--output", "plain"], cwd=project)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Hello, Ada!\nlast greeted Ada\n"
    assert f"[WARNING] {problem}" in run.stderr
    listing = _run([digpy, "plugins"], cwd=tmp_path)
    assert listing.returncode == 1
    assert any(line.split()[:3] == ["greet>", "digpy-greet", "1.2.0"] for line in listing.stdout.splitlines())
    assert ("  digpy-broken 0.0.1 (digpy-broken:broken): failed to import: ModuleNotFoundError: No module named "
            "'no_such_module'") in listing.stdout


def _broken_package(root: Path, code: str = "raise RuntimeError('broken on purpose')\n") -> dict[str, str]:
    """A package on PYTHONPATH, as pip lays one out, whose `digpy` entry point raises when imported."""
    (root / "digpy_broken").mkdir(parents=True)
    (root / "digpy_broken" / "__init__.py").write_text(code)
    info = root / "digpy_broken-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: digpy-broken\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[digpy]\nbroken = digpy_broken\n")
    return {"PYTHONPATH": str(root)}


def test_a_plugin_that_fails_to_import_is_reported_and_the_other_operators_work(project, tmp_path):
    env = _broken_package(tmp_path / "site")
    problem = ("plugin 'broken' of package digpy-broken 0.0.1 failed to import: RuntimeError: broken on purpose; "
               "fix or uninstall digpy-broken (pip uninstall digpy-broken)")
    listing = project.digpy("plugins", env=env)
    assert listing.returncode == 1, listing.stderr
    assert any(line.split()[:2] == ["echo>", "digpy"] for line in listing.stdout.splitlines())
    assert listing.stdout.endswith(
        "\nPlugins that failed to load (their operators are unavailable):\n"
        "  digpy-broken 0.0.1 (digpy-broken:broken): failed to import: RuntimeError: broken on purpose\n")
    rows = json.loads(project.digpy("plugins", "--json", env=env).stdout)
    assert {"operator": None, "package": "digpy-broken", "version": "0.0.1", "plugin": "digpy-broken:broken",
            "error": "failed to import: RuntimeError: broken on purpose"} in rows

    project.write("ok.dig", "+a:\n  echo>: still works\n")
    run = project.run("ok", env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "still works\n"
    assert f"[WARNING] {problem}" in run.stderr.splitlines()[0], "a warning at start"

    project.write("uses.dig", "+a:\n  broken>: x\n")
    uses = project.run("uses", env=env)
    assert uses.returncode != 0
    assert f"unknown operator 'broken>'; {problem}" in uses.stderr, uses.stderr
    check = project.digpy("check", env=env)
    assert check.returncode == 2
    assert check.stderr.splitlines() == [f"warning: {problem}", f"error: uses.dig:2:3: unknown operator 'broken>'; "
                                         f"{problem}", "error: 1 of 2 workflow files has errors"]


def test_a_plugin_whose_operator_hook_fails_is_set_aside(project, tmp_path):
    env = _broken_package(tmp_path / "site", "from digpy.core.spi import hookimpl\n\n\n@hookimpl\n"
                                             "def digpy_register_operators():\n    raise ValueError('none today')\n")
    listing = project.digpy("plugins", env=env)
    assert listing.returncode == 1
    assert "  digpy-broken 0.0.1 (digpy-broken:broken): failed to register its operators: ValueError: none today\n" \
        in listing.stdout
    project.write("ok.dig", "+a:\n  echo>: fine\n")
    assert project.run("ok", env=env).stdout == "fine\n"


def test_two_operators_with_one_name_is_an_error_naming_both(project):
    """Two plugins that register one operator name clash (a plugin may replace a built-in one:
    tests/unit/test_plugins.py)."""
    from digpy.core.errors import PluginError
    from digpy.core.plugin_manager import load_registry
    from digpy.core.spi import hookimpl

    class Greet:
        name = "greet"

        async def run(self, ctx):  # pragma: no cover - never runs
            raise AssertionError

    def plugin(name: str):
        class Plugin:
            __name__ = name

            @hookimpl
            def digpy_register_operators(self):
                return [Greet]

        return Plugin()

    with pytest.raises(PluginError) as e:
        load_registry(extra=(plugin("my_greet_plugin"), plugin("your_greet_plugin")))
    assert "two plugins register the operator 'greet>'" in str(e.value)
    assert "my_greet_plugin" in str(e.value) and "your_greet_plugin" in str(e.value)


def _install_by_hand(site: Path) -> None:
    """What `pip install` leaves in site-packages: the package and its metadata with the entry point."""
    shutil.copytree(EXAMPLE / "digpy_greet", site / "digpy_greet")
    info = site / "digpy_greet-1.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: digpy-greet\nVersion: 1.2.0\n")
    (info / "entry_points.txt").write_text("[digpy]\ngreet = digpy_greet\n")


def test_a_plugin_installed_after_the_server_started_is_unknown_to_it_until_it_restarts(tmp_path, monkeypatch):
    """The workflow is taken and runs, as in Digdag; the task fails when it is reached, and the
    server's warnings (at push, in the attempt's log) say why."""
    from tests.acceptance.test_server import wait_done
    from tests.conftest import Server

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(site))
    server = Server(tmp_path / "server", None)
    server.start()
    try:
        project = tmp_path / "project"
        project.mkdir()
        shutil.copy(EXAMPLE / "example.dig", project / "example.dig")
        _install_by_hand(site)
        assert any(line.startswith("greet>") for line in server.digpy("plugins").stdout.splitlines())
        pushed = server.digpy("push", "p", "--project", str(project))
        assert pushed.returncode == 0, pushed.stderr
        restart = ("unknown operator 'greet>'; the server sees the plugins installed when it started: install the "
                   "plugin where the server runs, then restart the server (a task using it fails when it is reached)")
        assert f"example.dig:2:3: {restart}" in server.log.read_text()
        early = json.loads(server.digpy("start", "p", "example", "--session", "2025-01-01", "--json").stdout)
        assert wait_done(server, early["id"])["status"] == "error"
        log = server.digpy("log", early["id"]).stdout
        assert f"warning: +example+hello: {restart}" in log and "Unknown task type: greet" in log
        server.stop()
        server.start()
        assert server.digpy("push", "p", "--project", str(project)).returncode == 0
        attempt = json.loads(server.digpy("start", "p", "example", "--json").stdout)
        assert wait_done(server, attempt["id"])["status"] == "success"
        assert "Hello, Ada!" in server.digpy("log", attempt["id"]).stdout

        # Uninstalled, and the server restarted: the attempts of the pushed project say why they can't run.
        shutil.rmtree(site / "digpy_greet")
        shutil.rmtree(site / "digpy_greet-1.2.0.dist-info")
        server.stop()
        server.start()
        attempt = json.loads(server.digpy("start", "p", "example", "--session", "2026-01-01", "--json").stdout)
        assert wait_done(server, attempt["id"])["status"] == "error"
        assert f"warning: +example+hello: {restart}" in server.digpy("log", attempt["id"]).stdout
    finally:
        server.stop()
