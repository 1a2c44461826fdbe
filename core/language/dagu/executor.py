"""A Dagu step's executor (`executor: docker`, `executor: {type, config}`, or v1.30's `type` + `config`,
v2's `type` + `with`), read into what the step compiles to.

`shell` (the default) is `sh>`; `docker` is `sh>` run in a container of the image (the engine's
command executor: the project is mounted at its own path, the step's variables are set as for any
shell step); `http` is `http>` with the method and URL of `command`; `dag` runs the child DAG named
in `command`. Every other type is a located "not yet".
"""

from __future__ import annotations

from typing import Any, NamedTuple

from digpy.core.errors import ConfigError, Location
from digpy.core.workflow.located import ConfigMap, key_location, value_location

SHELL_TYPES = ("shell", "command")
CHILD_TYPES = ("dag", "subworkflow", "parallel")
NOT_YET = ("mail", "ssh", "sftp", "k8s", "kubernetes", "s3", "postgres", "sqlite", "redis",
           "archive", "template", "router", "chat", "agent", "harness", "noop", "gha", "github_action")
_HTTP_KEYS = ("timeout", "headers", "query", "body", "silent")
_DOCKER_KEYS = ("image", "pull", "autoRemove", "auto_remove", "container", "host", "volumes")
_CONTAINER_KEYS = ("env", "workingDir", "working_dir")
_HOST_KEYS = ("networkMode", "network_mode", "binds")


class Executor(NamedTuple):
    kind: str  # "shell", "docker", "http", "jq" or "dag"
    docker: dict[str, Any] | None = None  # sh>'s `docker:` option
    env: dict[str, str] | None = None  # container env: set like the step's env
    workdir: str | None = None  # the container's working directory
    http: dict[str, Any] | None = None  # the http executor's config (its keys checked)
    raw: bool = False  # the jq executor's `raw`


SHELL = Executor("shell")


def read_executor(step: ConfigMap) -> Executor:
    """The executor of a step (its `executor`, or its `type` with `config`/`with`)."""
    kind: Any
    config: Any
    if step.get("executor") is not None:
        value = step["executor"]
        loc = value_location(step, "executor")
        if isinstance(value, str):
            kind, config = value, {}
        elif isinstance(value, dict):
            unknown = [k for k in value if k not in ("type", "config")]
            if unknown:
                raise ConfigError(f"executor: unknown key '{unknown[0]}'", location=key_location(value, unknown[0]),
                                  hint="an executor has type and config")
            kind, config = value.get("type"), value.get("config") or {}
        else:
            raise ConfigError("executor must be a type (docker) or {type, config}", location=loc)
    elif step.get("type") is not None:
        kind, loc = step["type"], value_location(step, "type")
        config = step.get("config") if step.get("config") is not None else step.get("with") or {}
    else:
        for key in ("config", "with"):
            if step.get(key) is not None:
                raise ConfigError(f"{key} is the configuration of an executor: give the step a type",
                                  location=key_location(step, key))
        return SHELL
    if not isinstance(kind, str) or not kind:
        raise ConfigError("an executor type is a name such as docker", location=loc)
    if not isinstance(config, dict):
        raise ConfigError(f"the {kind} executor's config must be a mapping", location=loc)
    if kind in SHELL_TYPES:
        if config:
            raise ConfigError(f"the {kind} executor has no config", location=loc)
        return SHELL
    if kind in CHILD_TYPES:
        return Executor("dag")
    if kind == "docker":
        return _docker(config, loc)
    if kind == "http":
        _known(config, _HTTP_KEYS, "http executor config", loc)
        return Executor("http", http=dict(config))
    if kind == "jq":
        _known(config, ("raw",), "jq executor config", loc)
        if not isinstance(config.get("raw", False), bool):
            raise ConfigError("the jq executor's raw is true or false", location=loc)
        return Executor("jq", raw=config.get("raw", False))
    if kind in NOT_YET:
        raise ConfigError(f"the {kind} executor is not supported yet by digpy", location=loc,
                          hint="run the command with a shell step, or see docs/dagu.md")
    raise ConfigError(f"unknown executor type '{kind}'", location=loc,
                      hint="digpy runs shell (the default), docker and dag steps")


def _docker(config: dict[str, Any], loc: Location | None) -> Executor:
    _known(config, _DOCKER_KEYS, "docker executor config", loc)
    image = config.get("image")
    if not isinstance(image, str) or not image:
        raise ConfigError("the docker executor needs an image (digpy runs the step's command in it)", location=loc)
    pull = config.get("pull", "missing")
    pull = {True: "always", False: "never"}.get(pull, pull) if isinstance(pull, bool) else pull
    if pull not in ("missing", "always", "never"):
        raise ConfigError("docker pull must be true, false, missing, always or never", location=loc)
    docker: dict[str, Any] = {"image": image, "pull": pull}
    container = config.get("container") or {}
    host = config.get("host") or {}
    if not isinstance(container, dict) or not isinstance(host, dict):
        raise ConfigError("docker container and host are mappings", location=loc)
    _known(container, _CONTAINER_KEYS, "docker container", loc)
    _known(host, _HOST_KEYS, "docker host", loc)
    network = host.get("networkMode", host.get("network_mode"))
    if network is not None:
        docker["network"] = str(network)
    env: dict[str, str] = {}
    raw_env = container.get("env") or []
    for item in (raw_env.items() if isinstance(raw_env, dict) else raw_env):
        key, value = item if isinstance(item, tuple) else (str(item).partition("=")[0], str(item).partition("=")[2])
        env[str(key)] = "" if value is None else str(value)
    volumes = [*(config.get("volumes") or []), *(host.get("binds") or [])]  # v2's volumes, v1's host.binds
    if volumes:
        if not all(isinstance(v, str) and len(v.split(":")) in (2, 3) for v in volumes):
            raise ConfigError("docker volumes are a list of host:container[:ro]", location=loc)
        docker["volumes"] = volumes
    workdir = container.get("workingDir", container.get("working_dir"))
    return Executor("docker", docker=docker, env=env, workdir=None if workdir is None else str(workdir))


def _known(config: dict[str, Any], keys: tuple[str, ...], what: str, loc: Location | None) -> None:
    unknown = [k for k in config if k not in keys]
    if unknown:
        raise ConfigError(f"{what}: '{unknown[0]}' is not supported yet by digpy",
                          location=key_location(config, unknown[0]) or loc,
                          hint="supported: " + ", ".join(keys))
