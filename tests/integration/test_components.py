"""A machine without PostgreSQL or a Docker engine: their tests skip and say why, except under
DIGPY_TEST_REQUIRE_ALL=1 (CI), where they fail. Runs the real pytest on the real test modules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_ALL, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCS_TESTS = "tests/unit/test_docs.py"  # holds a skip that is not about a component (a doc fragment)


def absent(tmp_path: Path) -> dict[str, tuple[str, str, str]]:
    """component → (its test module, the variable pointing at it, a value where nothing runs)."""
    return {
        "docker": ("tests/integration/test_docker.py", "DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock"),
        "postgres": ("tests/integration/test_pg_operator.py", "DIGPY_TEST_POSTGRES_URL",
                     f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"),
    }


def pytest_run(module: str, variable: str, value: str, require_all: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_ALL}
    env[variable] = value
    if require_all:
        env[REQUIRE_ALL] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", module, DOCS_TESTS],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("component", ["docker", "postgres"])
def test_tests_of_a_missing_component_skip_and_say_why(component, tmp_path):
    module, variable, value = absent(tmp_path)[component]
    result = pytest_run(module, variable, value, require_all=False)
    assert result.returncode == 0, result.stdout
    summary = result.stdout.splitlines()
    reason = {"docker": f"no Docker engine with the image digpy-test/busybox:latest at {value} (",
              "postgres": f"PostgreSQL at {value} is not reachable ("}[component]
    skipped = [line for line in summary if line.startswith("SKIPPED") and reason in line]
    assert len(skipped) == 1, result.stdout  # one line for all of them, with the reason and the remedy
    assert f"start it with .ci/services.sh or set {variable}" in skipped[0]
    assert "error" not in summary[-1] and "failed" not in summary[-1], summary[-1]


@pytest.mark.parametrize("component", ["docker", "postgres"])
def test_under_require_all_a_missing_component_fails_the_run(component, tmp_path):
    module, variable, value = absent(tmp_path)[component]
    result = pytest_run(module, variable, value, require_all=True)
    assert result.returncode == 1, result.stdout
    assert f"{REQUIRE_ALL}=1: no test may skip for a missing component" in result.stdout
    assert "SKIPPED [1] tests/unit/test_docs.py" in result.stdout, "a skip that is not about a component stays one"
    assert " passed, 1 skipped, " in result.stdout.splitlines()[-1] and " error" in result.stdout.splitlines()[-1]
