"""Dagu's `container:` (v1.30), at DAG level and at step level, read into a step's executor.

DAG level: one container for the run, which every step without an executor of its own runs in
(`sh>` with the engine's `docker: {shared: true}`: created by the first command, `docker exec` for
each, removed when the attempt ends, kept stopped with `keepContainer`). Step level: the step runs
in a container of its own image, as `executor: docker` does. At either level `container: NAME` or
`exec: NAME` runs the commands in an existing container. `env` is set like the step's env, and
`workingDir` is where the commands start. Keys and modes digpy does not have yet (`ports`,
`startup` other than keepalive, ...) are located "not yet" errors.
"""

from __future__ import annotations

from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.executor import Executor
from digpy.core.language.dagu.schema import normalized
from digpy.core.workflow.located import key_location, value_location

_KEYS = ("image", "exec", "name", "pullPolicy", "env", "volumes", "user", "workingDir", "workDir", "network",
         "platform", "keepContainer", "startup", "waitFor")
_NOT_YET = ("ports", "command", "logPattern", "restartPolicy")
_STEP_NOT_YET = ("name", "keepContainer")  # a step's own container: sh>'s plain docker option
_EXEC_ONLY = ("exec", "user", "workingDir", "workDir", "env")


def read_container(value: Any, location: Location | None, *, shared: bool) -> Executor:
    """The executor of DAG-level (`shared`) or step-level `container:` written at `location`."""
    what = "container" if shared else "step container"
    if isinstance(value, str):
        if not value.strip():
            raise ConfigError(f"{what} is an image's settings or the name of a running container", location=location)
        return Executor("docker", docker={"container": value.strip()}, env={})
    config = normalized(value, what, _KEYS, _NOT_YET if shared else _NOT_YET + _STEP_NOT_YET, location)
    for key, modes in (("startup", ("keepalive",)), ("waitFor", ("running",))):
        mode = config.get(key)
        if mode is not None and str(mode).strip().lower() not in modes:
            raise ConfigError(f"{what}: {key} {mode!r} is not supported yet by digpy",
                              location=value_location(config, key), hint=f"digpy has {key}: {modes[0]}")
    env = _env(config.get("env"), value_location(config, "env"))
    workdir = config.get("workingDir", config.get("workDir"))
    if workdir is not None and (not isinstance(workdir, str) or not workdir):
        raise ConfigError(f"{what}: workingDir must be a directory", location=value_location(config, "workingDir"))
    docker: dict[str, Any] = {}
    if config.get("exec") is not None:
        extra = [k for k in config if k not in _EXEC_ONLY]
        if extra:
            raise ConfigError(f"{what}: '{extra[0]}' can't be used with exec (a running container)",
                              location=key_location(config, extra[0]))
        if not isinstance(config["exec"], str) or not config["exec"].strip():
            raise ConfigError(f"{what}: exec is the name of a running container", location=value_location(config, "exec"))
        docker["container"] = config["exec"].strip()
    else:
        image = config.get("image")
        if not isinstance(image, str) or not image.strip():
            raise ConfigError(f"{what} needs an image (or exec: the name of a running container)",
                              location=key_location(config, "image") or location)
        docker["image"] = image.strip()
        docker["pull"] = _pull(config.get("pullPolicy"), value_location(config, "pullPolicy"))
        volumes = config.get("volumes")
        if volumes is not None:
            docker["volumes"] = _volumes(volumes, value_location(config, "volumes"))
        for key in ("network", "platform"):
            if config.get(key) is not None:
                docker[key] = str(config[key])
        if shared:
            docker["shared"] = True
            if config.get("keepContainer") is not None:
                if not isinstance(config["keepContainer"], bool):
                    raise ConfigError("container: keepContainer is true or false",
                                      location=value_location(config, "keepContainer"))
                if config["keepContainer"]:
                    docker["keep"] = True
            if config.get("name") is not None:
                docker["name"] = str(config["name"])
    if config.get("user") is not None:
        docker["user"] = str(config["user"])
    if workdir is not None and (shared or "container" in docker):
        docker["workdir"] = workdir
    return Executor("docker", docker=docker, env=env, workdir=workdir)


def _env(value: Any, location: Location | None) -> dict[str, str]:
    """`env: [K=V, ...]` or `{K: V}`."""
    if value is None:
        return {}
    items = value.items() if isinstance(value, dict) else value if isinstance(value, list) else None
    if items is None:
        raise ConfigError("container env is a list of KEY=VALUE or a mapping", location=location)
    env: dict[str, str] = {}
    for item in items:
        if isinstance(item, tuple):
            key, text = str(item[0]), "" if item[1] is None else str(item[1])
        elif isinstance(item, dict) and len(item) == 1:
            (key, text), = ((str(k), "" if v is None else str(v)) for k, v in item.items())
        else:
            key, sep, text = str(item).partition("=")
            if not sep:
                raise ConfigError(f"container env entries are KEY=VALUE, got {item!r}", location=location)
        env[key] = text
    return env


def _pull(value: Any, location: Location | None) -> str:
    if value is None:
        return "missing"
    text = str(value).strip().lower()
    pull = {"true": "always", "false": "never", "": "missing"}.get(text, text)
    if pull not in ("missing", "always", "never"):
        raise ConfigError("container pullPolicy is always, missing, never, true or false", location=location)
    return pull


def _volumes(value: Any, location: Location | None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v.split(":")) in (2, 3) for v in value):
        raise ConfigError("container volumes are a list of host:container[:ro]", location=location)
    for volume in value:
        if not volume.startswith(("/", ".")):
            raise ConfigError(f"container volumes: '{volume.split(':')[0]}' (a named volume, or a path from ~) is not "
                              "supported yet by digpy", location=location,
                              hint="bind a host path: /host/dir:/in/container, or ./dir (in the project)")
    return list(value)
