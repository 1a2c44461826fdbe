"""Try digpy the way a user gets it: the wheel, installed into a new virtual environment outside
the checkout, run from temporary directories.

    python3 .ci/smoke_wheel.py [--keep]

Builds the wheel from the checkout's files (what `git ls-files` lists, so a stale build/ cannot help),
checks that it holds every file of the package folders, installs it into a venv in a temporary directory,
checks the installed package's import contracts (import-linter) and types (mypy), then runs `digpy --version`, `digpy plugins`,
`digpy run` of projects/hello, and a `digpy server` on a free port with its own data directory,
against which it runs `digpy push`, `digpy start` and `digpy log -f`. The server is stopped at the
end. On the first failure it prints one line saying what failed (and what the command printed) and
exits 1. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("digpy", "core", "plugins", "server", "client", "migrations")  # → digpy, digpy.core, ...


class SmokeFailure(Exception):
    """One step went wrong; the message says which and what it printed."""


def step(what: str) -> None:
    print(f"-- {what}", flush=True)


def run(args: list[str], *, cwd: Path, env: dict[str, str], what: str, timeout: float = 120) -> str:
    """Run a command; its stdout, or a SmokeFailure carrying its output."""
    try:
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise SmokeFailure(f"{what}: no answer after {timeout:.0f} s") from e
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise SmokeFailure(f"{what}: exit code {done.returncode}\n{output}")
    return done.stdout


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not condition():
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def checkout_files() -> list[str]:
    """The files a fresh clone would have, plus new files not ignored by git."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SmokeFailure(f"cannot list the checkout's files with git in {ROOT} ({e})") from e
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def build_wheel(tmp: Path) -> Path:
    step("build the wheel")
    source = tmp / "src"
    files = checkout_files()
    for name in files:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    dist = tmp / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(source)],
        cwd=tmp, env=dict(os.environ), what="pip wheel", timeout=300)
    wheels = sorted(dist.glob("digpy-*.whl"))
    expect(len(wheels) == 1, f"pip wheel made {[w.name for w in wheels]}, expected one digpy wheel")
    step("every file of the package folders is in the wheel")
    shipped = set(zipfile.ZipFile(wheels[0]).namelist())
    wanted = {name if name.startswith("digpy/") else f"digpy/{name}"
              for name in files if name.split("/")[0] in PACKAGE_FOLDERS}
    missing = sorted(wanted - shipped)
    expect(not missing, f"the wheel lacks {len(missing)} file(s) of the package folders: {', '.join(missing[:10])}")
    return wheels[0]


def install(tmp: Path, wheel: Path) -> dict[str, str]:
    """A new venv with the wheel; the environment the digpy commands run in."""
    step(f"install {wheel.name} into a new virtual environment")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp, env=dict(os.environ), what="python -m venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "DIGPY_", "XDG_"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv), HOME=str(tmp / "home"),
               XDG_CACHE_HOME=str(tmp / "cache"), XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"))
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp, env=env,
        what="pip install of the wheel", timeout=300)
    return env


def check_commands(tmp: Path, env: dict[str, str]) -> Path:
    work = tmp / "work"
    work.mkdir()
    step("digpy --version")
    version = run(["digpy", "--version"], cwd=work, env=env, what="digpy --version").strip()
    expect(version.startswith("digpy "), f"digpy --version printed {version!r}")
    step("digpy plugins")
    plugins = run(["digpy", "plugins"], cwd=work, env=env, what="digpy plugins")
    listed = {line.split()[0] for line in plugins.splitlines() if line.strip()}
    expect({"echo>", "sh>", "py>"} <= listed, f"digpy plugins does not list echo>, sh> and py>:\n{plugins}")
    step("digpy run hello.dig (projects/hello, copied)")
    hello = tmp / "hello"
    shutil.copytree(ROOT / "projects" / "hello", hello, ignore=shutil.ignore_patterns(".digpy"))
    out = run(["digpy", "run", "hello.dig", "--session", "2026-01-31", "--output", "plain"], cwd=hello, env=env,
              what="digpy run hello.dig")
    expect("hello, data team. Session 2026-01-31" in out, f"digpy run hello.dig printed:\n{out}")
    step("digpy run report.yaml (projects/dagu, a Dagu DAG file, copied)")
    dagu = tmp / "dagu"
    shutil.copytree(ROOT / "projects" / "dagu", dagu, ignore=shutil.ignore_patterns(".digpy"))
    out = run(["digpy", "run", "report.yaml", "--output", "plain"], cwd=dagu, env=env, what="digpy run report.yaml")
    expect("report done (succeeded)" in out, f"digpy run report.yaml printed:\n{out}")
    return hello


