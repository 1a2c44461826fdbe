"""Docker: the `docker>` operator, and running `sh>`/`py>` commands in a container.

`docker>: COMMAND` runs a command (a string for `/bin/sh -c`, or a list) in `image`, with `env`,
`volumes` (`host:container[:ro]`, host paths relative to the project), `workdir`, `network`, and
`pull` (`missing`, the default: pull only if the image is not there; `always`; `never`).

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from digpy.core.spi import ConfigError, OperatorContext, TaskError, TaskResult, hookimpl, namespaced

STOP_SECONDS = 5
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


def _ensure_image(client: Any, image: str, pull: str) -> None:
    import docker

    if pull == "always":
        _pull(client, image)
        return
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        if pull == "never":
            raise TaskError(f"docker image '{image}' is not available locally (pull: never)") from None
        _pull(client, image)


def _pull(client: Any, image: str) -> None:
    import docker

    try:
        client.images.pull(image)
    except docker.errors.DockerException as e:
        reason = str(e).split("(", 1)[-1].rstrip(")")[:300]
        raise TaskError(f"docker image '{image}' is not available locally and could not be pulled: {reason}") \
            from None


async def run_container(
    *, image: str, argv: Sequence[str], env: Mapping[str, str], workdir: str | None,
    volumes: Mapping[str, dict[str, str]], pull: str, network: str | None, sink: Any,
) -> int:
    """Run one container to its end, streaming its output to `sink`; returns its exit code."""
    import docker

    client = await _call(_client)
    try:
        await _call(_ensure_image, client, image, pull)
        container = await _call(client.containers.create, image, list(argv), environment=dict(env),
                                working_dir=workdir, volumes=dict(volumes), network_mode=network, detach=True)
    except docker.errors.DockerException as e:
        raise TaskError(f"docker: can't create a container of '{image}': {e}") from None
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
        code = await run_container(
            image=image, argv=argv, env={**{k: str(v) for k, v in env.items()}, **ctx.env},
            workdir=opts.get("workdir"), volumes=volumes, pull=_pull_policy(opts.get("pull")),
            network=opts.get("network"), sink=lambda text, _stream: ctx.output(text),
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

    async def run(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, project_dir: Path,
                  sink: Any) -> int:
        volumes = {str(project_dir): {"bind": str(project_dir), "mode": "rw"},
                   **read_volumes(self.volumes, project_dir, "docker")}
        for arg in argv[1:]:  # host files the command names (a script, py>'s runtime) are mounted too
            if os.path.isabs(arg) and os.path.isfile(arg) and not Path(arg).is_relative_to(project_dir):
                folder = os.path.dirname(arg)
                volumes.setdefault(folder, {"bind": folder, "mode": "rw"})
        return await run_container(image=self.image, argv=argv, env=env, workdir=str(cwd), volumes=volumes,
                                   pull=self.pull, network=self.network, sink=sink)


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
