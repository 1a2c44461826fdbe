"""Docker: commands that run with `docker exec` in one container shared by an attempt's tasks.

`docker: {image: IMAGE, shared: true}` (the `docker` option of `sh>` and `py>`): the first command
of an attempt that uses it creates a container of the image that stays up (a shell that sleeps),
and every command of the attempt under the same `docker` option runs in it with `docker exec`, so
what one task writes inside the container (a file, `pip install`) is there for the next. The
container is removed when the attempt ends (succeeded, failed or canceled); `keep: true` stops it
and keeps it. It has the project mounted at its own path (and `volumes`), carries the label
`digpy.attempt=SESSION_UUID/ATTEMPT_ID`, and a run that resumes an attempt whose runner died
removes the one it left first (`digpy_attempt_stale`). `name`, `user`, `workdir` and `network` set
the container's name, the user commands run as, the directory they start in (default: the task's
own, the project being mounted at its path) and its network.

`docker: {container: NAME}` runs the commands in an existing, running container with `docker exec`
(never created nor removed here), as `user` in `workdir` (default: the container's own).

A canceled command (a killed attempt, `_timeout`) is stopped with SIGTERM, then SIGKILL after 5
seconds, inside the container: every process that carries its mark (an environment variable set
on the exec, inherited by its children). The image needs `/bin/sh`.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import tarfile
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import Any

from digpy.core.spi import ConfigError, TaskError, hookimpl

log = logging.getLogger("digpy.docker")
LABEL = "digpy.attempt"
STOP_SECONDS = 5
EXEC_MARK = "DIGPY_EXEC"
# The shared container's command: up until stopped (SIGTERM ends it at once, not after a timeout).
KEEPALIVE = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done"
# Signal every process of the container whose environment holds an exec's mark ($2 = SIGNAL, $1 = mark).
_KILL = ('for d in /proc/[0-9]*; do case "$(cat "$d/environ" 2>/dev/null)" in '
         '*"' + EXEC_MARK + '=$1"*) kill -s "$2" "${d#/proc/}";; esac; done 2>/dev/null; true')

# attempt mark → (the docker option as JSON → the container's id, once created)
_attempts: dict[str, dict[str, asyncio.Future[str]]] = {}


def _docker() -> Any:
    from digpy.plugins import docker as plugin  # the engine's client, pool and pull rules

    return plugin


class SharedExecutor:
    """A CommandExecutor that runs commands with `docker exec` (see the module docstring)."""

    local = False

    def __init__(self, config: Mapping[str, Any], attempt: str) -> None:
        self.config = dict(config)
        self.attempt = attempt
        self.existing = config.get("container")
        if self.existing is not None and (not isinstance(self.existing, str) or not self.existing):
            raise ConfigError(f"docker container is the name of a running container, got {self.existing!r}")
        for key in ("workdir", "name"):
            if config.get(key) is not None and not isinstance(config[key], str):
                raise ConfigError(f"docker {key} must be a text, got {config[key]!r}")
        # limits, user, platform: the container's (an existing one's own: only `user`, for the exec)
        self.settings = _docker().read_settings(config, "docker")
        self.user: str | None = self.settings.get("user")
        if self.existing is not None and set(self.settings) - {"user"}:
            raise ConfigError("docker container (a running one) takes no limits nor platform")

    async def run(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, project_dir: Path,
                  sink: Any) -> int:
        plugin = _docker()
        client = await plugin._call(plugin._client)
        if self.existing is not None:
            container, workdir = self.existing, self.config.get("workdir")
        else:
            container, workdir = await self._shared(client, project_dir), self.config.get("workdir") or str(cwd)
        # Host files the command names outside the project (a long script, py>'s runtime and request)
        # are copied in; one it is to write (py>'s result), in a folder of those, is copied back.
        back = []
        for arg in argv[1:]:
            if not os.path.isabs(arg) or Path(arg).is_relative_to(project_dir):
                continue
            if os.path.isfile(arg):
                await plugin._call(_copy_in, client, container, arg)
            elif not os.path.exists(arg) and os.path.isdir(os.path.dirname(arg)):
                back.append(arg)
        code = await exec_in(client, container, argv, env=env, workdir=workdir, user=self.user, sink=sink)
        for path in back:
            await plugin._call(_copy_out, client, container, path)
        return code

    async def _shared(self, client: Any, project_dir: Path) -> str:
        """The attempt's container of this configuration, created by its first command."""
        key = json.dumps(self.config, sort_keys=True, default=str)
        containers = _attempts.setdefault(self.attempt, {})
        future = containers.get(key)
        if future is None:
            future = containers[key] = asyncio.ensure_future(self._create(client, project_dir))
        try:
            return await asyncio.shield(future)
        except Exception:
            if future.done() and containers.get(key) is future:  # not created: a retry tries again
                del containers[key]
            raise

    async def _create(self, client: Any, project_dir: Path) -> str:
        import docker

        plugin = _docker()
        config = self.config
        image = config.get("image")
        if not isinstance(image, str) or not image:
            raise ConfigError("docker shared: true needs an image")
        volumes = {str(project_dir): {"bind": str(project_dir), "mode": "rw"},
                   **plugin.read_volumes(config.get("volumes"), project_dir, "docker")}
        pull = plugin._pull_policy(config.get("pull", "always" if config.get("pull_always") else "missing"))
        try:
            await plugin._call(plugin._ensure_image, client, image, pull, self.settings.get("platform"))
            container = await plugin._call(
                client.containers.create, image, [KEEPALIVE], entrypoint=["/bin/sh", "-c"], detach=True,
                labels={LABEL: self.attempt}, init=True, volumes=volumes, network_mode=config.get("network"),
                name=config.get("name"), working_dir=config.get("workdir"),
                **{k: v for k, v in self.settings.items() if k != "user"},  # user: each exec's (the
            )  # container's init, run as a user, may not be allowed to start)
        except docker.errors.DockerException as e:
            reason = getattr(e, "explanation", None) or e
            raise TaskError(f"docker: can't create the shared container of '{image}': {reason}") from None
        try:
            await plugin._call(container.start)
        except docker.errors.DockerException as e:
            await plugin._call(_remove, container)
            reason = getattr(e, "explanation", None) or e
            raise TaskError(f"docker: can't start the shared container of '{image}': {reason}") from None
        log.debug("attempt %s: shared container %s of %s", self.attempt, container.short_id, image)
        return str(container.id)


