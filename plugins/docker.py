"""Docker: the `docker>` operator, and running `sh>`/`py>` commands in a container.

`docker>: COMMAND` runs a command (a string for `/bin/sh -c`, or a list) in `image`, with `env`,
`volumes` (`host:container[:ro]`, host paths relative to the project), `workdir`, `network`,
`pull` (`missing`, the default: pull only if the image is not there; `always`; `never`), the
limits `memory` (`512m`, `2g`), `cpus` (`0.5`), `shm_size`, `pids_limit`, the `user` (`uid[:gid]`
or a name) and the image's `platform` (`linux/arm64`).

`_export: {docker: {image: IMAGE}}` makes `sh>` and `py>` tasks run their command in a container
of that image instead of a local process (Digdag's option), with the project mounted at its own
path and the working directory set to the task's. `py>` then uses the image's `python3`.

The engine is reached through the `docker` SDK (`DOCKER_HOST`). Output streams into the task's
output while the container runs; a canceled task stops its container; containers are removed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from digpy.core.spi import (
    ConfigError,
    OperatorContext,
    TaskError,
    TaskResult,
    byte_size,
    hookimpl,
    namespaced,
    number,
    whole_number,
)

STOP_SECONDS = 5
MIN_MEMORY = 6 * 1024 * 1024  # the Docker engine refuses a smaller memory limit
_PLATFORM = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_]+)?$")
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="digpy-docker")


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(_pool, lambda: fn(*args, **kwargs))


def _client() -> Any:
    try:
        import docker
    except ImportError:  # pragma: no cover - docker is a dependency
        raise ConfigError("the docker package is not installed") from None
    try:
        return docker.from_env()
    except docker.errors.DockerException as e:
        raise TaskError(f"can't reach the Docker engine ({e}); is it running, and is DOCKER_HOST right?") from None


def _ensure_image(client: Any, image: str, pull: str, platform: str | None) -> None:
    import docker

    if pull == "always":
        _pull(client, image, platform)
        return
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        if pull == "never":
            raise TaskError(f"docker image '{image}' is not available locally (pull: never)") from None
        _pull(client, image, platform)


def _pull(client: Any, image: str, platform: str | None) -> None:
    import docker

    try:
        client.images.pull(image, platform=platform)
    except docker.errors.DockerException as e:
        reason = str(e).split("(", 1)[-1].rstrip(")")[:300]
        raise TaskError(f"docker image '{image}' is not available locally and could not be pulled: {reason}") \
            from None


async def run_container(
    *, image: str, argv: Sequence[str], env: Mapping[str, str], workdir: str | None,
    volumes: Mapping[str, dict[str, str]], pull: str, network: str | None, sink: Any,
    settings: Mapping[str, Any] | None = None,
) -> int:
    """Run one container to its end, streaming its output to `sink`; returns its exit code.
    `settings` are the SDK's create() arguments read by `read_settings` (limits, user, platform)."""
    import docker

    client = await _call(_client)
    settings = settings or {}
    try:
        await _call(_ensure_image, client, image, pull, settings.get("platform"))
        container = await _call(client.containers.create, image, list(argv), environment=dict(env),
                                working_dir=workdir, volumes=dict(volumes), network_mode=network, detach=True,
                                **settings)
    except docker.errors.DockerException as e:
        reason = getattr(e, "explanation", None) or e  # the engine's words, without the request URL
        raise TaskError(f"docker: can't create a container of '{image}': {reason}") from None
    loop = asyncio.get_running_loop()

    def pump(stream: str) -> None:
        pending = b""
        for chunk in container.logs(stream=True, follow=True, stdout=stream == "stdout", stderr=stream == "stderr"):
            data = pending + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                loop.call_soon_threadsafe(sink, data[:cut].decode("utf-8", "replace"), stream)
            pending = data[cut:]
        if pending:
            loop.call_soon_threadsafe(sink, pending.decode("utf-8", "replace") + "\n", stream)

    try:
        await _call(container.start)
        pumps = [loop.run_in_executor(_pool, pump, name) for name in ("stdout", "stderr")]
        result = await _call(container.wait)
        await asyncio.gather(*pumps, return_exceptions=True)
        return int(result.get("StatusCode", 1))
    except asyncio.CancelledError:
        await asyncio.shield(_call(container.stop, timeout=STOP_SECONDS))
        raise
    finally:
        await asyncio.shield(_call(container.remove, force=True))