def check_architecture(tmp: Path, env: dict[str, str]) -> None:
    """The import contracts (import-linter) and the types (mypy) of the package as installed: the
    checkout maps its folders onto digpy.* only through the editable install, which neither tool
    follows. The tools come from the environment that runs this script (the project's .venv)."""
    venv_python = tmp / "venv" / "bin" / "python"
    site = run([str(venv_python), "-c", "import digpy, os; print(os.path.dirname(os.path.dirname(digpy.__file__)))"],
               cwd=tmp, env=env, what="locating the installed package").strip()
    tools = Path(sys.executable).parent
    checks = {"lint-imports (the layers of DESIGN.md)": [str(tools / "lint-imports"), str(ROOT / "pyproject.toml")],
              "mypy": [str(tools / "mypy"), "--config-file", str(ROOT / "pyproject.toml"),
                       "--python-executable", str(venv_python), "-p", "digpy"]}
    for what, argv in checks.items():
        step(f"{what}, on the installed package")
        run(argv, cwd=tmp, env={**os.environ, "PYTHONPATH": site}, what=what, timeout=600)


class Server:
    """`digpy server` on a free port with its own data directory."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp / "server"
        self.log = tmp / "server.log"
        self.env = {**env, "DIGPY_ENDPOINT": self.endpoint}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        step(f"digpy server on port {self.port}")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["digpy", "server", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                cwd=cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.answers, 60, f"the server to answer {self.endpoint}/api/version")

    def answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise SmokeFailure(f"digpy server exited with {self.process.returncode}:\n{self.output()}")
        try:
            with urllib.request.urlopen(self.endpoint + "/api/version", timeout=2) as response:
                return "version" in json.load(response)
        except OSError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace").strip() if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise SmokeFailure(f"digpy server did not stop within 30 s of SIGTERM:\n{self.output()}") from None


def check_server(server: Server, hello: Path) -> None:
    env = server.env
    step("GET / (the web UI ships in the package)")
    with urllib.request.urlopen(server.endpoint + "/", timeout=10) as response:
        page = response.read().decode("utf-8", "replace")
    expect("<script" in page and "digpy" in page, f"GET / answered:\n{page[:500]}")
    with urllib.request.urlopen(server.endpoint + "/ui/app.js", timeout=10) as response:
        expect(response.status == 200, f"GET /ui/app.js answered {response.status}")
    step("digpy push hello")
    pushed = run(["digpy", "push", "hello", "--project", str(hello)], cwd=hello, env=env, what="digpy push")
    expect("hello" in pushed, f"digpy push printed:\n{pushed}")
    step("digpy start hello hello")
    started = run(["digpy", "start", "hello", "hello", "--session", "2026-01-31", "--json"], cwd=hello, env=env,
                  what="digpy start")
    attempt = json.loads(started)["id"]
    step(f"digpy log {attempt} -f")
    log = run(["digpy", "log", str(attempt), "-f"], cwd=hello, env=env, what="digpy log -f", timeout=60)
    expect("hello, data team. Session 2026-01-31" in log, f"digpy log -f printed:\n{log}")
    shown = json.loads(run(["digpy", "attempt", str(attempt), "--json"], cwd=hello, env=env, what="digpy attempt"))
    expect(shown.get("status") == "success", f"the attempt ended {shown.get('status')!r}, not 'success':\n{log}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--no-static", action="store_true", help="skip import-linter and mypy")
    args = parser.parse_args()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="digpy-smoke-"))
    server: Server | None = None
    ok = False
    try:
        env = install(tmp, build_wheel(tmp))
        if not args.no_static:
            check_architecture(tmp, env)
        hello = check_commands(tmp, env)
        server = Server(tmp, env)
        server.start(tmp / "work")
        check_server(server, hello)
        step("stop the server")
        server.stop()
        ok = True
    except SmokeFailure as e:
        print(f"smoke test of the wheel FAILED: {e}", file=sys.stderr)
    finally:
        if server is not None:
            try:
                server.stop()
            except SmokeFailure as e:
                print(f"smoke test of the wheel FAILED: {e}", file=sys.stderr)
                ok = False
        if args.keep or not ok:
            print(f"(files kept in {tmp})", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if ok:
        print(f"smoke test of the wheel passed in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