async def exec_in(client: Any, container: str, argv: Sequence[str], *, env: Mapping[str, str],
                  workdir: str | None, user: str | None, sink: Any) -> int:
    """Run `argv` in a running container with `docker exec`, streaming its output to `sink`; returns
    its exit code. Canceled: the command (and what it started) is stopped inside the container."""
    import docker

    plugin = _docker()
    mark = uuid.uuid4().hex
    try:
        exec_id = (await plugin._call(
            client.api.exec_create, container, list(argv), environment={**env, EXEC_MARK: mark},
            workdir=workdir, user=user or "",
        ))["Id"]
    except docker.errors.NotFound:
        raise TaskError(f"docker: there is no container {container!r} to run the command in") from None
    except docker.errors.DockerException as e:
        raise TaskError(f"docker: can't run the command in container {container!r}: {e}") from None
    loop = asyncio.get_running_loop()

    def pump() -> None:
        pending = {"stdout": b"", "stderr": b""}
        for out, err in client.api.exec_start(exec_id, stream=True, demux=True):
            for stream, chunk in (("stdout", out), ("stderr", err)):
                if not chunk:
                    continue
                data = pending[stream] + chunk
                cut = data.rfind(b"\n") + 1
                if cut:
                    loop.call_soon_threadsafe(sink, data[:cut].decode("utf-8", "replace"), stream)
                pending[stream] = data[cut:]
        for stream, rest in pending.items():
            if rest:
                loop.call_soon_threadsafe(sink, rest.decode("utf-8", "replace") + "\n", stream)

    streaming = loop.run_in_executor(plugin._pool, pump)
    try:
        await asyncio.shield(streaming)
    except asyncio.CancelledError:
        await asyncio.shield(_stop(client, container, mark, user, streaming))
        raise
    except docker.errors.DockerException as e:
        raise TaskError(f"docker: the command in container {container!r} failed to run: {e}") from None
    code = (await plugin._call(client.api.exec_inspect, exec_id)).get("ExitCode")
    return 1 if code is None else int(code)