def read_settings(opts: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The options `memory`, `cpus`, `shm_size`, `pids_limit`, `user` and `platform` → the SDK's
    create() arguments (none of them when none is given)."""
    out: dict[str, Any] = {}
    if opts.get("memory") is not None:
        out["mem_limit"] = byte_size(opts["memory"], f"{what} memory", minimum=MIN_MEMORY)
    if opts.get("cpus") is not None:
        cpus = number(opts["cpus"], f"{what} cpus", minimum=0.01)
        out["nano_cpus"] = round(cpus * 1e9)
    if opts.get("shm_size") is not None:
        out["shm_size"] = byte_size(opts["shm_size"], f"{what} shm_size")
    if opts.get("pids_limit") is not None:
        out["pids_limit"] = whole_number(opts["pids_limit"], f"{what} pids_limit", minimum=1)
    if opts.get("user") is not None:
        user = opts["user"]
        if isinstance(user, bool) or not isinstance(user, str | int) or not str(user).strip():
            raise ConfigError(f"{what} user is a name or uid[:gid], got {user!r}")
        out["user"] = str(user).strip()
    if opts.get("platform") is not None:
        platform = opts["platform"]
        if not isinstance(platform, str) or not _PLATFORM.match(platform.strip()):
            raise ConfigError(f"{what} platform is os/arch[/variant] such as linux/amd64, got {platform!r}")
        out["platform"] = platform.strip()
    return out


def _pull_policy(value: Any) -> str:
    policy = str(value or "missing").lower()
    if policy not in ("missing", "always", "never"):
        raise ConfigError(f"docker pull must be missing, always or never, got {value!r}")
    return policy


class DockerOperator:
    name = "docker"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        opts = namespaced(ctx.params, "docker")
        image = opts.get("image")
        if not isinstance(image, str) or not image:
            raise ConfigError("docker> needs image")
        command = ctx.command
        if isinstance(command, str) and command.strip():
            argv = ["/bin/sh", "-c", command]
        elif isinstance(command, list) and command and all(isinstance(c, str) for c in command):
            argv = list(command)
        else:
            raise ConfigError("docker> needs a command (a string for /bin/sh -c, or a list)")
        env = opts.get("env") or {}
        if not isinstance(env, dict):
            raise ConfigError("docker> env must be a mapping")
        volumes = read_volumes(opts.get("volumes"), ctx.project_dir, "docker>")
        settings = read_settings(opts, "docker>")
        code = await run_container(
            image=image, argv=argv, env={**{k: str(v) for k, v in env.items()}, **ctx.env},
            workdir=opts.get("workdir"), volumes=volumes, pull=_pull_policy(opts.get("pull")),
            network=opts.get("network"), sink=lambda text, _stream: ctx.output(text), settings=settings,
        )
        if code != 0:
            raise TaskError(f"Container exited with code {code}", command_code=code)
        return TaskResult()


def read_volumes(specs: Any, project_dir: Path, what: str) -> dict[str, dict[str, str]]:
    """`volumes: [host:container[:ro|rw]]` (host paths relative to the project) → the SDK's volumes."""
    if specs is None:
        return {}
    if not isinstance(specs, list):
        raise ConfigError(f"{what} volumes are a list of host:container[:ro], got {specs!r}")
    volumes: dict[str, dict[str, str]] = {}
    for spec in specs:
        parts = str(spec).split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise ConfigError(f"{what} volumes are host:container[:ro], got {spec!r}")
        host = (project_dir / parts[0]).resolve()
        volumes[str(host)] = {"bind": parts[1], "mode": parts[2] if len(parts) == 3 else "rw"}
    return volumes


class DockerExecutor:
    """A CommandExecutor that runs `sh>`/`py>` commands in a container (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.image = str(config["image"])
        self.pull = _pull_policy(config.get("pull", "always" if config.get("pull_always") else "missing"))
        self.network = config.get("network")
        self.volumes = config.get("volumes")
        self.settings = read_settings(config, "docker")

    async def run(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, project_dir: Path,
                  sink: Any) -> int:
        volumes = {str(project_dir): {"bind": str(project_dir), "mode": "rw"},
                   **read_volumes(self.volumes, project_dir, "docker")}
        for arg in argv[1:]:  # host files the command names (a script, py>'s runtime) are mounted too
            if os.path.isabs(arg) and os.path.isfile(arg) and not Path(arg).is_relative_to(project_dir):
                folder = os.path.dirname(arg)
                volumes.setdefault(folder, {"bind": folder, "mode": "rw"})
        return await run_container(image=self.image, argv=argv, env=env, workdir=str(cwd), volumes=volumes,
                                   pull=self.pull, network=self.network, sink=sink, settings=self.settings)


@hookimpl
def digpy_register_operators() -> list[type]:
    return [DockerOperator]


@hookimpl
def digpy_command_executor(params: Mapping[str, Any], operator: str, attempt: str) -> Any:
    config = params.get("docker")
    if operator not in ("sh", "py") or not isinstance(config, dict):
        return None
    if config.get("shared") or config.get("container") is not None:  # docker exec (docker_shared.py)
        from digpy.plugins.docker_shared import SharedExecutor

        return SharedExecutor(config, attempt)
    if config.get("image"):
        return DockerExecutor(config)
    return None