async def _stop(client: Any, container: str, mark: str, user: str | None, streaming: Awaitable[Any]) -> None:
    """SIGTERM to the processes of an exec, SIGKILL if they are still there after STOP_SECONDS."""
    plugin = _docker()
    for signal in ("TERM", "KILL"):
        try:
            kill = (await plugin._call(client.api.exec_create, container, ["/bin/sh", "-c", _KILL, "sh", mark, signal],
                                       user=user or ""))["Id"]
            await plugin._call(client.api.exec_start, kill)
        except Exception as e:  # the container is gone: so is the command
            log.debug("stopping a command in %s: %s", container, e)
            return
        try:
            await asyncio.wait_for(asyncio.shield(streaming), STOP_SECONDS)
            return
        except TimeoutError:
            continue
        except Exception:
            return


def _copy_in(client: Any, container: str, path: str) -> None:
    """Put a host file into the container at the same path."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        folder = os.path.dirname(path)
        tar.add(folder, arcname=folder.lstrip("/"), recursive=False)  # its folder, private as it is here
        tar.add(path, arcname=path.lstrip("/"))
    client.api.put_archive(container, "/", data.getvalue())


def _copy_out(client: Any, container: str, path: str) -> None:
    """Copy a file the command wrote in the container to the same path here (if it wrote it)."""
    import docker

    try:
        stream, _stat = client.api.get_archive(container, path)
    except docker.errors.NotFound:
        return
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        source = tar.extractfile(member) if member is not None and member.isfile() else None
        if source is not None:
            with open(path, "wb") as f:
                f.write(source.read())


def _remove(container: Any, keep: bool = False) -> None:
    import docker

    try:
        if keep:
            container.stop(timeout=STOP_SECONDS)
        else:
            container.remove(force=True)
    except docker.errors.NotFound:
        pass


async def _release(attempt: str, futures: list[asyncio.Future[str]], keep: list[bool]) -> None:
    plugin = _docker()
    client = await plugin._call(plugin._client)
    for future, kept in zip(futures, keep, strict=True):
        try:  # one still being created (its first task was canceled meanwhile) is waited for
            container_id = await future
        except BaseException:  # never created
            continue
        try:
            container = await plugin._call(client.containers.get, container_id)
            await plugin._call(_remove, container, kept)
        except Exception as e:
            log.warning("attempt %s: could not remove its shared container: %s", attempt, e)


@hookimpl
def digpy_attempt_ended(attempt: str) -> Awaitable[None] | None:
    containers = _attempts.pop(attempt, None)
    if not containers:
        return None
    keep = [bool(json.loads(key).get("keep")) for key in containers]
    return _release(attempt, list(containers.values()), keep)


@hookimpl
def digpy_attempt_stale(attempts: Sequence[str]) -> None:
    if not (os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")):
        return  # no Docker engine here: nothing can have been left in one
    import docker

    try:
        client = docker.from_env(timeout=10)
        try:
            _remove_labelled(client, attempts)
        finally:
            client.close()
    except docker.errors.DockerException as e:
        log.warning("could not look for the containers of attempts %s: %s", ", ".join(attempts), e)


def _remove_labelled(client: Any, attempts: Sequence[str]) -> None:
    for attempt in attempts:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL}={attempt}"}):
            log.info("attempt %s: removing the shared container %s its dead runner left", attempt, container.short_id)
            _remove(container)
